"""Reading a target's answer within bounds: its size before and after decompression, a total deadline per
request, JSON nesting, and text that can be stored.

A target's answer is input like any other. Without bounds an endless body is read until the worker runs out
of memory, a gzip bomb is inflated whole, a body sent one byte per second holds a request (and Test
Connection) for as long as the target likes (a read timeout only limits the wait for each byte), and deeply
nested JSON ends in a RecursionError. So:

* `SCIM_MAX_RESPONSE_BYTES` (setting, default 20 MiB) caps the body as received and as decompressed: the
  body is read in chunks and inflated incrementally, never past the cap;
* `SCIM_DEADLINE_SECONDS` (setting, default 60) is the time one request may take in all, from connecting to
  the last byte of the answer: every socket read and write waits at most what is left of it (`DeadlineStream`,
  used by the outbound transport for every connection);
* only gzip and deflate are decoded (the client asks for no encoding at all); a body that says it is gzip but is
  not is a failure with that reason, never an exception from deep inside httpx;
* `Answer.json()` refuses JSON nested deeper than MAX_JSON_DEPTH, and replaces what cannot be stored or
  shown safely (lone surrogates, NUL) by U+FFFD in every string, keys included.

Everything here is plain Python and httpx (no Django): the settings are read as outbound.py reads its own.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import zlib

import httpcore
import httpx

MAX_RESPONSE_BYTES_SETTING = "SCIM_MAX_RESPONSE_BYTES"
DEADLINE_SETTING = "SCIM_DEADLINE_SECONDS"
DEFAULT_MAX_RESPONSE_BYTES = 20 * 1024 * 1024
DEFAULT_DEADLINE_SECONDS = 60.0
# SCIM resources nest four levels deep at most (ListResponse → Resources → emails → value); 64 leaves room
# for any extension while keeping every recursive reader (json.dumps, the log's tables) far from the limit.
MAX_JSON_DEPTH = 64
DECODED_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
# Shown escaped (\u202e) wherever log entries show text: control characters but tab and line breaks, and the
# invisible characters that reorder or hide text (bidi embeddings, overrides and isolates, zero-width space,
# word joiner, BOM). Joiners and the left-to-right / right-to-left marks stay: real names use them.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
                        "\ud800-\udfff]")


class AnswerRefused(Exception):
    """The answer cannot be used; str() says why in words for the log (e.g. "sent more than 20 MiB")."""


class UnusableJson(ValueError):
    """JSON that parses but is not used (nested too deeply); a ValueError, as httpx's json() raises for bad JSON."""


class DeadlinePassed(httpcore.ReadTimeout):
    """Raised by a socket read or write once the request's total deadline has passed."""


def _number_setting(name, default):
    value = None
    try:
        from django.conf import settings

        if settings.configured:
            value = getattr(settings, name, None)
    except ImportError:  # pragma: no cover - usable without Django
        pass
    if value is None:
        value = os.environ.get(name)
    try:
        number = float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        number = default
    return number if number > 0 else default


def max_response_bytes() -> int:
    return int(_number_setting(MAX_RESPONSE_BYTES_SETTING, DEFAULT_MAX_RESPONSE_BYTES))


def deadline_seconds() -> float:
    return _number_setting(DEADLINE_SETTING, DEFAULT_DEADLINE_SECONDS)


