"""Secrets kept at rest (spaces' secrets, mirror sources' tokens): AES-GCM under a key derived with
HKDF-SHA256 from the hub's secret key and a purpose, each ciphertext bound by its associated data to the
row it belongs to, so one copied into another row does not decrypt."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PREFIX = "v1:"
_NONCE = 12


def derive_key(secret_key: str, purpose: bytes) -> bytes:
    """The 32-byte key for one purpose (HKDF `info`), from the hub's secret key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())


def seal(key: bytes, plaintext: str, context: str) -> str:
    """ "v1:" + base64(nonce + ciphertext), bound to `context` (the associated data)."""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return _PREFIX + base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, text: str, context: str) -> str | None:
    """The plaintext, or None when it does not decrypt (another key, another context, or damaged)."""
    if not text.startswith(_PREFIX):
        return None
    try:
        raw = base64.b64decode(text[len(_PREFIX) :], validate=True)
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
    except (InvalidTag, ValueError, binascii.Error):
        return None
