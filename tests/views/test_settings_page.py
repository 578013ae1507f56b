"""The Provisioning page: Entra's classic flow, its validation, the write-only Secret Token, Test Connection."""

import html

import pytest
from django.urls import NoReverseMatch, reverse

from provisioning.models import Application, ProvisioningCycle
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = "tok-7f3c9a1b-DISTINCTIVE-secret-4e2d"
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(app):
    return reverse("apps:provisioning", args=[app.id])


def connection_url(app):
    return reverse("apps:test_connection", args=[app.id])




def settings_data(**overrides):
    data = {
        "provisioning_mode": "automatic",
        "tenant_url": "https://app.example.com/scim/v2",
        "secret_token": "",
        "notification_email": "",
        "scope": "assigned",
        "provisioning_status": "off",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def manual_app(db):
    return factories.ApplicationFactory(
        name="Contoso HR", provisioning_mode=Application.Mode.MANUAL, tenant_url="", secret_token="", notification_email=""
    )


@pytest.fixture
def automatic_app(db):
    return factories.ApplicationFactory(name="Contoso HR", secret_token=TOKEN)


# ---- Access ----------------------------------------------------------------------------------


def test_administrators_see_every_section(admin_client, automatic_app):
    response = admin_client.get(url(automatic_app))
    assert response.status_code == 200
    body = response.content.decode()
    for text in [
        "Provisioning Mode", "Admin Credentials", "Tenant URL", "Secret Token", "Entra-compatible requests",
        "Test Connection", "Mappings", "Notification Email", "Send an email notification when a failure occurs",
        "Sync only assigned users and groups", "Sync all users and groups", "Provisioning Status", "Save", "Discard",
    ]:
        assert text in body, text
    assert automatic_app.tenant_url in body


def test_helpdesk_gets_403_on_every_request(helpdesk_client, automatic_app):
    assert helpdesk_client.get(url(automatic_app)).status_code == 403
    assert helpdesk_client.post(url(automatic_app), settings_data()).status_code == 403
    assert helpdesk_client.post(connection_url(automatic_app), {"tenant_url": "https://x.example"}, **HTMX).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, automatic_app):
    for response in (client.get(url(automatic_app)), client.post(connection_url(automatic_app))):
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_unknown_app_is_404(admin_client):
    assert admin_client.get("/apps/987654/provisioning/").status_code == 404


def test_it_lists_the_object_mappings_read_only(admin_client, automatic_app):
    body = admin_client.get(url(automatic_app)).content.decode()
    users = automatic_app.object_mappings.get(object_type="user")
    assert "Provision Directory Users" in body and "Provision Directory Groups" in body
    assert users.target_object in body
    assert f'<td class="num">{users.attribute_mappings.count()}</td>' in body
    try:
        href = reverse("apps:mappings", kwargs={"app_id": automatic_app.id, "object_type": "user"})
    except NoReverseMatch:
        href = None
    if href:
        assert f'href="{href}"' in body


# ---- Saving ---------------------------------------------------------------------------------


def test_it_saves_automatic_mode_with_credentials(admin_client, manual_app):
    response = admin_client.post(
        url(manual_app),
        settings_data(secret_token=TOKEN, notification_email="ops@contoso.example", notify_on_failure="on", entra_compatible="on"),
    )
    assert response.status_code == 302 and response["Location"] == url(manual_app)
    manual_app.refresh_from_db()
    assert manual_app.provisioning_mode == Application.Mode.AUTOMATIC
    assert manual_app.tenant_url == "https://app.example.com/scim/v2"
    assert manual_app.get_secret_token() == TOKEN
    assert TOKEN not in manual_app.secret_token_encrypted
    assert manual_app.entra_compatible and manual_app.notify_on_failure
    assert manual_app.notification_email == "ops@contoso.example"
    follow = admin_client.get(url(manual_app)).content.decode()
    assert "Your provisioning settings are saved." in follow
    assert "A secret token is saved. Enter a new one to replace it." in follow


def test_a_blank_secret_token_keeps_the_saved_one(admin_client, automatic_app):
    response = admin_client.post(url(automatic_app), settings_data(tenant_url="https://other.example.com/scim/v2"))
    assert response.status_code == 302
    automatic_app.refresh_from_db()
    assert automatic_app.get_secret_token() == TOKEN
    assert automatic_app.tenant_url == "https://other.example.com/scim/v2"


