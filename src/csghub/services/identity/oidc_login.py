"""Sign-in through an OpenID Connect provider: the authorization code flow with PKCE (S256).

Owns the protocol side only: building the authorization URL, checking the callback, exchanging the
code, verifying the ID token and reading claims into an ExternalIdentity. The caller keeps state, nonce
and code_verifier in the person's session between begin_login and finish_login, and creates accounts.
Calls are synchronous (httpx.Client); async callers run them in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from csghub.core.errors import HubError, ServiceUnavailable, Unauthenticated
from csghub.services.identity.external_identity import ExternalIdentity

log = logging.getLogger(__name__)

SIGN_IN_FAILED = "Sign-in with the identity provider failed"


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str  # exactly as the provider spells it in its discovery document and ID tokens
    client_id: str
    client_secret: str = ""  # empty: a public client, which PKCE alone protects
    scopes: tuple[str, ...] = ("openid", "profile", "email", "groups")
    # A claim name, or a dotted path into nested claims ("realm_access.roles").
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    id_token_algorithms: tuple[str, ...] = ("RS256", "ES256")
    clock_skew_s: int = 60
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.issuer.startswith(("https://", "http://")):
            raise ValueError(f"oidc issuer must be an http(s) URL, not {self.issuer!r}")
        if "openid" not in self.scopes:
            raise ValueError("oidc scopes must include 'openid'")
        if not self.client_id:
            raise ValueError("oidc client_id is required")


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    token_auth_methods: tuple[str, ...]


class OidcLoginStart(NamedTuple):
    authorize_url: str
    state: str
    nonce: str
    code_verifier: str


class OidcProviderCache:
    """Discovery documents and signing keys per issuer, plus the HTTP client that fetches them.

    Build one per hub (not per request) so discovery is fetched once per `ttl_s`; keys are fetched again
    early when a token names a key we have not seen, which is how providers rotate keys.
    """

    def __init__(self, http: httpx.Client | None = None, ttl_s: float = 3600.0) -> None:
        self.http = http or httpx.Client()
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    def metadata(self, config: OidcConfig) -> ProviderMetadata:
        with self._lock:
            cached = self._metadata.get(config.issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        url = config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = _get_json(self.http, url, config.timeout)
        # OpenID Connect Discovery 4.3: the document must name the issuer we asked for, exactly.
        if doc.get("issuer") != config.issuer:
            raise _misconfigured(f"discovery names issuer {doc.get('issuer')!r}, configured {config.issuer!r}")
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise _misconfigured("the provider does not support PKCE with S256")
        try:
            metadata = ProviderMetadata(
                issuer=config.issuer,
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                userinfo_endpoint=str(doc.get("userinfo_endpoint") or ""),
                token_auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or ()),
            )
        except KeyError as exc:
            raise _misconfigured(f"discovery document lacks {exc}") from None
        with self._lock:
            self._metadata[config.issuer] = (time.monotonic() + self._ttl_s, metadata)
        return metadata

    def keys(self, config: OidcConfig, metadata: ProviderMetadata, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._keys.get(metadata.jwks_uri)
        if cached and cached[0] > time.monotonic() and not refresh:
            return cached[1]
        doc = _get_json(self.http, metadata.jwks_uri, config.timeout)
        # Encryption keys and kinds we cannot use would only make the import fail.
        usable = [k for k in doc.get("keys") or [] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        try:
            key_set = KeySet.import_key_set({"keys": usable})
        except JoseError as exc:
            raise _misconfigured(f"cannot read the provider's signing keys: {exc}") from exc
        with self._lock:
            self._keys[metadata.jwks_uri] = (time.monotonic() + self._ttl_s, key_set)
        return key_set


def begin_login(config: OidcConfig, redirect_uri: str, *, cache: OidcProviderCache) -> OidcLoginStart:
    """Where to send the browser, and the three secrets to keep in the session until the callback."""
    metadata = cache.metadata(config)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)  # 86 characters, inside RFC 7636's 43..128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    return OidcLoginStart(f"{metadata.authorization_endpoint}{separator}{query}", state, nonce, code_verifier)


def check_callback(config: OidcConfig, params: Mapping[str, str], expected_state: str) -> str:
    """The authorization code from the callback's query, once it is shown to answer our request."""
    if "error" in params:
        log.info("OIDC provider %s refused the sign-in: %s", config.issuer, params.get("error"))
        raise Unauthenticated(SIGN_IN_FAILED)
    # The state ties the callback to this browser's session (CSRF); compare in constant time.
    if not expected_state or not hmac.compare_digest(params.get("state", ""), expected_state):
        raise Unauthenticated(SIGN_IN_FAILED)
    # RFC 9207: a provider that names itself must name the one we sent the person to (mix-up attacks).
    if "iss" in params and params["iss"] != config.issuer:
        raise Unauthenticated(SIGN_IN_FAILED)
    code = params.get("code", "")
    if not code:
        raise Unauthenticated(SIGN_IN_FAILED)
    return code


