"""Who an enterprise identity provider (LDAP or OpenID Connect) says a person is.

The sign-in services return this value; account creation and organization mapping read it and never
see the protocol it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IdentitySource = Literal["ldap", "oidc"]


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    username: str
    email: str
    full_name: str
    # Group names as the provider spells them (LDAP group cn, OIDC groups claim); mapping them to
    # organizations is the caller's business.
    groups: tuple[str, ...]
    source: IdentitySource
    # What stays the same when the person is renamed: the entry's DN for LDAP, the issuer-scoped `sub`
    # for OIDC. Empty when unknown.
    subject: str = ""
