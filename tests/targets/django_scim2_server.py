"""django-scim2 as a SCIM server: a one-file Django project on 127.0.0.1 with its own SQLite file.

    <venv with django-scim2>/bin/python tests/targets/django_scim2_server.py --port 8091 --token T --db /tmp/x.sqlite3

Base URL http://127.0.0.1:PORT/scim/v2. A bearer token is the only way in (a middleware logs the request in
as a staff user); it stops by itself when the process that started it ends."""

import argparse
import os
import sys
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings
from django.urls import include, path

urlpatterns = []  # filled once settings are configured (django_scim.urls reads them on import)
TOKEN = ""


class BearerToken:
    """Logs a request carrying the token in as the SCIM client; anything else stays anonymous (→ 401)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import AnonymousUser

        if request.headers.get("Authorization") == f"Bearer {TOKEN}":
            request.user = get_user_model().objects.get(username="scim-client")
        else:
            request.user = AnonymousUser()
        return self.get_response(request)


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def stop_with_parent():
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    global TOKEN
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    TOKEN = args.token
    settings.configure(
        DEBUG=False, ALLOWED_HOSTS=["127.0.0.1", "localhost"], SECRET_KEY="django-scim2-test-target",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": args.db}},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django_scim", "django_scim2_app"],
        AUTH_USER_MODEL="django_scim2_app.User",
        MIDDLEWARE=["__main__.BearerToken", "django_scim.middleware.SCIMAuthCheckMiddleware"],
        ROOT_URLCONF="__main__", USE_TZ=True,
        LOGGING={"version": 1, "disable_existing_loggers": False, "handlers": {"stderr": {"class": "logging.StreamHandler"}},
                 "loggers": {"django_scim": {"handlers": ["stderr"], "level": "ERROR"}}},
        SCIM_SERVICE_PROVIDER={
            "NETLOC": f"127.0.0.1:{args.port}",
            "GROUP_MODEL": "django_scim2_app.models.Group",
            "AUTHENTICATION_SCHEMES": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
                                        "description": "Authentication scheme using the OAuth Bearer Token Standard"}],
        },
    )
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # django_scim2_app beside this file
    django.setup()
    urlpatterns.append(path("scim/v2/", include("django_scim.urls")))
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
    get_user_model().objects.get_or_create(username="scim-client", defaults={"is_staff": True, "is_superuser": True})
    stop_with_parent()
    server = make_server("127.0.0.1", args.port, get_wsgi_application(), server_class=Server, handler_class=QuietHandler)
    print(f"serving on http://127.0.0.1:{args.port}/scim/v2", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
