"""The one check of a Tenant URL and a Secret Token: used by the Provisioning page's Save, Test Connection,
`manage.py create_app` and the SCIM client itself, so nothing is saved that a connection would refuse.

Each problem is one sentence that says what is wrong and how to fix it, and never repeats a password
found in the URL (`without_userinfo` gives the URL safe to show back).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

import httpx

URL_EXAMPLE = "https://scim.example.com/scim/v2"
URL_MAX_LENGTH = 512
# An Authorization header this long is refused by most servers (8 KiB is a common header limit).
TOKEN_MAX_LENGTH = 8192
# What targets and Entra call their endpoints; a Tenant URL ending in one is an endpoint, not the base.
ENDPOINTS = ("Users", "Groups", "Schemas", "ServiceProviderConfig", "ResourceTypes", "Bulk")
_ENDPOINTS = {name.lower(): name for name in ENDPOINTS}
# A DNS label after IDNA conversion; underscores are not DNS but /etc/hosts and container names use them.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
# What a password field or a vendor's page shows instead of the token.
_MASK_CHARACTERS = set("*•●·∙◦⁕✱xX")


def tenant_url_problem(url: str) -> str | None:
    """Why a Tenant URL cannot be used as a SCIM base address, or None when it can.

    Surrounding spaces are ignored (callers strip them); anything inside the URL is checked."""
    url = (url or "").strip()
    if not url:
        return "The Tenant URL is empty."
    if len(url) > URL_MAX_LENGTH:
        return f"The Tenant URL is {len(url):,} characters long: use at most {URL_MAX_LENGTH}."
    odd = next((ch for ch in url if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")), None)
    if odd is not None:
        return f"The Tenant URL contains {_describe(odd)}: retype it as one line without spaces."
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"The Tenant URL is not a valid URL ({exc})."
    if "@" in parts.netloc:
        # Checked before anything else, and never quoted back: the part before @ is a password.
        return ("The Tenant URL contains a user name or password (user:password@host). SCIM targets take the "
                "credential as the Secret Token: remove it from the URL and paste the token under Secret Token.")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme or "://" not in url:
            return f"The Tenant URL has no scheme: it must start with https://, for example https://{url}."
        return f"The Tenant URL must start with https:// (or http://), not {scheme}://."
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"The Tenant URL is not a valid URL ({exc})."
    if not parsed.host:
        return "The Tenant URL has no host name."
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        return f"The Tenant URL's port {parsed.port} is out of range: a port is a number from 1 to 65535."
    problem = host_problem(parsed)
    if problem:
        return problem
    if parts.query or "?" in url:
        return (
            "The Tenant URL contains a query string (the part after '?'). Entra's URL feature flags such as "
            "?aadOptscim062020 are not needed here: requests follow RFC 7644 by default, and the "
            "'Entra-compatible requests' setting selects Entra's request shapes."
        )
    if parts.fragment or "#" in url:
        return "The Tenant URL contains a '#' fragment: remove it and what follows."
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments and segments[-1].lower() in _ENDPOINTS:
        base = urlunsplit((parts.scheme, parts.netloc, "/".join([""] + segments[:-1]), "", ""))
        return (f"The Tenant URL is the SCIM base address, without /{_ENDPOINTS[segments[-1].lower()]}: "
                f"use {base}.")
    return None


def host_problem(parsed: httpx.URL) -> str | None:
    """A host the resolver can use: an IP address, or a name whose labels survive IDNA conversion."""
    host = parsed.host
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        ascii_host = parsed.raw_host.decode("ascii")
    except UnicodeDecodeError:  # pragma: no cover - httpx encodes hosts to ASCII or refuses them
        ascii_host = ""
    labels = ascii_host.rstrip(".").split(".")
    if not ascii_host or len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return (f"The Tenant URL's host name {host!r} is not a host name: use letters, digits and hyphens "
                "between the dots (international names are converted), or an IP address.")
    return None


def without_userinfo(url: str) -> str:
    """The URL with any user:password@ removed, safe to show back on a page or in a log."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rsplit("@", 1)[-1] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def token_problem(token: str) -> str | None:
    """Why a Secret Token cannot be sent as a bearer token, or None when it can.

    Nothing is trimmed: a token pasted with a space or a line break is refused with the reason, so what is
    saved is exactly what the target issued."""
    token = token or ""
    if not token.strip():
        return "The Secret Token is empty." if not token else "The Secret Token is only spaces or line breaks."
    if token.strip().lower().startswith("bearer "):
        return "The Secret Token starts with 'Bearer '. Paste only the token: the portal adds 'Bearer ' itself."
    for index, char in enumerate(token):
        if char.isspace():
            if index == 0:
                where = f"starts with {_describe(char)}"
            elif index == len(token) - 1:
                where = f"ends with {_describe(char)}"
            else:
                where = f"contains {_describe(char)} at character {index + 1}"
            return (f"The Secret Token {where}, and a bearer token never contains spaces or line breaks. "
                    "Paste the token again without it: nothing is trimmed for you, so what is saved is what the target issued.")
    if len(token) > TOKEN_MAX_LENGTH:
        return f"The Secret Token is {len(token):,} characters long: at most {TOKEN_MAX_LENGTH:,} fit in a request header."
    if _masked(token):
        return ("The Secret Token looks like a masked placeholder (such as ********), not the token itself. "
                "Copy the real token from the target application and paste it.")
    if token.startswith("<") and token.endswith(">"):
        return f"The Secret Token is a placeholder ({token[:40]}): paste the token the target application issued."
    if not token.isascii() or not token.isprintable():
        return "The Secret Token contains characters that cannot be sent in an HTTP header (non-ASCII or control characters)."
    return None


def _masked(token: str) -> bool:
    # "********", "••••••••", or a vendor's "****abcd": mostly mask characters from the start.
    leading = len(token) - len(token.lstrip("*•●·∙◦⁕✱"))
    return set(token) <= _MASK_CHARACTERS and len(set(token)) == 1 or leading >= 4


def _describe(char: str) -> str:
    names = {"\n": "a line break", "\r": "a line break", "\t": "a tab", " ": "a space", "\x00": "a NUL character"}
    if char in names:
        return names[char]
    return f"the invisible character U+{ord(char):04X} ({unicodedata.name(char, 'control character').lower()})"
