"""The one error taxonomy: every answer and every failed connection is transient, permanent, credential
or broken, and Retry-After is read as seconds or an HTTP date."""

import email.utils
import time

import httpx
import pytest

from provisioning.scim import errors
from provisioning.scim.errors import (
    BROKEN, CREDENTIAL, PERMANENT, TRANSIENT, ScimConnectionError, ScimProtocolError, answer_lost, error_for_response,
    error_kind, parse_retry_after, wait_hint,
)

URL = "https://target.example/scim/v2/Users"


def answered(status, headers=None, body=None):
    response = httpx.Response(status, headers=headers or {"Content-Type": "application/scim+json"},
                              json=body if body is not None else {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                                                                  "status": str(status), "detail": "no"},
                              request=httpx.Request("POST", URL))
    return error_for_response(response, method="POST", url=URL, path="/Users", secret="s3cret")


@pytest.mark.parametrize(("status", "kind", "code"), [
    (429, TRANSIENT, "TooManyRequests"),
    (500, TRANSIENT, "InternalServerError"),
    (502, TRANSIENT, "InternalServerError"),
    (503, TRANSIENT, "ServiceUnavailable"),
    (504, TRANSIENT, "InternalServerError"),
    (400, PERMANENT, None),
    (404, PERMANENT, None),
    (409, PERMANENT, None),
    (412, PERMANENT, "PreconditionFailed"),
    (501, PERMANENT, "NotImplemented"),
    (401, CREDENTIAL, None),
    (403, CREDENTIAL, None),
    (302, BROKEN, None),
])
def test_every_status_has_one_kind(status, kind, code):
    error = answered(status)
    assert error_kind(error) == kind
    if code:
        assert error.code == code
    assert error.recommended_fix  # every kind explains itself


@pytest.mark.parametrize(("reason", "kind", "lost"), [
    ("timeout", TRANSIENT, True), ("refused", TRANSIENT, False), ("other", TRANSIENT, True),
    ("dns", BROKEN, False), ("tls", BROKEN, False),
])
def test_connection_failures(reason, kind, lost):
    error = ScimConnectionError("no answer", reason=reason)
    assert (error_kind(error), answer_lost(error)) == (kind, lost)


def test_an_answer_that_is_not_scim_is_broken():
    assert error_kind(ScimProtocolError("returned HTML")) == BROKEN


def test_retry_after_in_seconds_or_as_an_http_date_is_honoured():
    assert wait_hint(answered(429, {"Retry-After": "7", "Content-Type": "application/scim+json"})) == 7
    assert wait_hint(answered(503, {"Retry-After": "2.5", "Content-Type": "application/scim+json"})) == 2.5
    now = time.time()
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after("in a while") is None and parse_retry_after(None) is None
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0


def test_the_throttling_fix_says_what_was_actually_done():
    error = answered(429, {"Retry-After": "2", "Content-Type": "application/scim+json"})
    assert "waited the 2 seconds it asked for (Retry-After)" in error.recommended_fix
    assert "retried in later cycles" in error.recommended_fix


def test_secrets_never_reach_a_message():
    error = answered(400, body={"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                                "detail": "token s3cret is not valid for userName"})
    assert "s3cret" not in str(error) and errors.REDACTED in error.detail


@pytest.mark.parametrize("entra", [True, False])
def test_a_fix_says_which_way_to_flip_the_entra_switch_for_this_app(entra):
    refused = answered(400, body={"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400"})
    fix = errors.fix_for_mode(refused.recommended_fix, entra)
    if entra:
        assert "turn off 'Entra-compatible requests' (Provisioning > Settings), which is on" in fix
        assert "turn on" not in fix
    else:
        assert "turn on 'Entra-compatible requests' (Provisioning > Settings) if the target was built for Entra ID" in fix


@pytest.mark.parametrize(("scim_type", "on", "off"), [
    ("invalidSyntax", "is on): turn it off", "is off): turn it on"),
    ("noTarget", "which is on, so that values are added", "is already off: apply that mapping Only during object creation"),
])
def test_scim_type_fixes_follow_the_apps_setting(scim_type, on, off):
    refused = answered(400, body={"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "scimType": scim_type})
    assert on in errors.fix_for_mode(refused.recommended_fix, True)
    assert off in errors.fix_for_mode(refused.recommended_fix, False)


def test_a_fix_without_the_switch_is_left_as_it_is():
    assert errors.fix_for_mode("Check the Tenant URL.", True) == "Check the Tenant URL."