def finish_login(
    config: OidcConfig, redirect_uri: str, code: str, code_verifier: str, nonce: str, *, cache: OidcProviderCache
) -> ExternalIdentity:
    """Exchange the code, verify the ID token, and read who the person is."""
    metadata = cache.metadata(config)
    tokens = _exchange_code(config, metadata, cache.http, redirect_uri, code, code_verifier)
    claims = _verify_id_token(config, metadata, cache, str(tokens.get("id_token", "")), nonce)
    wanted = (config.username_claim, config.groups_claim, "email", "name")
    access_token = tokens.get("access_token")
    # Providers often keep profile claims out of the ID token (OIDC Core 5.4): ask the userinfo endpoint.
    if metadata.userinfo_endpoint and access_token and any(_claim(claims, c) is None for c in wanted):
        headers = {"Authorization": f"Bearer {access_token}"}
        userinfo = _get_json(cache.http, metadata.userinfo_endpoint, config.timeout, headers)
        # OIDC Core 5.3.2: userinfo about anyone else must not be mixed in.
        if userinfo.get("sub") != claims["sub"]:
            raise Unauthenticated(SIGN_IN_FAILED)
        claims = {**userinfo, **claims}  # the signed ID token wins where both speak
    username = _claim(claims, config.username_claim)
    if not isinstance(username, str) or not username:
        log.warning("OIDC provider %s sent no %r claim", config.issuer, config.username_claim)
        raise Unauthenticated(f"The identity provider did not say who you are (no {config.username_claim!r})")
    email = claims.get("email")
    # An address the provider has not verified must not be trusted to match an existing account.
    if not isinstance(email, str) or claims.get("email_verified") is False:
        email = ""
    groups = _claim(claims, config.groups_claim)
    if isinstance(groups, str):
        groups = [groups]
    names = sorted({g for g in groups if isinstance(g, str) and g}) if isinstance(groups, list) else []
    name = claims.get("name")
    return ExternalIdentity(
        username=username,
        email=email,
        full_name=name if isinstance(name, str) else "",
        groups=tuple(names),
        source="oidc",
        subject=str(claims["sub"]),
    )


def _exchange_code(
    config: OidcConfig, metadata: ProviderMetadata, http: httpx.Client, redirect_uri: str, code: str, verifier: str
) -> dict[str, Any]:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    auth = httpx.Auth()  # the base class sends the request as it is
    methods = metadata.token_auth_methods
    if not config.client_secret:
        data["client_id"] = config.client_id
    elif "client_secret_basic" in methods or not methods:  # basic is the default (OIDC Discovery 3)
        # RFC 6749 2.3.1: id and secret are form-encoded before they go into the Basic header.
        auth = httpx.BasicAuth(quote(config.client_id, safe=""), quote(config.client_secret, safe=""))
    else:
        data |= {"client_id": config.client_id, "client_secret": config.client_secret}
    try:
        response = http.post(metadata.token_endpoint, data=data, auth=auth, timeout=config.timeout)
    except httpx.HTTPError as exc:
        raise _unreachable(config, exc) from exc
    body = _json_body(response)
    if response.status_code >= 500:
        raise _unreachable(config, f"token endpoint answered {response.status_code}")
    if response.status_code != 200:
        error = body.get("error")
        log.info("OIDC token endpoint of %s refused the code: %s", config.issuer, error)
        if error == "invalid_client":
            raise _misconfigured("the provider does not accept the client id and secret")
        raise Unauthenticated(SIGN_IN_FAILED)
    if not body.get("id_token"):
        raise _misconfigured("the token endpoint returned no id_token (is 'openid' in scopes?)")
    return body


def _verify_id_token(
    config: OidcConfig, metadata: ProviderMetadata, cache: OidcProviderCache, id_token: str, nonce: str
) -> dict[str, Any]:
    algorithms = list(config.id_token_algorithms)
    try:
        try:
            token = jwt.decode(id_token, cache.keys(config, metadata), algorithms=algorithms)
        except InvalidKeyIdError:
            # The provider rotated its keys since we fetched them.
            token = jwt.decode(id_token, cache.keys(config, metadata, refresh=True), algorithms=algorithms)
        required: jwt.ClaimsOption = {"essential": True}
        jwt.JWTClaimsRegistry(
            leeway=config.clock_skew_s,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.client_id},
            sub=required,
            exp=required,
            iat=required,
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except JoseError as exc:
        log.warning("Rejected an ID token from %s: %s", config.issuer, exc)
        raise Unauthenticated(SIGN_IN_FAILED) from exc
    claims = dict(token.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    # OIDC Core 3.1.3.7: with other audiences, or an azp at all, azp must be us.
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != config.client_id:
        raise Unauthenticated(SIGN_IN_FAILED)
    return claims


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    # Exact names first: some providers use URLs (with dots) as claim names.
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _get_json(http: httpx.Client, url: str, timeout: float, headers: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        response = http.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"The identity provider at {url} cannot be reached") from exc
    if response.status_code != 200:
        raise ServiceUnavailable(f"The identity provider answered {response.status_code} for {url}")
    body = _json_body(response)
    if not body:
        raise ServiceUnavailable(f"The identity provider sent no JSON object from {url}")
    return body


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unreachable(config: OidcConfig, reason: object) -> ServiceUnavailable:
    log.warning("OIDC provider %s failed: %s", config.issuer, reason)
    return ServiceUnavailable(f"The identity provider at {config.issuer} cannot be reached")


def _misconfigured(reason: str) -> HubError:
    # The hub's settings or the provider's setup are wrong: an operator problem, logged for them.
    log.error("OIDC provider misconfigured: %s", reason)
    return HubError(f"The identity provider is misconfigured: {reason}", code="OidcConfigError")
