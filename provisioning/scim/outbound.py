"""Where the portal may send requests: not to link-local or cloud-metadata addresses, unless the operator says so.

A Tenant URL is typed by an admin and the portal sends the bearer token there. Pointed at a cloud's instance
metadata service (http://169.254.169.254/latest/meta-data/, metadata.google.internal …) it would hand the
token to, and read answers from, the machine's own credential service. So every connection is checked
after DNS resolution, address by address, in the connect step of the SCIM client's transport (`guarded_
transport`): a name that resolves to a refused address is refused too, and nothing is sent.

The rule, longest prefix wins (operator entries beat the defaults at the same length, DENY beats ALLOW):
* refused by default: DEFAULT_DENY (link-local, the clouds' metadata addresses) and DEFAULT_DENY_NAMES;
* PORTAL_OUTBOUND_DENY: more CIDRs or host names to refuse (e.g. 10.0.0.0/8, or 127.0.0.0/8 to refuse
  loopback, which stays allowed for development otherwise);
* PORTAL_OUTBOUND_ALLOW: CIDRs or host names to allow even so (e.g. 10.1.2.3/32 inside a denied 10.0.0.0/8).
Both are comma-separated environment variables (settings of the same names). Later webhooks use the same rule.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from functools import lru_cache

import httpcore
import httpx

from provisioning.scim.answers import DeadlineStream, deadline_timeout

DENY_SETTING = "PORTAL_OUTBOUND_DENY"
ALLOW_SETTING = "PORTAL_OUTBOUND_ALLOW"

DEFAULT_DENY: dict[str, str] = {
    "169.254.0.0/16": "a link-local address, where the clouds' metadata services answer",
    "fe80::/10": "an IPv6 link-local address",
    "fd00:ec2::254/128": "the AWS instance metadata service over IPv6",
    "100.100.100.200/32": "the Alibaba Cloud metadata service",
    "168.63.129.16/32": "the Azure platform (WireServer) address",
    "192.0.0.192/32": "the Oracle Cloud metadata service",
}
DEFAULT_DENY_NAMES: dict[str, str] = {
    "metadata.google.internal": "the Google Cloud metadata service",
    "metadata.goog": "the Google Cloud metadata service",
    "metadata": "the Google Cloud metadata service",
    "instance-data": "the AWS instance metadata service",
    "instance-data.ec2.internal": "the AWS instance metadata service",
}

_ORIGIN_RANK = {"default": 0, "allow": 1, "deny": 2}


class OutboundRefused(Exception):
    """A connection the rule refuses; str(e) names the address, why, and the setting that changes it."""

    def __init__(self, host: str, address: str | None, reason: str, setting: str):
        self.host, self.address, self.reason, self.setting = host, address, reason, setting
        target = host if address is None or address == host else f"{host} ({address})"
        if setting == DENY_SETTING:
            change = f"remove it from {DENY_SETTING} to allow it"
        else:
            example = f"{address}/32" if address and ":" not in address else address or host
            change = (f"if the SCIM target really is there, allow it with {ALLOW_SETTING} "
                      f"(e.g. {ALLOW_SETTING}={example})")
        super().__init__(
            f"{target} is {reason}: SCIM requests are not sent there, and nothing was sent (no connection was "
            f"opened). {change[0].upper()}{change[1:]}."
        )


@dataclass(frozen=True)
class Rule:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    origin: str  # "default", "allow", "deny"
    reason: str

    @property
    def allows(self) -> bool:
        return self.origin == "allow"


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    names: dict  # host name → (origin, reason)

    def check_name(self, host: str) -> bool | None:
        """True: allowed by name (skip the addresses); None: decide by address. Raises OutboundRefused."""
        name = host.rstrip(".").lower()
        for candidate in (name, *("." + name.split(".", i)[-1] for i in range(1, name.count(".") + 1))):
            if candidate in self.names:
                origin, reason = self.names[candidate]
                if origin == "allow":
                    return True
                raise OutboundRefused(host, None, reason, DENY_SETTING if origin == "deny" else ALLOW_SETTING)
        return None

    def check_address(self, host: str, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        matching = [rule for rule in self.rules if ip.version == rule.network.version and ip in rule.network]
        if not matching:
            return
        rule = max(matching, key=lambda r: (r.network.prefixlen, _ORIGIN_RANK[r.origin]))
        if not rule.allows:
            setting = DENY_SETTING if rule.origin == "deny" else ALLOW_SETTING
            raise OutboundRefused(host, str(ip), f"{rule.reason} ({rule.network})", setting)

    def check(self, host: str, addresses) -> None:
        if self.check_name(host):
            return
        for address in addresses:
            self.check_address(host, address)


def policy() -> Policy:
    """The rule in force: the defaults plus the settings (read each time: tests and operators change them)."""
    return _policy(_setting(DENY_SETTING), _setting(ALLOW_SETTING))


class SettingProblem(ValueError):
    """An entry of PORTAL_OUTBOUND_DENY / _ALLOW that is neither a CIDR nor a host name."""


def parse_entries(text: str, setting: str) -> list[tuple[str, object]]:
    """[("network", IPv4Network | IPv6Network) | ("name", str)] from a comma-separated setting."""
    entries = []
    for raw in (text or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            entries.append(("network", ipaddress.ip_network(entry, strict=False)))
            continue
        except ValueError:
            pass
        name = entry.rstrip(".").lower()
        labels = name.lstrip(".").split(".")
        if not name or any(ch in name for ch in "/:") or not all(label and label.replace("-", "").replace("_", "").isalnum() for label in labels):
            raise SettingProblem(f"{setting}: {entry!r} is neither a CIDR (such as 10.0.0.0/8) nor a host name.")
        entries.append(("name", name))
    return entries


@lru_cache(maxsize=16)
def _policy(deny_text: str, allow_text: str) -> Policy:
    rules = [Rule(ipaddress.ip_network(cidr), "default", reason) for cidr, reason in DEFAULT_DENY.items()]
    names = {name: ("default", reason) for name, reason in DEFAULT_DENY_NAMES.items()}
    for origin, text, setting in (("allow", allow_text, ALLOW_SETTING), ("deny", deny_text, DENY_SETTING)):
        reason = f"listed in {DENY_SETTING}" if origin == "deny" else "allowed"
        for kind, value in parse_entries(text, setting):
            if kind == "network":
                rules.append(Rule(value, origin, reason))
            else:
                names[value] = (origin, reason)  # deny is read last: it wins over allow for the same name
    return Policy(tuple(rules), names)


def _setting(name: str) -> str:
    try:
        from django.conf import settings

        if settings.configured:
            return getattr(settings, name, None) or ""
    except ImportError:  # pragma: no cover - the module is usable without Django
        pass
    return os.environ.get(name, "")


def url_refusal(url: str) -> str | None:
    """Why a URL is refused before any DNS lookup (a literal address or a refused name), or None.

    Save and Test Connection use this; a name that only resolves to a refused address is caught when
    connecting."""
    try:
        host = httpx.URL(url.strip()).host
    except (httpx.InvalidURL, TypeError, ValueError):
        return None  # the Tenant URL check says what is wrong with it
    if not host:
        return None
    try:
        rule = policy()
        if not rule.check_name(host):
            try:
                ipaddress.ip_address(host)
            except ValueError:
                return None
            rule.check_address(host, host)
    except OutboundRefused as refused:
        return f"The Tenant URL is refused: {refused}"
    except SettingProblem as problem:
        return f"No request can be checked against the outbound rule: {problem} Ask the operator to correct the setting."
    return None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, resolving the host itself and checking every address before connecting.

    TLS is unaffected: httpcore verifies the certificate against the URL's host name, not the address."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        rule = policy()
        allowed_by_name = rule.check_name(host)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not allowed_by_name:
            for address in addresses:  # every address, so a name cannot mix a good one with a refused one
                rule.check_address(host, address)
        last_error = None
        for address in addresses:
            try:
                # Every read and write of the connection keeps to its request's total deadline (answers.py).
                return DeadlineStream(super().connect_tcp(address, port, deadline_timeout(timeout), local_address, socket_options))
            except httpcore.ConnectError as exc:  # try the next address, as socket.create_connection does
                last_error = exc
        raise last_error or httpcore.ConnectError(f"{host} resolved to no address")


def guarded_transport(**kwargs) -> httpx.HTTPTransport:
    """An httpx.HTTPTransport whose every new connection goes through the outbound rule."""
    transport = httpx.HTTPTransport(**kwargs)
    # httpx does not take a network backend; its pool does, and hands it to every connection it opens.
    transport._pool._network_backend = GuardedBackend()
    return transport
