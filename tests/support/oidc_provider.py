"""A real OpenID Connect provider for tests: panva's certified oidc-provider, run by node on loopback.

The npm packages live in tests/support/oidc/node_modules (`npm ci` there; scripts/bootstrap --dev does
it), so nothing is fetched at test time. `sign_in()` plays the browser: it follows the provider's
redirects, fills in the login form and stops at the client's redirect URI, returning its query.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

PROVIDER_DIR = Path(__file__).parent / "oidc"
STARTUP_TIMEOUT = 30.0
_LISTEN_RE = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True, slots=True)
class OidcUser:
    sub: str
    username: str
    password: str
    email: str
    name: str
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OidcClient:
    client_id: str
    # Empty: a public client that authenticates with PKCE alone.
    client_secret: str
    # "RS256" or "ES256": the provider signs this client's ID tokens with it.
    id_token_alg: str = "RS256"


@dataclass
class OidcProvider:
    workdir: Path
    redirect_uri: str
    clients: tuple[OidcClient, ...]
    users: tuple[OidcUser, ...]
    issuer: str = ""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def start(self) -> OidcProvider:
        node = shutil.which("node")
        if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("node and the test provider's packages are needed: run scripts/bootstrap --dev")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "oidc-provider.log"
        env = {**os.environ, "CSGHUB_TEST_OIDC_CONFIG": json.dumps(self._config())}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [node, "provider.mjs"], cwd=PROVIDER_DIR, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            match = _LISTEN_RE.search(self.log_path.read_text(errors="replace"))
            if match and self._ready(match[1]):
                self.issuer = match[1]
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"oidc-provider did not start:\n{self.log_path.read_text(errors='replace')}")

    def _config(self) -> dict[str, object]:
        return {
            "clients": [
                {
                    "client_id": c.client_id,
                    "redirect_uris": [self.redirect_uri],
                    "response_types": ["code"],
                    "grant_types": ["authorization_code"],
                    "id_token_signed_response_alg": c.id_token_alg,
                    **(
                        {"client_secret": c.client_secret}
                        if c.client_secret
                        else {"token_endpoint_auth_method": "none"}
                    ),
                }
                for c in self.clients
            ],
            "users": [
                {
                    "sub": u.sub,
                    "password": u.password,
                    "claims": {
                        "preferred_username": u.username,
                        "email": u.email,
                        "email_verified": True,
                        "name": u.name,
                        "groups": list(u.groups),
                    },
                }
                for u in self.users
            ],
        }

    @staticmethod
    def _ready(issuer: str) -> bool:
        try:
            return httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def sign_in(self, authorize_url: str, username: str, password: str) -> dict[str, str]:
        """Drive the provider's pages like a browser; return the query sent back to the redirect URI."""
        with httpx.Client(timeout=10) as browser:
            response = browser.get(authorize_url)
            for _ in range(20):
                if response.status_code in (301, 302, 303, 307, 308):
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(self.redirect_uri):
                        return dict(parse_qsl(urlsplit(location).query))
                    response = browser.get(location)
                elif response.status_code == 200 and 'name="password"' in response.text:
                    action = re.search(r'action="([^"]+)"', response.text)
                    assert action is not None, response.text
                    form = {"username": username, "password": password}
                    response = browser.post(urljoin(str(response.url), action[1]), data=form)
                else:
                    raise AssertionError(f"unexpected provider answer {response.status_code}: {response.text[:500]}")
        raise AssertionError("the provider never redirected back to the client")
