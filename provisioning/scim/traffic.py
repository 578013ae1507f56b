"""The SCIM traffic of one object: each request it made and the answer, as the log entry's *Request and
response* tab shows them.

A `Traffic` belongs to one object's run through the pipeline; the client feeds it from its send path
(`ScimClient.recording(traffic)`), a /Bulk request feeds each operation's share (`record_operation`).
What is kept is what an admin needs to debug a target and nothing they must not see:

* method, URL, status, time; request and response headers without Authorization and cookies;
* bodies as text, cut at BODY_LIMIT characters (a failed request keeps up to FAILED_BODY_LIMIT, so the
  PATCH operations a target refused stay readable), saying how many characters were left out;
* the secret token, passwords and the values of mappings marked Redact replaced by [redacted];
* at most HEAD_EXCHANGES first and TAIL_EXCHANGES last requests (the failing one is always the last),
  with a count of those left out between them.

Recording is cheap on purpose: a cycle records every request of 10,000 users. Bodies are kept as the
bytes were sent or received (decoded, sliced); nothing is parsed or re-encoded here.
"""

from __future__ import annotations

import json
import re
from collections import deque

from provisioning.scim.answers import clean_text, visible
from provisioning.scim.errors import REDACTED

BODY_LIMIT = 4_000
FAILED_BODY_LIMIT = 64_000
# An entry's bodies together; past it, further bodies are cut at SMALL_BODY_LIMIT.
ENTRY_BUDGET = 160_000
SMALL_BODY_LIMIT = 500
HEAD_EXCHANGES = 6
TAIL_EXCHANGES = 10
HIDDEN_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# A target chooses its headers: an exchange keeps this many, each value cut at HEADER_LIMIT characters.
MAX_HEADERS = 40
HEADER_LIMIT = 500
# "password": "…" (and passwordHash, userPassword…) in a JSON body, the value masked.
_PASSWORD = re.compile(r'("[A-Za-z0-9_.:]*(?:password|secret)[A-Za-z0-9_]*"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)


def shown_headers(headers) -> list[list[str]]:
    """[[name, value]] without credentials and cookies, at most MAX_HEADERS, values cut at HEADER_LIMIT."""
    shown = [[name[:HEADER_LIMIT], value if len(value) <= HEADER_LIMIT else f"{value[:HEADER_LIMIT]}… ({len(value) - HEADER_LIMIT:,} more characters left out)"]
             for name, value in headers.items() if name.lower() not in HIDDEN_HEADERS]
    if len(shown) > MAX_HEADERS:
        shown = shown[:MAX_HEADERS] + [["…", f"{len(shown) - MAX_HEADERS:,} more headers left out"]]
    return shown


class Traffic:
    """The requests of one object, in the order they were sent."""

    __slots__ = ("head", "tail", "omitted", "secrets", "stored")

    def __init__(self):
        self.head: list[dict] = []
        self.tail: deque = deque(maxlen=TAIL_EXCHANGES)
        self.omitted = 0
        self.secrets: set[str] = set()
        self.stored = 0

    def __len__(self):
        return len(self.head) + len(self.tail) + self.omitted

    def mask(self, values):
        """Values that must not appear in stored bodies (mappings marked Redact)."""
        for value in values:
            if value is not None and not isinstance(value, bool) and str(value).strip():
                self.secrets.add(str(value))

    # ------------------------------------------------------------------ recording

    def record(self, *, method, url, status=None, elapsed_ms=0, request_headers=(), request_body=b"", response_headers=(),
               response_body=b"", error="", secret="", via=""):
        failed = status is None or status >= 400
        exchange = {"method": method, "url": self._clean(str(url), secret), "status": status, "ms": round(elapsed_ms)}
        if via:
            exchange["via"] = via
        if error:
            exchange["error"] = self._clean(error, secret)
        exchange["request_headers"] = list(request_headers)
        self._body(exchange, "request_body", request_body, failed, secret)
        if status is not None:
            exchange["response_headers"] = list(response_headers)
            self._body(exchange, "response_body", response_body, failed, secret)
        self._keep(exchange)
        return exchange

    def record_operation(self, base_url, operation, answer, *, error="", secret=""):
        """One operation of a POST /Bulk: its own method, path, data and the answer the BulkResponse gave it."""
        status = None
        if isinstance(answer, dict):
            status = answer.get("status")
            if isinstance(status, dict):
                status = status.get("code")
            try:
                status = int(str(status).split()[0]) if status is not None else None
            except ValueError:
                status = None
        data = operation.get("data")
        response = answer.get("response") if isinstance(answer, dict) else None
        if response is None and isinstance(answer, dict) and answer.get("location"):
            response = {"location": answer["location"]}
        return self.record(
            method=operation["method"], url=base_url + operation["path"], status=status, via="POST /Bulk",
            request_body=json.dumps(data) if data is not None else b"",
            response_body=json.dumps(response) if response is not None else b"",
            error=error or ("" if status is not None else "the BulkResponse gave no result for this operation"), secret=secret,
        )

    def _clean(self, text, secret):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
        for value in self.secrets:
            if value in text:
                text = text.replace(value, REDACTED)
        if "assword" in text or "ecret" in text:
            text = _PASSWORD.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
        return text

    def _body(self, exchange, name, body, failed, secret):
        if not body:
            return
        text = clean_text(body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body))
        # Masked before it is cut, so that a secret across the cut leaves no part of itself behind.
        text = self._clean(text, secret)
        limit = FAILED_BODY_LIMIT if failed else BODY_LIMIT
        if self.stored > ENTRY_BUDGET:
            limit = SMALL_BODY_LIMIT
        if len(text) > limit:
            exchange[f"{name}_omitted"] = len(text) - limit
            text = text[:limit]
        self.stored += len(text)
        exchange[name] = text

    def _keep(self, exchange):
        if len(self.head) < HEAD_EXCHANGES:
            self.head.append(exchange)
            return
        if len(self.tail) == TAIL_EXCHANGES:
            self.omitted += 1
        self.tail.append(exchange)

    # ------------------------------------------------------------------ reading

    def as_json(self) -> list[dict]:
        """What the log entry stores: the exchanges, with {"omitted": n} where some were left out."""
        if not self.head:
            return []
        middle = [{"omitted": self.omitted}] if self.omitted else []
        return [*self.head, *middle, *self.tail]


def pretty_body(text: str) -> str:
    """A stored body for reading: indented when it is whole JSON, else as it was kept."""
    if not text:
        return ""
    try:
        # Written back without \u escapes, so control characters are escaped again for the page.
        return visible(json.dumps(json.loads(text), indent=2, ensure_ascii=False))
    except (ValueError, RecursionError):
        return visible(text)
