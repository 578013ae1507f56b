"""Request checks that every view would otherwise repeat."""

from django.http import JsonResponse
from django.shortcuts import render


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
