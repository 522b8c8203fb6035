"""Sign-in against an LDAP directory: search the person with a service account, bind as them, read groups.

Owns the LDAP protocol side of enterprise sign-in and nothing else: it returns an ExternalIdentity and
never creates accounts. ldap3 is synchronous, so async callers run it in a worker thread.
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ldap3 import ANONYMOUS, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from csghub.core.errors import HubError, ServiceUnavailable, Unauthenticated
from csghub.services.identity.external_identity import ExternalIdentity

log = logging.getLogger(__name__)

# One message for every credential failure, so a caller cannot tell unknown users from wrong passwords.
INVALID_CREDENTIALS = "Invalid username or password"
_RESULT_INVALID_CREDENTIALS = 49
_RESULT_SIZE_LIMIT_EXCEEDED = 4


@dataclass(frozen=True, slots=True)
class LdapConfig:
    url: str  # ldap://host:389 or ldaps://host:636
    user_base: str
    # Empty bind_dn means an anonymous search, which some directories allow.
    bind_dn: str = ""
    bind_password: str = ""
    # {username} is replaced by the escaped login name.
    user_filter: str = "(uid={username})"
    # Empty group_base means: do not look up groups.
    group_base: str = ""
    # {dn} is replaced by the escaped DN of the person.
    group_filter: str = "(&(objectClass=groupOfNames)(member={dn}))"
    username_attribute: str = "uid"
    email_attribute: str = "mail"
    name_attribute: str = "cn"
    group_name_attribute: str = "cn"
    timeout: float = 10.0
    start_tls: bool = False
    # A PEM bundle for ldaps/StartTLS; empty means the system's trusted CAs.
    ca_file: str = ""

    def __post_init__(self) -> None:
        # Caught at startup rather than on the first sign-in.
        if not self.url.startswith(("ldap://", "ldaps://")):
            raise ValueError(f"ldap url must start with ldap:// or ldaps://, not {self.url!r}")
        if "{username}" not in self.user_filter or not self.user_filter.startswith("("):
            raise ValueError(f"ldap user_filter must be a filter containing {{username}}, not {self.user_filter!r}")
        if self.group_base and "{dn}" not in self.group_filter:
            raise ValueError(f"ldap group_filter must contain {{dn}}, not {self.group_filter!r}")
        if self.start_tls and self.url.startswith("ldaps://"):
            raise ValueError("ldap start_tls makes no sense with an ldaps:// url")
        if self.timeout <= 0:
            raise ValueError("ldap timeout must be positive")


def authenticate_ldap(config: LdapConfig, username: str, password: str) -> ExternalIdentity:
    """The identity of `username` if `password` is theirs; Unauthenticated otherwise."""
    # An empty password would make a simple bind "unauthenticated" (RFC 4513 5.1.2), which many servers
    # accept as success: never send one.
    if not username or not password:
        raise Unauthenticated(INVALID_CREDENTIALS)
    server = _server(config)
    with _connection(config, server, config.bind_dn, config.bind_password, service=True) as directory:
        dn, attributes = _find_user(config, directory, username)
        with _connection(config, server, dn, password, service=False):
            pass  # the bind itself is the password check
        groups = _find_groups(config, directory, dn) if config.group_base else ()
    return ExternalIdentity(
        username=_first(attributes.get(config.username_attribute)) or username,
        email=_first(attributes.get(config.email_attribute)),
        full_name=_first(attributes.get(config.name_attribute)),
        groups=groups,
        source="ldap",
        subject=dn,
    )


def _server(config: LdapConfig) -> Server:
    # ldap3 defaults to not validating certificates at all; require a valid chain and host name.
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=config.ca_file or None)
    return Server(config.url, connect_timeout=config.timeout, get_info=NONE, tls=tls)


@contextmanager
def _translate(config: LdapConfig) -> Iterator[None]:
    # Adapters translate vendor errors at their edge: nothing above sees an ldap3 exception.
    try:
        yield
    except LDAPException as exc:
        log.warning("LDAP server %s failed: %s", config.url, exc)
        raise ServiceUnavailable(f"The LDAP server at {config.url} cannot be reached") from exc


@contextmanager
def _connection(config: LdapConfig, server: Server, dn: str, password: str, *, service: bool) -> Iterator[Connection]:
    anonymous = service and not dn
    conn = Connection(
        server,
        user=None if anonymous else dn,
        password=None if anonymous else password,
        authentication=ANONYMOUS if anonymous else SIMPLE,
        read_only=True,
        # ldap3 packs this into a C struct of whole seconds; a float makes it fail on Linux.
        receive_timeout=max(1, math.ceil(config.timeout)),
        raise_exceptions=False,
    )
    try:
        with _translate(config):
            conn.open()
            # A failed StartTLS must stop here: binding anyway would send the password in clear text.
            if config.start_tls and not conn.start_tls():
                raise LDAPException(f"StartTLS refused: {(conn.result or {}).get('description')}")
            bound = conn.bind()
        if not bound:
            result = conn.result or {}
            if service:
                # The hub's own credentials are wrong: an operator problem, not the person's.
                log.error("LDAP service bind as %r failed: %s", dn, result.get("description"))
                raise HubError("The LDAP service account cannot sign in", code="LdapConfigError")
            if result.get("result") != _RESULT_INVALID_CREDENTIALS:
                log.info("LDAP bind for %r refused: %s", dn, result.get("description"))
            raise Unauthenticated(INVALID_CREDENTIALS)
        yield conn
    finally:
        # Best effort: a failing unbind must not hide the error that got us here.
        try:
            conn.unbind()
        except LDAPException as exc:
            log.debug("LDAP unbind failed: %s", exc)


def _find_user(config: LdapConfig, conn: Connection, username: str) -> tuple[str, dict[str, Any]]:
    # Escaping keeps "*)(uid=*" a literal name instead of a filter that matches everyone.
    search_filter = config.user_filter.replace("{username}", escape_filter_chars(username))
    attributes = [config.username_attribute, config.email_attribute, config.name_attribute]
    with _translate(config):
        # Two entries are enough to know the name is ambiguous.
        conn.search(config.user_base, search_filter, SUBTREE, attributes=attributes, size_limit=2)
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    if len(entries) != 1:
        if len(entries) > 1 or (conn.result or {}).get("result") == _RESULT_SIZE_LIMIT_EXCEEDED:
            log.warning("LDAP filter %s matches more than one entry; refusing to guess", search_filter)
        raise Unauthenticated(INVALID_CREDENTIALS)
    dn = str(entries[0]["dn"])
    if not dn:
        raise Unauthenticated(INVALID_CREDENTIALS)
    return dn, dict(entries[0].get("attributes") or {})


def _find_groups(config: LdapConfig, conn: Connection, dn: str) -> tuple[str, ...]:
    search_filter = config.group_filter.replace("{dn}", escape_filter_chars(dn))
    with _translate(config):
        conn.search(config.group_base, search_filter, SUBTREE, attributes=[config.group_name_attribute])
    names = {
        _first((entry.get("attributes") or {}).get(config.group_name_attribute))
        for entry in conn.response or []
        if entry.get("type") == "searchResEntry"
    }
    # Sorted so the same directory state always yields the same identity.
    return tuple(sorted(name for name in names if name))


def _first(value: object) -> str:
    # Without schema information ldap3 hands back lists; a missing attribute is absent or empty.
    if isinstance(value, list | tuple):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)
