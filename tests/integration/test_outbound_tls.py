"""TLS through the guarded client: the connection goes to the checked address, yet the certificate is
verified against the host name (and SNI names it), so pinning the address never weakens TLS."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csghub.net.client import upstream_client
from csghub.net.guard import AddressRules


def _certificate(name: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        sni = getattr(self.server, "sni", "")
        body = f"sni={sni}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 whose self-signed certificate names only `hub.test`, trusted through
    SSL_CERT_FILE as an administrator would trust a private CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("hub.test", key)
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def remember_sni(sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        httpd.sni = name or ""  # type: ignore[attr-defined]

    context.sni_callback = remember_sni
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_tls_verifies_the_host_name_at_the_pinned_address(tls_server: int) -> None:
    rules = AddressRules(allow_hosts=["hub.test"], resolve=lambda host, port: ["127.0.0.1"])
    with upstream_client(rules, timeout=5) as client:
        answer = client.get(f"https://hub.test:{tls_server}/")
    assert answer.text == "sni=hub.test"


def test_tls_refuses_a_certificate_for_another_name(tls_server: int) -> None:
    rules = AddressRules(allow_hosts=["other.test"], resolve=lambda host, port: ["127.0.0.1"])
    with upstream_client(rules, timeout=5) as client, pytest.raises(httpx.ConnectError, match="certificate"):
        client.get(f"https://other.test:{tls_server}/")