def size_text(size: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


# ---------------------------------------------------------------- the deadline of the request this thread sends

_current = threading.local()


class deadline:  # noqa: N801 - used as `with deadline(seconds):`
    """The requests this thread sends inside the block must be done within `seconds` in all."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        self._previous = getattr(_current, "until", None)
        _current.until = time.monotonic() + self.seconds
        _current.passed = False
        return self

    def __exit__(self, *exc_info):
        _current.until = self._previous

    @staticmethod
    def passed() -> bool:
        """Whether the last request of this thread ended because its deadline passed."""
        return getattr(_current, "passed", False)


def _left(timeout):
    """The timeout for one socket operation: at most what is left of this thread's deadline."""
    until = getattr(_current, "until", None)
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        _current.passed = True
        raise DeadlinePassed("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


deadline_timeout = _left


def check_deadline():
    """Between chunks of a body: httpx's own timeout error once the deadline has passed."""
    try:
        _left(None)
    except DeadlinePassed as exc:
        raise httpx.ReadTimeout(str(exc)) from exc


class DeadlineStream(httpcore.NetworkStream):
    """A connection's socket whose reads and writes never wait past the deadline of the request using it
    (a keep-alive connection serves one request at a time, in the thread that sent it)."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, max_bytes, timeout=None):
        try:
            return self._stream.read(max_bytes, _left(timeout))
        except httpcore.ReadTimeout:
            if getattr(_current, "until", None) is not None and _current.until <= time.monotonic():
                _current.passed = True
            raise

    def write(self, buffer, timeout=None):
        self._stream.write(buffer, _left(timeout))

    def close(self):
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)


# ---------------------------------------------------------------- the body


class Answer(httpx.Response):
    """A response read within bounds. `received_headers` are the headers as the target sent them (the body
    is already decoded, so Content-Encoding is not among `headers`)."""

    received_headers: httpx.Headers

    def json(self, **kwargs):
        content = self.content
        try:
            data = json.loads(content, **kwargs)
        except RecursionError:
            raise UnusableJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"JSON that is not UTF-8 ({exc.reason})") from None
        # Strict JSON holds NUL and lone surrogates only as \u escapes, and can nest no deeper than it has brackets:
        # most answers need no walk at all (a walk costs four times the parse).
        if _UNSTORABLE_ESCAPE.search(content):
            return cleaned(data)
        if content.count(b"[") + content.count(b"{") > MAX_JSON_DEPTH:
            _check_depth(data)
        return data


def read_answer(response: httpx.Response, *, limit: int) -> Answer:
    """The response's body read in chunks and decoded incrementally, at most `limit` bytes of each;
    AnswerRefused past the limit or for an encoding that is not what it says. The stream is always closed."""
    try:
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding in ("", "identity"):
            decoder = None
        elif encoding in DECODED_ENCODINGS:
            decoder = zlib.decompressobj(DECODED_ENCODINGS[encoding])
        else:
            raise AnswerRefused(f"sent its body with Content-Encoding {encoding[:40]!r}, which was not asked for "
                                "(only gzip and deflate are read)")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise AnswerRefused(f"announced a body of {size_text(int(declared))} (Content-Length), more than the "
                                f"{size_text(limit)} accepted ({MAX_RESPONSE_BYTES_SETTING})")
        received, parts, size = 0, [], 0
        for chunk in response.stream:
            check_deadline()
            received += len(chunk)
            if received > limit:
                raise AnswerRefused(f"sent more than {size_text(limit)}, the most accepted for one answer "
                                    f"({MAX_RESPONSE_BYTES_SETTING}); the rest was not read")
            if decoder is None:
                parts.append(chunk)
                size += len(chunk)
                continue
            size = _inflate(decoder, chunk, parts, size, limit, encoding)
        if decoder is not None:
            try:
                tail = decoder.flush()
            except zlib.error as exc:
                raise _not_encoded(encoding, exc) from None
            parts.append(tail)
            size += len(tail)
            if size > limit:
                raise _inflated_too_much(limit)
            if received and not decoder.eof:
                raise AnswerRefused(f"sent a {encoding} body that ends before its end (truncated)")
    finally:
        response.close()
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    answer = Answer(response.status_code, headers=headers, content=b"".join(parts), request=response.request,
                    extensions=response.extensions)
    answer.received_headers = response.headers
    return answer


def _inflate(decoder, chunk, parts, size, limit, encoding):
    data = chunk
    while data:
        try:
            out = decoder.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise _not_encoded(encoding, exc) from None
        parts.append(out)
        size += len(out)
        if size > limit:
            raise _inflated_too_much(limit)
        data = decoder.unconsumed_tail
        if decoder.eof:
            break
    return size


def _not_encoded(encoding, exc):
    return AnswerRefused(f"said its body is {encoding}-compressed (Content-Encoding: {encoding}), but it is not "
                         f"({exc})")


def _inflated_too_much(limit):
    return AnswerRefused(f"sent a compressed body that inflates to more than {size_text(limit)}, the most accepted "
                         f"for one answer ({MAX_RESPONSE_BYTES_SETTING}); it was not inflated further")


# ---------------------------------------------------------------- JSON values


def clean_text(text: str) -> str:
    """Text from a target, storable in PostgreSQL and JSON: NUL and lone surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def _check_depth(data):
    stack = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise UnusableJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def cleaned(data):
    """The parsed JSON with every string cleaned; ValueError when it nests deeper than MAX_JSON_DEPTH.
    Iterative, so that no depth can exhaust the stack here."""
    if isinstance(data, str):
        return clean_text(data)
    if not isinstance(data, (dict, list)):
        return data
    root = [data]
    stack = [(root, 0, 0)]  # (container, key, depth of the value)
    while stack:
        container, key, depth = stack.pop()
        value = container[key]
        if isinstance(value, str):
            container[key] = clean_text(value)
        elif isinstance(value, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise UnusableJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(value, dict):
                if any(_UNSTORABLE.search(k) for k in value):
                    value = {clean_text(k): v for k, v in value.items()}
                    container[key] = value
                stack.extend((value, k, depth + 1) for k in value)
            else:
                stack.extend((value, i, depth + 1) for i in range(len(value)))
    return root[0]


def visible(text: str) -> str:
    """The text with control and text-reordering characters written as escapes (ESC → \\u001b), so a
    log entry shows what the target sent instead of letting it colour, hide or reverse the text around it."""
    if not isinstance(text, str) or not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def visible_json(data):
    """`visible` applied to every string of a JSON value (keys too), iteratively."""
    if isinstance(data, str):
        return visible(data)
    if not isinstance(data, (dict, list)):
        return data
    root = [data]
    stack = [(root, 0)]
    while stack:
        container, key = stack.pop()
        value = container[key]
        if isinstance(value, str):
            if _INVISIBLE.search(value):
                container[key] = visible(value)
        elif isinstance(value, dict):
            if any(_INVISIBLE.search(k) for k in value if isinstance(k, str)):
                value = {visible(k): v for k, v in value.items()}
                container[key] = value
            stack.extend((value, k) for k in value)
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))
    return root[0]