def test_a_new_secret_token_replaces_the_saved_one(admin_client, automatic_app):
    admin_client.post(url(automatic_app), settings_data(secret_token="replacement-token"))
    automatic_app.refresh_from_db()
    assert automatic_app.get_secret_token() == "replacement-token"


# One check for Save and Test Connection (scim/tenant_url.py): what one refuses, the other refuses too.
# (A NUL character never reaches a form: the middleware answers 400, see tests/test_middleware.py.)
BAD_URLS = [
    "ftp://app.example.com/scim/v2", "app.example.com/scim/v2", "https://admin:pw@app.example.com/scim/v2",
    "https://app.example.com:0/scim/v2", "https://app.example.com:99999/scim/v2", "https://app..example.com/scim/v2",
    "https://app.example.com/scim/v2/Users", "https://app.example.com/scim/v2/Schemas", "https://app.example.com/scim/v2/Groups",
    "https://app.example.com/scim/v2/ServiceProviderConfig", "https://app.example.com/scim/v2/ResourceTypes",
    "https://app.example.com/scim/v2?aadOptscim062020", "https://app.example.com/\u202ev2",
]
BAD_TOKENS = [
    "Bearer abc", " abc", "abc ", "abc\n", "ab\r\ncd", "ab cd", "********", "••••••••", "****a1b2", "<token>", "tökén",
]


@pytest.mark.parametrize("bad_url", BAD_URLS)
def test_save_refuses_every_tenant_url_test_connection_refuses(admin_client, automatic_app, bad_url):
    from provisioning.scim.connection import check_connection

    saved = automatic_app.tenant_url
    tested = check_connection(bad_url, "abc")
    assert (tested.ok, tested.code) == (False, "InvalidTenantUrl")

    response = admin_client.post(url(automatic_app), settings_data(tenant_url=bad_url))
    body = response.content.decode()
    assert response.status_code == 200 and "Your settings were not saved." in body
    from django.utils.html import escape

    assert escape(tested.message) in body
    automatic_app.refresh_from_db()
    assert automatic_app.tenant_url == saved


@pytest.mark.parametrize("bad_token", BAD_TOKENS)
def test_save_refuses_every_token_test_connection_refuses(admin_client, automatic_app, bad_token):
    from django.utils.html import escape

    from provisioning.scim.connection import check_connection

    tested = check_connection("https://app.example.com/scim/v2", bad_token)
    assert (tested.ok, tested.code) == (False, "InvalidSecretToken")
    body = admin_client.post(url(automatic_app), settings_data(secret_token=bad_token)).content.decode()
    assert "Your settings were not saved." in body and escape(tested.message) in body
    automatic_app.refresh_from_db()
    assert automatic_app.get_secret_token() == TOKEN  # neither replaced nor trimmed and saved


def test_a_password_in_the_tenant_url_is_refused_and_never_shown_back(admin_client, automatic_app):
    typed = "https://admin:hunter2-DISTINCTIVE@app.example.com/scim/v2"
    body = admin_client.post(url(automatic_app), settings_data(tenant_url=typed)).content.decode()
    assert "contains a user name or password" in body
    assert "hunter2-DISTINCTIVE" not in body
    assert 'value="https://app.example.com/scim/v2"' in body  # the URL is shown back without it
    tested = admin_client.post(connection_url(automatic_app), {"tenant_url": typed, "secret_token": ""}, **HTMX).content.decode()
    assert "contains a user name or password" in tested and "hunter2-DISTINCTIVE" not in tested


def test_a_single_label_host_is_saved(admin_client, automatic_app):
    response = admin_client.post(url(automatic_app), settings_data(tenant_url="http://scim-target:8080/scim/v2"))
    assert response.status_code == 302
    automatic_app.refresh_from_db()
    assert automatic_app.tenant_url == "http://scim-target:8080/scim/v2"


