"""Request checks that every view would otherwise repeat."""

import time

from django.http import JsonResponse
from django.shortcuts import render

# Requests a page sends by itself (hx-headers on the polling regions), not the person.
POLL_HEADER = "X-Portal-Poll"
LAST_ACTIVITY = "portal_last_activity"


class RejectNulCharacters:
    """Answer 400 with an explanation when a query or form value holds a NUL character.

    No field accepts one, and PostgreSQL refuses it in text outright (a 500 in whichever view passed
    it to a query); Django's form fields check it, raw query parameters do not.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for source, data in (("address", request.GET), ("form", request.POST)):
            for name, values in data.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    problem = (
                        f"The {source} field “{_shown(name)}” contains a NUL character (\\x00), which no "
                        "field accepts. Remove it — it usually comes from pasting binary text — and try again."
                    )
                    if request.path.startswith("/api/"):
                        from provisioning.api.errors import body  # the API answers in Graph's error shape

                        return JsonResponse(body(request, 400, "BadRequest", problem), status=400)
                    return render(request, "400.html", {"problem": problem}, status=400)
        return self.get_response(request)


def _shown(name):
    # The field's name as the person knows it: without the NUL, and short (a name is typed by a script here).
    name = name.replace("\x00", "")
    return name if len(name) <= 60 else name[:59] + "…"


class SessionIdleTimeout:
    """A session lasts SESSION_COOKIE_AGE after the person's last request, not after sign-in.

    Django's SESSION_SAVE_EVERY_REQUEST would also count a page's polling (the Overview while a cycle runs),
    so an open tab would keep the session alive for ever. The expiry moves on at most once a minute.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated and POLL_HEADER not in request.headers:
            now = int(time.time())
            if now - session.get(LAST_ACTIVITY, 0) >= 60:
                session[LAST_ACTIVITY] = now  # saved with a fresh expiry, and the cookie sent again
        return self.get_response(request)


def note_sign_in(sender, request, user, **kwargs):
    """Signing in is activity: the first requests after it need not save the session again."""
    request.session[LAST_ACTIVITY] = int(time.time())
