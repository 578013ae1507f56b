"""Security headers on every page (a crawl of the URLconf as an Administrator), no inline scripts, sessions."""

import datetime
import json
import os
import re
import subprocess
import sys

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from provisioning.middleware import LAST_ACTIVITY, POLL_HEADER
from tests.views.test_no_server_errors import ROUTES, urls_for, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on…= event handler"),
    (re.compile(r"\shx-on[:-]", re.I), "an hx-on handler (htmx would need eval)"),
    (re.compile(r"\sstyle\s*=", re.I), "an inline style attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def assert_headers(response, url):
    headers = response.headers
    assert headers.get("Content-Security-Policy") == POLICY, url
    assert headers.get("X-Frame-Options") == "DENY", url
    assert headers.get("Referrer-Policy") == "same-origin", url
    assert headers.get("X-Content-Type-Options") == "nosniff", url


def assert_no_inline_script(response, url):
    if "html" not in response.headers.get("Content-Type", ""):
        return
    html = response.content.decode()
    # JSON data blocks (type="application/json") are not scripts the browser runs.
    html = re.sub(r"<script[^>]*type=\"application/json\"[^>]*>.*?</script>", "", html, flags=re.S)
    for pattern, what in INLINE:
        found = pattern.search(html)
        assert not found, f"{url} has {what}: …{html[max(found.start() - 80, 0):found.end() + 80]}…"


@pytest.fixture
def admin_crawler(admin_user):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("name, params", ROUTES, ids=[name for name, _ in ROUTES])
def test_every_page_sends_the_security_headers_and_no_inline_script(admin_crawler, world, name, params):  # noqa: F811
    for url in urls_for(name, params, world):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = admin_crawler.get(url, **headers)
            assert_headers(response, url)
            assert_no_inline_script(response, url)


@pytest.mark.parametrize("url", ["/login/", "/admin/", "/admin/provisioning/directoryuser/", "/admin/auth/user/",
                                 "/no/such/page/", "/?q=%00"])
def test_the_other_pages_too(admin_crawler, url):
    response = admin_crawler.get(url)
    assert_headers(response, url)
    if not url.startswith("/admin/"):  # Django's admin is Django's (it runs under this CSP too: see the browser test)
        assert_no_inline_script(response, url)


def test_every_admin_page_sends_them(admin_crawler):
    from django.contrib import admin

    urls = []
    for model in admin.site._registry:
        meta = model._meta
        urls += [reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"), reverse(f"admin:{meta.app_label}_{meta.model_name}_add")]
    assert len(urls) >= 10
    for url in urls:
        response = admin_crawler.get(url)
        assert response.status_code in (200, 403), url
        assert_headers(response, url)


def test_signed_out_pages_and_redirects_send_them(client):
    for url in ("/", "/login/"):
        assert_headers(client.get(url), url)


def test_hsts_only_over_https(admin_crawler):
    plain = admin_crawler.get("/")
    assert "Strict-Transport-Security" not in plain.headers
    secure = admin_crawler.get("/", secure=True)
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def settings_in_a_new_process(**env):
    code = ("import json; from django.conf import settings; import django; django.setup(); print(json.dumps({k: getattr(settings, k) "
            "for k in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
            "'SESSION_COOKIE_AGE')}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **env})
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_settings_come_from_the_environment():
    plain = settings_in_a_new_process(PORTAL_HTTPS="")
    assert (plain["SESSION_COOKIE_SECURE"], plain["CSRF_COOKIE_SECURE"], plain["SECURE_SSL_REDIRECT"]) == (False, False, False)
    assert plain["SESSION_COOKIE_AGE"] == 8 * 3600
    https = settings_in_a_new_process(PORTAL_HTTPS="true", PORTAL_SESSION_IDLE_MINUTES="30")
    assert (https["SESSION_COOKIE_SECURE"], https["CSRF_COOKIE_SECURE"], https["SECURE_SSL_REDIRECT"]) == (True, True, True)
    assert https["SESSION_COOKIE_AGE"] == 30 * 60


def session_expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def idle_until(client, when):
    """As if the last click was SESSION_COOKIE_AGE before when."""
    session = client.session
    session[LAST_ACTIVITY] = int((when - datetime.timedelta(hours=8)).timestamp())
    session.save()
    Session.objects.filter(session_key=session.session_key).update(expire_date=when)


def test_the_session_ends_after_hours_without_a_request_and_polling_does_not_count(admin_crawler, settings):
    admin_crawler.get("/")
    assert session_expiry(admin_crawler) > timezone.now() + datetime.timedelta(hours=7, minutes=59)

    # Seven hours idle: an Overview left open keeps polling, which does not keep the session alive.
    soon = timezone.now() + datetime.timedelta(hours=1)
    idle_until(admin_crawler, soon)
    assert admin_crawler.get("/", **{f"HTTP_{POLL_HEADER.upper().replace('-', '_')}": "1"}).status_code == 200
    assert session_expiry(admin_crawler) == soon
    # The person clicks: eight hours from now again.
    admin_crawler.get("/")
    assert session_expiry(admin_crawler) > timezone.now() + datetime.timedelta(hours=7, minutes=59)

    # Eight hours without a click: signed out.
    idle_until(admin_crawler, timezone.now() - datetime.timedelta(seconds=1))
    response = admin_crawler.get("/")
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_password_change_ends_the_other_sessions(admin_user):
    elsewhere = Client()
    elsewhere.force_login(admin_user)
    assert elsewhere.get("/").status_code == 200
    admin_user.set_password("a new password for this admin")
    admin_user.save()
    response = elsewhere.get("/")
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
