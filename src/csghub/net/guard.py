"""The outbound address rules: which URLs and addresses this hub may connect to.

A URL an administrator or user types (a mirror source, a webhook) must not turn the hub into a proxy
for its own network: loopback, private, link-local (cloud metadata at 169.254.169.254), multicast,
unspecified and reserved addresses are refused, in every spelling (decimal, octal and hex IPv4,
IPv4-mapped IPv6), unless the administrator allowed the host or the address. Names are resolved here
and every address they resolve to must pass: one bad answer refuses the connection.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from csghub.core.errors import InvalidArgument

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?"
)
# What inet_aton takes for an IPv4 address: 1-4 parts in decimal, octal (0...) or hex (0x...).
_INET_ATON_RE = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")
# 100.64.0.0/10 (carrier-grade NAT) is neither "private" nor "global" to Python's ipaddress.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class OutboundRefused(InvalidArgument):
    """A URL or address the outbound rules do not allow this hub to connect to."""

    code = "OutboundRefused"


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"The host '{host}' does not resolve ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class HostPattern:
    """One entry of allow_hosts or deny_hosts: a name ("hub.example.com"), every name under a domain
    ("*.example.com"), an address ("10.0.0.5", "::1") or a network ("10.0.0.0/8")."""

    name: str = ""
    suffix: str = ""
    network: IPNetwork | None = None

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        value = text.strip().lower()
        if "/" in value or value.replace(".", "").isdigit() or ":" in value:
            try:
                return cls(network=ipaddress.ip_network(value.strip("[]"), strict=False))
            except ValueError:
                raise ValueError(f"'{text}' is not an address or a network") from None
        if value.startswith("*."):
            if not _HOSTNAME_RE.fullmatch(value[2:]):
                raise ValueError(f"'{text}' is not a valid '*.domain' pattern")
            return cls(suffix=value[1:])
        if not _HOSTNAME_RE.fullmatch(value):
            raise ValueError(f"'{text}' is not a host name, '*.domain', an address or a network")
        return cls(name=value.rstrip("."))

    def matches_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return bool(self.name and host == self.name) or bool(self.suffix and host.endswith(self.suffix))

    def matches_address(self, address: IPAddress) -> bool:
        return self.network is not None and address.version == self.network.version and address in self.network


@dataclass(frozen=True, slots=True)
class AddressRules:
    """The administrator's outbound rules (settings outbound_allow_hosts, outbound_deny_hosts,
    outbound_allow_private); entries are patterns as HostPattern reads them. Deny wins over allow.
    `resolve` is the resolver every check uses (the system's; tests hand in their own)."""

    allow_hosts: Sequence[str | HostPattern] = ()
    deny_hosts: Sequence[str | HostPattern] = ()
    allow_private: bool = False
    resolve: Resolver = field(default=system_resolve, compare=False, repr=False)
    allowed: tuple[HostPattern, ...] = field(init=False, repr=False, compare=False)
    denied: tuple[HostPattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parsed once here: a malformed pattern fails where the rules are made, naming the entry.
        object.__setattr__(self, "allowed", _patterns(self.allow_hosts))
        object.__setattr__(self, "denied", _patterns(self.deny_hosts))


def _patterns(values: Sequence[str | HostPattern]) -> tuple[HostPattern, ...]:
    return tuple(v if isinstance(v, HostPattern) else HostPattern.parse(v) for v in values)


def literal_address(host: str) -> IPAddress | None:
    """The address a host spelled as one stands for, in any spelling the system resolver accepts:
    "127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "[::ffff:127.0.0.1]"."""
    text = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if _INET_ATON_RE.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _refusal(address: IPAddress) -> str:
    """Why an address is refused by default ("" when it is a public one)."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return _refusal(mapped)
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_link_local:
        return "link-local"
    if address.is_loopback:
        return "loopback"
    if address.is_reserved:
        return "reserved"
    if address.is_private or (address.version == 4 and address in _SHARED) or not address.is_global:
        return "private"
    return ""


def check_address(host: str, address: IPAddress, rules: AddressRules) -> None:
    """Refuse one address `host` resolved to, unless the rules let it through."""
    if any(p.matches_address(address) for p in rules.denied):
        raise OutboundRefused(f"Connections to {host} ({address}) are denied by outbound_deny_hosts")
    allowed = any(p.matches_name(host) or p.matches_address(address) for p in rules.allowed)
    reason = _refusal(address)
    # allow_private opens private and loopback networks, never link-local (cloud metadata) or the rest.
    if reason and not allowed and not (rules.allow_private and reason in ("private", "loopback")):
        raise OutboundRefused(
            f"Connections to {host} are refused: its address {address} is {reason}; "
            "an administrator may allow it with outbound_allow_hosts"
        )


def resolve_checked(host: str, port: int, rules: AddressRules) -> list[str]:
    """The addresses to connect to for host:port, every one of them checked; refuses if any fails."""
    if not host:
        raise OutboundRefused("The URL has no host")
    if any(p.matches_name(host) for p in rules.denied):
        raise OutboundRefused(f"Connections to {host} are denied by outbound_deny_hosts")
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        if not _HOSTNAME_RE.fullmatch(host.lower()):
            raise OutboundRefused(f"'{host[:100]}' is not a valid host name")
        addresses = []
        for text in rules.resolve(host, port):
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                raise OutboundRefused(f"The host '{host}' resolved to '{text}', which is not an address") from None
        if not addresses:
            raise OutboundRefused(f"The host '{host}' does not resolve")
    for address in addresses:
        check_address(host, address, rules)
    return [str(address) for address in addresses]


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL without credentials; anything else is refused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise OutboundRefused(f"'{url[:200]}' is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(f"Only http and https URLs are allowed, not '{scheme or url[:40]}:'")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise OutboundRefused("A URL may not carry a user name or password; give a token instead")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused(f"'{url[:200]}' has no host")
    return scheme, host, port or (443 if scheme == "https" else 80)


def check_url_form(url: str, rules: AddressRules) -> tuple[str, int]:
    """The checks that need no DNS: scheme, credentials, a denied name, an address written as one.
    Returns (host, port). A name's addresses are checked where it is resolved: at each connection."""
    _scheme, host, port = split_url(url)
    if any(p.matches_name(host) for p in rules.denied):
        raise OutboundRefused(f"Connections to {host} are denied by outbound_deny_hosts")
    literal = literal_address(host)
    if literal is not None:
        check_address(host, literal, rules)
    return host, port


def check_url(url: str, rules: AddressRules) -> None:
    """Refuse a URL this hub may not connect to (raises OutboundRefused, a 400 with its reason)."""
    _scheme, host, port = split_url(url)
    resolve_checked(host, port, rules)