def test_it_saves_the_scope(admin_client, automatic_app):
    admin_client.post(url(automatic_app), settings_data(scope="all"))
    automatic_app.refresh_from_db()
    assert automatic_app.scope == Application.Scope.ALL


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            settings_data(tenant_url="", secret_token="abc"),
            "Tenant URL is required for Automatic provisioning: enter your app&#x27;s SCIM base URL, "
            "e.g. https://app.example.com/scim/v2",
        ),
        (
            settings_data(),
            "Secret Token is required for Automatic provisioning: enter the bearer token your app issued for provisioning.",
        ),
        (
            settings_data(tenant_url="not a url", secret_token="abc"),
            "The Tenant URL contains a space: retype it as one line without spaces. Enter your app&#x27;s SCIM base URL, "
            "e.g. https://app.example.com/scim/v2",
        ),
        (
            settings_data(secret_token="abc", notify_on_failure="on"),
            "Notification Email is required when “Send an email notification when a failure occurs” is on",
        ),
        (
            settings_data(secret_token="abc", notification_email="not-an-email"),
            "Notification Email is not a valid email address: enter one address, e.g. oncall@contoso.com",
        ),
        (
            settings_data(provisioning_mode="manual", tenant_url="", provisioning_status="on"),
            "Provisioning Status can be On only in Automatic mode: set Provisioning Mode to Automatic",
        ),
        (settings_data(provisioning_mode=None, secret_token="abc"), "Provisioning Mode is required: choose Manual or Automatic."),
        (settings_data(provisioning_status=None, secret_token="abc"), "Provisioning Status is required: choose On or Off."),
        (settings_data(scope="everyone", secret_token="abc"), "Scope is not one of the choices"),
    ],
)
def test_each_validation_error_names_the_field_and_the_fix(admin_client, manual_app, data, message):
    response = admin_client.post(url(manual_app), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your settings were not saved." in body
    assert message in body
    manual_app.refresh_from_db()
    assert manual_app.provisioning_mode == Application.Mode.MANUAL
    assert not manual_app.provisioning_enabled


def test_a_saved_token_satisfies_automatic_mode(admin_client, automatic_app):
    assert admin_client.post(url(automatic_app), settings_data()).status_code == 302


# ---- Automatic cannot go back to Manual -------------------------------------------------------


def test_manual_is_disabled_with_the_explanation_once_automatic_is_saved(admin_client, automatic_app):
    body = admin_client.get(url(automatic_app)).content.decode()
    assert 'value="manual" id="id_provisioning_mode_0" disabled' in body
    assert "To stop provisioning, set Provisioning Status to Off" in body


def test_manual_is_selectable_while_the_app_is_manual(admin_client, manual_app):
    body = admin_client.get(url(manual_app)).content.decode()
    assert 'value="manual" id="id_provisioning_mode_0" checked>' in body


def test_a_forged_post_back_to_manual_is_refused(admin_client, automatic_app):
    response = admin_client.post(url(automatic_app), settings_data(provisioning_mode="manual"))
    assert response.status_code == 200
    assert (
        "Provisioning Mode cannot go back to Manual once Automatic has been saved. "
        "To stop provisioning, set Provisioning Status to Off." in response.content.decode()
    )
    automatic_app.refresh_from_db()
    assert automatic_app.provisioning_mode == Application.Mode.AUTOMATIC


# ---- Provisioning Status through the engine ----------------------------------------------------


def test_switching_on_starts_provisioning_and_enqueues_the_cycle_on_commit(
    admin_client, admin_user, automatic_app, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(url(automatic_app), settings_data(provisioning_status="on"))
    assert response.status_code == 302
    automatic_app.refresh_from_db()
    assert automatic_app.provisioning_enabled
    cycle = automatic_app.cycles.get()
    assert cycle.state == ProvisioningCycle.State.QUEUED
    assert cycle.requested_by == admin_user
    assert len(callbacks) == 1
    assert "Provisioning Status is On" in admin_client.get(url(automatic_app)).content.decode()


def test_switching_off_stops_provisioning(admin_client, db):
    app = factories.ApplicationFactory(provisioning_enabled=True, job_status=Application.JobStatus.ACTIVE)
    queued = factories.ProvisioningCycleFactory(application=app)
    response = admin_client.post(url(app), settings_data(provisioning_status="off"))
    assert response.status_code == 302
    app.refresh_from_db()
    queued.refresh_from_db()
    assert not app.provisioning_enabled
    assert app.job_status == Application.JobStatus.PAUSED
    assert queued.state == ProvisioningCycle.State.STOPPED


def test_saving_with_status_unchanged_starts_nothing(admin_client, automatic_app):
    admin_client.post(url(automatic_app), settings_data())
    assert not automatic_app.cycles.exists()


# ---- The Secret Token never leaves the server ----------------------------------------------------


def test_the_secret_token_is_never_in_any_response(admin_client, automatic_app):
    bodies = [
        admin_client.get(url(automatic_app)),
        admin_client.post(url(automatic_app), settings_data(secret_token=TOKEN, tenant_url="")),  # error re-render
        admin_client.post(url(automatic_app), settings_data(secret_token=TOKEN, notify_on_failure="on")),
        admin_client.post(url(automatic_app), settings_data(secret_token=TOKEN), follow=True),  # saved, then the page
        admin_client.post(connection_url(automatic_app), {"tenant_url": "http://127.0.0.1:9/scim/v2", "secret_token": TOKEN}, **HTMX),
        admin_client.post(connection_url(automatic_app), {"tenant_url": "http://127.0.0.1:9/scim/v2", "secret_token": ""}, **HTMX),
        admin_client.post(connection_url(automatic_app), {"tenant_url": "", "secret_token": TOKEN}, **HTMX),
        admin_client.get(reverse("apps:list")),
    ]
    for response in bodies:
        assert response.status_code == 200
        assert TOKEN not in response.content.decode()


def test_the_token_input_is_never_prefilled(admin_client, automatic_app):
    body = admin_client.post(url(automatic_app), settings_data(secret_token="typed-but-invalid-form", tenant_url="")).content.decode()
    assert 'type="password" name="secret_token" id="id_secret_token" value=""' in body
    assert "typed-but-invalid-form" not in body


# ---- Test Connection ----------------------------------------------------------------------------


def test_test_connection_succeeds_against_the_real_scim_server(admin_client, scim_app):
    response = admin_client.post(connection_url(scim_app), {"tenant_url": scim_app.tenant_url, "secret_token": ""}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # the partial only: swapped in place, no page reload
    assert 'id="test-result"' in body
    assert "msgbar-success" in body
    assert "The supplied credentials are authorized to enable provisioning" in body


def test_test_connection_uses_the_typed_token_over_the_saved_one(admin_client, scim_server, scim_tenant_url):
    app = factories.ApplicationFactory(tenant_url=scim_tenant_url, secret_token="stale-token")
    body = admin_client.post(connection_url(app), {"tenant_url": scim_tenant_url, "secret_token": scim_server.token}, **HTMX).content.decode()
    assert "The supplied credentials are authorized to enable provisioning" in body
    assert scim_server.token not in body


def test_test_connection_failure_shows_message_fix_and_details_inline(admin_client, scim_app):
    wrong = "wrong-token-9d8e7f-DISTINCTIVE"
    response = admin_client.post(connection_url(scim_app), {"tenant_url": scim_app.tenant_url, "secret_token": wrong}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert "msgbar-error" in body
    assert "<strong>Fix:</strong>" in body
    assert "<dt>Checked</dt>" in body
    assert "authorized to enable provisioning" not in body
    assert wrong not in body


def test_test_connection_requires_a_tenant_url(admin_client, automatic_app):
    body = admin_client.post(connection_url(automatic_app), {"tenant_url": "  ", "secret_token": ""}, **HTMX).content.decode()
    assert "The connection was not tested." in body
    assert "Tenant URL is required to test the connection" in body


def test_test_connection_requires_a_token_when_none_is_saved(admin_client, manual_app):
    body = admin_client.post(connection_url(manual_app), {"tenant_url": "https://app.example.com/scim/v2"}, **HTMX).content.decode()
    assert "Secret Token is required to test the connection" in body


def test_test_connection_only_answers_post(admin_client, automatic_app):
    assert admin_client.get(connection_url(automatic_app)).status_code == 405


# ---- Settings > Advanced -----------------------------------------------------------------------


def test_advanced_settings_show_their_reasons(admin_client, automatic_app):
    body = admin_client.get(url(automatic_app)).content.decode()
    assert '<h3 id="advanced">Advanced</h3>' in body
    for text in ["Provisioning interval (minutes)", "Concurrent requests to the target", "Use SCIM bulk requests",
                 "from 5 minutes to 24 hours", "lower it for targets that rate-limit"]:
        assert text in body, text
    assert 'name="provisioning_interval_minutes" id="id_provisioning_interval_minutes" value="40" min="5" max="1440"' in body


def test_advanced_settings_are_saved(admin_client, automatic_app):
    response = admin_client.post(url(automatic_app), settings_data(provisioning_interval_minutes="15", max_concurrent_requests="4"))
    assert response.status_code == 302
    automatic_app.refresh_from_db()
    assert (automatic_app.provisioning_interval_minutes, automatic_app.max_concurrent_requests, automatic_app.use_bulk) == (15, 4, False)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("provisioning_interval_minutes", "2", "Provisioning interval must be at least 5 minutes"),
    ("provisioning_interval_minutes", "2000", "at most 1440 minutes (24 hours)"),
    ("provisioning_interval_minutes", "soon", "Provisioning interval must be a whole number of minutes"),
    ("max_concurrent_requests", "0", "Concurrent requests must be at least 1."),
    ("max_concurrent_requests", "500", "Concurrent requests can be at most 64"),
])
def test_advanced_settings_out_of_range_say_so(admin_client, automatic_app, field, value, message):
    response = admin_client.post(url(automatic_app), settings_data(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    automatic_app.refresh_from_db()
    assert (automatic_app.provisioning_interval_minutes, automatic_app.max_concurrent_requests) == (40, 8)


def test_advanced_settings_left_out_of_a_post_keep_what_is_saved(admin_client, automatic_app):
    automatic_app.provisioning_interval_minutes = 90
    automatic_app.save()
    assert admin_client.post(url(automatic_app), settings_data(use_bulk="on")).status_code == 302
    automatic_app.refresh_from_db()
    assert (automatic_app.provisioning_interval_minutes, automatic_app.use_bulk) == (90, True)


def test_save_refuses_a_metadata_address_naming_the_setting(admin_client, automatic_app, settings):
    settings.PORTAL_OUTBOUND_ALLOW = ""
    body = admin_client.post(url(automatic_app), settings_data(tenant_url="http://169.254.169.254/latest/meta-data/")).content.decode()
    assert "Your settings were not saved." in body
    assert "169.254.169.254 is a link-local address" in body and "PORTAL_OUTBOUND_ALLOW" in body
    settings.PORTAL_OUTBOUND_ALLOW = "169.254.169.254/32"
    response = admin_client.post(url(automatic_app), settings_data(tenant_url="http://169.254.169.254/scim/v2"))
    assert response.status_code == 302
# ---- Test Connection's compliance checklist -----------------------------------------------------


def test_test_connection_shows_the_checklist_and_stores_the_targets_schema(admin_client, scim_app):
    response = admin_client.post(connection_url(scim_app), {"tenant_url": scim_app.tenant_url, "secret_token": ""}, **HTMX)
    body = response.content.decode()
    assert "msgbar-success" in body and 'class="checklist"' in body
    assert "Authentication (Secret Token)" in body and "An empty result is a 200 ListResponse" in body
    assert "Filter users by userName (matching precedence 1)" in body
    assert body.count("check check-passed") >= 9
    assert "Test Connection with a test user" in body  # the write test's line says how to run it
    scim_app.refresh_from_db()
    assert scim_app.target_schema_read_at is not None
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in scim_app.target_schema["schemas"]


def test_the_write_test_button_creates_and_deletes_a_test_user(admin_client, scim_app, scim_server):
    body = admin_client.post(connection_url(scim_app), {"tenant_url": scim_app.tenant_url, "secret_token": "", "write_test": "on"},
                             **HTMX).content.decode()
    assert "Create a test user" in body and "Delete the test user" in body and "check-failed" not in body
    stats = scim_server.stats(scim_app.tenant_url)["by"]
    assert stats.get("POST /Users") == 1 and stats.get("DELETE /Users/{id}") == 1


def test_a_failing_line_shows_its_request_response_and_fix(admin_client, db):
    from tests.scim.noncompliant import NonCompliantTarget, Quirks

    with NonCompliantTarget(Quirks(empty_404=True)) as target:
        app = factories.ApplicationFactory(tenant_url=target.url, secret_token=target.token)
        body = admin_client.post(connection_url(app), {"tenant_url": target.url, "secret_token": ""}, **HTMX).content.decode()
    assert "msgbar-error" in body and "check check-failed" in body
    assert "404 Not Found instead of an empty ListResponse" in body
    assert "Request and response" in body and "404 Not Found: " in body
    assert "<strong>Fix:</strong> RFC 7644 §3.4.2" in body
    assert target.token not in body


def test_an_unsaved_tenant_url_does_not_replace_the_stored_schema(admin_client, scim_app, scim_server):
    other = scim_server.tenant_url()
    admin_client.post(connection_url(scim_app), {"tenant_url": other, "secret_token": ""}, **HTMX)
    scim_app.refresh_from_db()
    assert scim_app.target_schema == {} and scim_app.target_schema_read_at is None


# ---- Authentication methods and the CA certificate ----------------------------------------------


def test_the_page_offers_the_three_authentication_methods_and_the_jwks_url(admin_client, automatic_app, settings):
    settings.PORTAL_BASE_URL = "https://portal.contoso.example"
    settings.PORTAL_TOKEN_ISSUER = "https://portal.contoso.example"
    body = admin_client.get(url(automatic_app)).content.decode()
    for label in ("Bearer token (Secret Token)", "Token issued by this portal (signed JWT)",
                  "OAuth 2.0 client credentials grant", "Audience", "Token endpoint URL", "Client ID", "Client secret",
                  "CA certificate", "https://portal.contoso.example/.well-known/jwks.json"):
        assert label in body


def test_it_saves_the_portal_issued_token_method_with_a_blank_secret_token(admin_client, manual_app):
    response = admin_client.post(url(manual_app), settings_data(authentication_method="portal_jwt",
                                                                token_audience="https://scim.example.com"))
    assert response.status_code == 302
    manual_app.refresh_from_db()
    assert manual_app.authentication_method == "portal_jwt" and manual_app.token_audience == "https://scim.example.com"
    assert manual_app.has_credentials and not manual_app.has_secret_token


def test_it_saves_oauth_client_credentials_with_a_write_only_secret(admin_client, manual_app):
    data = settings_data(authentication_method="oauth_client_credentials", oauth_token_url="https://login.example.com/token",
                         oauth_client_id="portal", oauth_client_secret="cl13nt-s3cret", oauth_scope="scim.write",
                         oauth_client_authentication="client_secret_post")
    assert admin_client.post(url(manual_app), data).status_code == 302
    manual_app.refresh_from_db()
    assert manual_app.get_oauth_client_secret() == "cl13nt-s3cret"
    assert "cl13nt-s3cret" not in manual_app.oauth_client_secret_encrypted
    assert (manual_app.oauth_token_url, manual_app.oauth_client_id, manual_app.oauth_scope,
            manual_app.oauth_client_authentication) == ("https://login.example.com/token", "portal", "scim.write", "client_secret_post")
    body = admin_client.get(url(manual_app)).content.decode()
    assert "cl13nt-s3cret" not in body and "A client secret is saved" in body
    # A blank secret keeps the saved one.
    data["oauth_client_secret"] = ""
    assert admin_client.post(url(manual_app), data).status_code == 302
    manual_app.refresh_from_db()
    assert manual_app.get_oauth_client_secret() == "cl13nt-s3cret"


@pytest.mark.parametrize(("data", "message"), [
    ({"authentication_method": "portal_jwt"}, "Audience is required when the portal issues the token"),
    ({"authentication_method": "portal_jwt", "token_audience": "a", "secret_token": "abc"},
     "Secret Token is not used when the portal issues the token: leave it blank"),
    ({"authentication_method": "portal_jwt", "token_audience": "two words"}, "Audience contains a space"),
    ({"authentication_method": "oauth_client_credentials"}, "Token endpoint URL is required for the client credentials grant"),
    ({"authentication_method": "oauth_client_credentials", "oauth_token_url": "https://l.example/token"},
     "Client ID is required for the client credentials grant"),
    ({"authentication_method": "oauth_client_credentials", "oauth_token_url": "https://l.example/token", "oauth_client_id": "p"},
     "Client secret is required for the client credentials grant"),
    ({"authentication_method": "oauth_client_credentials", "oauth_token_url": "http://login.example.com/token"},
     "Token endpoint URL must use https://"),
    ({"authentication_method": "oauth_client_credentials", "oauth_token_url": "https://u:p@login.example.com/token"},
     "Token endpoint URL must not contain a user name or password"),
    ({"authentication_method": "oauth_client_credentials", "oauth_token_url": "https://169.254.169.254/token"},
     "Token endpoint URL is refused: 169.254.169.254 is a link-local address"),
    ({"authentication_method": "oauth_client_credentials", "oauth_client_secret": "secret with space"},
     "Client secret contains a space or line break"),
    ({"authentication_method": "oauth_client_credentials", "oauth_client_secret": "********"},
     "Client secret looks like a masked placeholder"),
    ({"authentication_method": "everything"}, "Authentication method is not one of the choices"),
    ({"secret_token": "abc", "ca_certificate": "hello"}, "CA certificate is not usable: it is not a PEM certificate"),
    ({"secret_token": "abc", "ca_certificate": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"},
     "it contains a private key"),
])
def test_save_refuses_incomplete_or_bad_credentials_naming_the_field(admin_client, manual_app, data, message):
    response = admin_client.post(url(manual_app), settings_data(**data))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your settings were not saved." in body
    assert message in html.unescape(body)
    manual_app.refresh_from_db()
    assert manual_app.provisioning_mode == "manual"


def test_a_ca_certificate_is_saved_and_shown_as_subject_issuer_and_expiry(admin_client, automatic_app, tmp_path):
    from tests.scim.misbehaving import make_certificates

    pem = make_certificates(tmp_path).ca_file.read_text()
    assert admin_client.post(url(automatic_app), settings_data(ca_certificate=pem)).status_code == 302
    automatic_app.refresh_from_db()
    assert automatic_app.ca_certificate.strip() == pem.strip()
    body = admin_client.get(url(automatic_app)).content.decode()
    assert "<dt>Subject</dt><dd class=\"mono\">CN=Test CA</dd>" in body and "<dt>Valid until</dt>" in body


def test_test_connection_uses_the_typed_method_and_says_why_the_token_endpoint_refused(admin_client, automatic_app):
    from tests.auth_servers import TokenServer

    server = TokenServer()
    try:
        response = admin_client.post(connection_url(automatic_app), {
            "tenant_url": "http://127.0.0.1:9/scim/v2", "authentication_method": "oauth_client_credentials",
            "oauth_token_url": server.token_url, "oauth_client_id": "portal", "oauth_client_secret": "typed-wrong-secret",
            "oauth_scope": "scim"})
    finally:
        server.stop()
    body = html.unescape(response.content.decode())
    assert "The token endpoint refused to issue a token (HTTP 401): invalid_client" in body
    assert "paste a current Client secret under Admin Credentials" in body
    assert "typed-wrong-secret" not in body
    automatic_app.refresh_from_db()
    assert automatic_app.authentication_method == "bearer"  # Test Connection saves nothing


def test_test_connection_with_the_typed_audience_reaches_a_target_that_checks_the_portal_token(
        admin_client, automatic_app, scim_server, scim_tenant_url):
    from django.test import Client

    from provisioning.engine.credentials import issuer
    from tests.auth_servers import CheckingProxy, jwt_checker

    jwks = Client().get("/.well-known/jwks.json").json()
    proxy = CheckingProxy(scim_server.port, scim_server.token, jwt_checker(jwks, issuer=issuer(), audience="urn:contoso:scim"))
    try:
        data = {"tenant_url": proxy.tenant_url(scim_tenant_url), "authentication_method": "portal_jwt"}
        wrong = html.unescape(admin_client.post(connection_url(automatic_app), {**data, "token_audience": "urn:other"}).content.decode())
        right = html.unescape(admin_client.post(connection_url(automatic_app), {**data, "token_audience": "urn:contoso:scim"}).content.decode())
    finally:
        proxy.stop()
    assert 'the audience "urn:other" is not the one it expects' in wrong
    assert "/.well-known/jwks.json" in wrong and "Set Audience under Admin Credentials" in wrong
    assert "The supplied credentials are authorized to enable provisioning" in right
