"""Sending one webhook delivery: the body in the endpoint's format, signed, to an address the outbound
rules allow; what came back is kept on the delivery."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import httpx
from django.utils import timezone

from provisioning.models import WebhookDelivery, WebhookEndpoint
from provisioning.scim import outbound

TIMEOUT_SECONDS = 10
BACKOFF_SECONDS = [10, 30, 120, 600, 1800]  # after the 1st … 5th failed attempt; then it stays failed
SIGNATURE_HEADER = "X-Portal-Signature"


def signature(secret, body: bytes):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_for(endpoint, payload):
    """The bytes to send: generic JSON, or the message shape of a Slack / Teams incoming webhook."""
    if endpoint.format == WebhookEndpoint.Format.JSON:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    links = payload.get("links") or {}
    title = f"{payload['application']['name']}: {payload['event']}"
    if endpoint.format == WebhookEndpoint.Format.SLACK:
        link_text = " · ".join(f"<{url}|{name}>" for name, url in links.items())
        message = {"text": f"*{title}*\n{payload['cause']}" + (f"\n{link_text}" if link_text else "")}
    else:
        message = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": title, "title": title,
                   "text": payload["cause"],
                   "potentialAction": [{"@type": "OpenUri", "name": name.capitalize(), "targets": [{"os": "default", "uri": url}]}
                                       for name, url in links.items()]}
    return json.dumps(message, ensure_ascii=False).encode()


def deliver(delivery_id):
    """One attempt; returns seconds until the next attempt, or None when the delivery is settled."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != WebhookDelivery.State.PENDING:
        return None
    endpoint = delivery.endpoint
    body = body_for(endpoint, delivery.payload)
    headers = {"Content-Type": "application/json", "User-Agent": "Provisioning-Portal-Webhooks",
               "X-Portal-Event": delivery.event, "X-Portal-Delivery": str(delivery.pk)}
    secret = endpoint.get_secret()
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    started = time.monotonic()
    code, error = None, ""
    try:
        refused = outbound.url_refusal(endpoint.url)
        if refused:
            raise _Refused(refused.replace("The Tenant URL is refused", "Refused: the webhook URL is refused", 1))
        # The same outbound rule as SCIM requests, checked again after DNS resolution when connecting.
        with httpx.Client(transport=outbound.guarded_transport(), timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = client.post(endpoint.url, content=body, headers=headers)
        code = response.status_code
        if not 200 <= code < 300:
            error = (f"{endpoint.url} answered {code}" + (" (a redirect: webhook deliveries do not follow redirects; use the "
                     "final address)" if 300 <= code < 400 else "") + f": {response.text[:200]}")
    except _Refused as exc:
        error = str(exc)
    except outbound.OutboundRefused as exc:
        error = f"Refused: the webhook URL is refused: {exc}"
    except httpx.TimeoutException:
        error = f"{endpoint.url} did not answer within {TIMEOUT_SECONDS} seconds."
    except httpx.HTTPError as exc:
        error = f"{endpoint.url} could not be reached: {exc.__class__.__name__}: {exc}"
    elapsed = int((time.monotonic() - started) * 1000)
    attempts = delivery.attempts + 1
    now = timezone.now()
    permanent = isinstance(code, int) and 400 <= code < 500 and code not in (408, 429)
    if not error:
        state, wait = WebhookDelivery.State.DELIVERED, None
    elif permanent or attempts > len(BACKOFF_SECONDS) or error.startswith("Refused"):
        state, wait = WebhookDelivery.State.FAILED, None
    else:
        state, wait = WebhookDelivery.State.PENDING, BACKOFF_SECONDS[attempts - 1]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=state, attempts=attempts, response_code=code, response_ms=elapsed, error=error[:2000], last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=wait) if wait else None)
    return wait


class _Refused(Exception):
    pass
