"""OpenID Connect sign-in against a real provider (panva's oidc-provider) started for this module."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from csghub.core.errors import HubError, ServiceUnavailable, Unauthenticated
from csghub.services.identity import oidc_login
from csghub.services.identity.external_identity import ExternalIdentity
from csghub.services.identity.oidc_login import OidcConfig, OidcProviderCache, begin_login, check_callback, finish_login
from tests.support.oidc_provider import OidcClient, OidcProvider, OidcUser

REDIRECT_URI = "http://127.0.0.1:9/oidc/callback"  # the browser stops here; nothing listens
ALICE = OidcUser("sub-alice-1", "alice", "alice-pass", "alice@example.org", "Alice Liddell", ("engineers", "admins"))
BOB = OidcUser("sub-bob-2", "bob", "bob-pass", "bob@example.org", "Bob Builder", ())
RS_CLIENT = OidcClient("csghub", "rs-client-secret")
ES_CLIENT = OidcClient("csghub-es", "es-client-secret", id_token_alg="ES256")
PUBLIC_CLIENT = OidcClient("csghub-public", "")


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    server = OidcProvider(
        tmp_path_factory.mktemp("oidc"), REDIRECT_URI, (RS_CLIENT, ES_CLIENT, PUBLIC_CLIENT), (ALICE, BOB)
    ).start()
    yield server
    server.stop()


@pytest.fixture
def cache() -> Iterator[OidcProviderCache]:
    with httpx.Client() as http:
        yield OidcProviderCache(http)


def _config(provider: OidcProvider, client: OidcClient = RS_CLIENT, **changes: Any) -> OidcConfig:
    config = OidcConfig(issuer=provider.issuer, client_id=client.client_id, client_secret=client.client_secret)
    return dataclasses.replace(config, **changes)


def _sign_in(
    provider: OidcProvider, config: OidcConfig, cache: OidcProviderCache, user: OidcUser = ALICE
) -> tuple[oidc_login.OidcLoginStart, str]:
    """Run the browser part; return what begin_login gave and the code from the checked callback."""
    start = begin_login(config, REDIRECT_URI, cache=cache)
    params = provider.sign_in(start.authorize_url, user.username, user.password)
    return start, check_callback(config, params, start.state)


def test_oidc_login_full_flow_returns_identity_with_groups(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider)
    start, code = _sign_in(provider, config, cache)
    assert "code_challenge_method=S256" in start.authorize_url
    assert start.code_verifier not in start.authorize_url  # only its hash travels through the browser
    identity = finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache)
    assert identity == ExternalIdentity(
        username="alice",
        email="alice@example.org",
        full_name="Alice Liddell",
        groups=("admins", "engineers"),
        source="oidc",
        subject="sub-alice-1",
    )


def test_oidc_login_es256_id_token_is_verified(provider: OidcProvider, cache: OidcProviderCache) -> None:
    # Allowing ES256 alone proves the provider's EC signature was the one checked.
    config = _config(provider, ES_CLIENT, id_token_algorithms=("ES256",))
    start, code = _sign_in(provider, config, cache, BOB)
    identity = finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache)
    assert (identity.username, identity.email, identity.groups) == ("bob", "bob@example.org", ())


def test_oidc_login_public_client_works_with_pkce_alone(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider, PUBLIC_CLIENT)
    start, code = _sign_in(provider, config, cache)
    assert finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache).username == "alice"


def test_oidc_login_other_claims_can_be_configured(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider, username_claim="email", groups_claim="no_such_claim")
    start, code = _sign_in(provider, config, cache)
    identity = finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache)
    assert (identity.username, identity.groups) == ("alice@example.org", ())


def test_oidc_login_wrong_code_verifier_fails(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider)
    start, code = _sign_in(provider, config, cache)
    other_verifier = begin_login(config, REDIRECT_URI, cache=cache).code_verifier
    with pytest.raises(Unauthenticated):
        finish_login(config, REDIRECT_URI, code, other_verifier, start.nonce, cache=cache)


def test_oidc_login_tampered_nonce_fails(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider)
    start, code = _sign_in(provider, config, cache)
    with pytest.raises(Unauthenticated):
        finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce + "x", cache=cache)


def test_oidc_login_tampered_state_fails(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider)
    start = begin_login(config, REDIRECT_URI, cache=cache)
    params = provider.sign_in(start.authorize_url, ALICE.username, ALICE.password)
    assert params["state"] == start.state
    # Change the last character to a different one (a random state may already end in "A").
    flipped = start.state[:-1] + ("B" if start.state.endswith("A") else "A")
    for tampered in ({**params, "state": flipped}, {k: v for k, v in params.items() if k != "state"}):
        with pytest.raises(Unauthenticated):
            check_callback(config, tampered, start.state)
    with pytest.raises(Unauthenticated):
        check_callback(config, params, "")  # no state kept in the session


def test_oidc_login_callback_from_another_issuer_fails(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider)
    start = begin_login(config, REDIRECT_URI, cache=cache)
    params = provider.sign_in(start.authorize_url, ALICE.username, ALICE.password)
    assert params["iss"] == provider.issuer  # RFC 9207, which this provider implements
    with pytest.raises(Unauthenticated):
        check_callback(config, {**params, "iss": "http://127.0.0.1:1"}, start.state)


def test_oidc_login_error_callback_is_unauthenticated(provider: OidcProvider) -> None:
    with pytest.raises(Unauthenticated):
        check_callback(_config(provider), {"error": "access_denied", "state": "s"}, "s")


def test_oidc_login_code_used_twice_fails(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider)
    start, code = _sign_in(provider, config, cache)
    finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache)
    with pytest.raises(Unauthenticated):
        finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache)


def test_oidc_login_algorithm_not_allowed_fails(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider, id_token_algorithms=("ES256",))  # this client's tokens are RS256
    start, code = _sign_in(provider, config, cache)
    with pytest.raises(Unauthenticated):
        finish_login(config, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache)


def test_oidc_login_forged_id_token_signature_fails(provider: OidcProvider, cache: OidcProviderCache) -> None:
    # Claims the provider would accept, signed by a key of ours under the provider's key id.
    config = _config(provider)
    metadata = cache.metadata(config)
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": config.client_id, "sub": ALICE.sub, "iat": now, "exp": now + 60}
    forged = jwt.encode({"alg": "RS256", "kid": "rsa-1"}, {**claims, "nonce": "n"}, RSAKey.generate_key(2048))
    with pytest.raises(Unauthenticated):
        oidc_login._verify_id_token(config, metadata, cache, forged, "n")


def test_oidc_login_wrong_client_secret_is_an_operator_error(provider: OidcProvider, cache: OidcProviderCache) -> None:
    config = _config(provider)
    start, code = _sign_in(provider, config, cache)
    wrong = dataclasses.replace(config, client_secret="not-the-secret")
    with pytest.raises(HubError) as caught:
        finish_login(wrong, REDIRECT_URI, code, start.code_verifier, start.nonce, cache=cache)
    assert (caught.value.status, caught.value.code) == (500, "OidcConfigError")


def test_oidc_login_issuer_mismatch_is_an_operator_error(provider: OidcProvider, cache: OidcProviderCache) -> None:
    with pytest.raises(HubError) as caught:
        begin_login(_config(provider, issuer=provider.issuer + "/"), REDIRECT_URI, cache=cache)
    assert caught.value.code == "OidcConfigError"


def test_oidc_login_unreachable_provider_is_service_unavailable(cache: OidcProviderCache) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening
        config = OidcConfig(issuer=issuer, client_id="csghub", timeout=2)
        with pytest.raises(ServiceUnavailable) as caught:
            begin_login(config, REDIRECT_URI, cache=cache)
    assert caught.value.status == 503


def test_oidc_login_discovery_is_fetched_once(provider: OidcProvider) -> None:
    fetched: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda request: fetched.append(request.url.path)]}) as http:
        cache = OidcProviderCache(http)
        config = _config(provider)
        for _ in range(3):
            begin_login(config, REDIRECT_URI, cache=cache)
    assert fetched == ["/.well-known/openid-configuration"]


@pytest.mark.parametrize("changes", [{"issuer": "ftp://x"}, {"scopes": ("profile",)}, {"client_id": ""}])
def test_oidc_config_rejects_bad_settings(provider: OidcProvider, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _config(provider, **changes)
