"""LDAP sign-in against a real slapd (Debian's package) started for this module."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator

import pytest

from csghub.core.errors import HubError, ServiceUnavailable, Unauthenticated
from csghub.services.identity.external_identity import ExternalIdentity
from csghub.services.identity.ldap_login import LdapConfig, authenticate_ldap
from tests.support.slapd import GROUPS_BASE, PEOPLE_BASE, SERVICE_DN, LdapUser, Slapd

ALICE = LdapUser("alice", "alice-pass-1", "Alice Liddell", "Liddell", "alice@example.org")
BOB = LdapUser("bob", "bob-pass-2", "Bob Builder", "Builder", "bob@example.org")
CAROL = LdapUser("carol", "carol-pass-3", "Carol Danvers", "Danvers", "carol@example.org")
# Parentheses in a uid (legal in its Directory String syntax) end up in the DN, and so in the group filter.
EVE = LdapUser("eve(ops)", "eve-pass-4", "Eve Moneypenny", "Moneypenny", "eve@example.org")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(
        tmp_path_factory.mktemp("slapd"),
        users=(ALICE, BOB, CAROL, EVE),
        groups={"engineers": ("alice", "bob"), "admins": ("alice",), "ops": ("eve(ops)",)},
    ).start()
    yield server
    server.stop()


@pytest.fixture
def config(slapd: Slapd) -> LdapConfig:
    return LdapConfig(
        url=slapd.url,
        bind_dn=SERVICE_DN,
        bind_password=slapd.service_password,
        user_base=PEOPLE_BASE,
        group_base=GROUPS_BASE,
        timeout=5.0,  # a float, as settings give it: ldap3 needs whole seconds
    )


def test_ldap_login_right_password_returns_identity_with_groups(config: LdapConfig) -> None:
    identity = authenticate_ldap(config, "alice", ALICE.password)
    assert identity == ExternalIdentity(
        username="alice",
        email="alice@example.org",
        full_name="Alice Liddell",
        groups=("admins", "engineers"),
        source="ldap",
        subject=ALICE.dn,
    )


def test_ldap_login_user_in_no_group_has_no_groups(config: LdapConfig) -> None:
    identity = authenticate_ldap(config, "carol", CAROL.password)
    assert (identity.username, identity.email, identity.groups) == ("carol", "carol@example.org", ())


def test_ldap_login_username_in_other_case_returns_directory_spelling(config: LdapConfig) -> None:
    assert authenticate_ldap(config, "BOB", BOB.password).username == "bob"


def test_ldap_login_dn_with_filter_characters_still_finds_groups(config: LdapConfig) -> None:
    identity = authenticate_ldap(config, "eve(ops)", EVE.password)
    assert (identity.username, identity.groups) == ("eve(ops)", ("ops",))


def test_ldap_login_anonymous_search_works(config: LdapConfig) -> None:
    anonymous = dataclasses.replace(config, bind_dn="", bind_password="")
    assert authenticate_ldap(anonymous, "bob", BOB.password).groups == ("engineers",)


def test_ldap_login_without_group_base_skips_groups(config: LdapConfig) -> None:
    assert authenticate_ldap(dataclasses.replace(config, group_base=""), "alice", ALICE.password).groups == ()


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong"),
        ("alice", BOB.password),
        ("nobody", "whatever"),
        # An empty password is an "unauthenticated bind" that slapd would accept as anonymous.
        ("alice", ""),
        ("", ALICE.password),
    ],
)
def test_ldap_login_bad_credentials_are_unauthenticated(config: LdapConfig, username: str, password: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        authenticate_ldap(config, username, password)
    assert caught.value.message == "Invalid username or password"
    assert caught.value.status == 401


@pytest.mark.parametrize("username", ["*)(uid=*", "*", "al*", "alice)(|(uid=*", "alice)(uid=bob", "*\\2a"])
def test_ldap_login_filter_injection_is_unauthenticated(config: LdapConfig, username: str) -> None:
    with pytest.raises(Unauthenticated):
        authenticate_ldap(config, username, ALICE.password)


def test_ldap_login_filter_matching_many_entries_is_unauthenticated(config: LdapConfig) -> None:
    # A sloppy filter that matches everyone must not sign anyone in as whoever comes first.
    sloppy = dataclasses.replace(config, user_filter="(|(uid={username})(objectClass=inetOrgPerson))")
    with pytest.raises(Unauthenticated):
        authenticate_ldap(sloppy, "alice", ALICE.password)


def test_ldap_login_wrong_service_password_is_an_operator_error(config: LdapConfig) -> None:
    with pytest.raises(HubError) as caught:
        authenticate_ldap(dataclasses.replace(config, bind_password="nope"), "alice", ALICE.password)
    assert not isinstance(caught.value, Unauthenticated)
    assert (caught.value.status, caught.value.code) == (500, "LdapConfigError")


def test_ldap_login_unreachable_server_is_service_unavailable(config: LdapConfig) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        down = dataclasses.replace(config, url=f"ldap://127.0.0.1:{port}", timeout=2)
        with pytest.raises(ServiceUnavailable) as caught:
            authenticate_ldap(down, "alice", ALICE.password)
    assert caught.value.status == 503
    assert f"127.0.0.1:{port}" in caught.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "http://127.0.0.1:389"},
        {"user_filter": "uid={username}"},
        {"user_filter": "(uid=alice)"},
        {"group_filter": "(member=*)"},
        {"url": "ldaps://127.0.0.1:636", "start_tls": True},
        {"timeout": 0},
    ],
)
def test_ldap_config_rejects_bad_settings(config: LdapConfig, changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(config, **changes)
