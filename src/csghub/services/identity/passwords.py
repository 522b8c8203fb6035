"""Password rules and hashing (argon2): what a new password must satisfy, and checking one."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from csghub.core.errors import InvalidArgument

MIN_LENGTH = 8
MAX_LENGTH = 256
# The most common passwords of at least MIN_LENGTH characters; guessed first by every attacker.
_COMMON = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyui",
        "qwertyuiop",
        "iloveyou",
        "11111111",
        "00000000",
        "abc12345",
        "abcd1234",
        "admin123",
        "administrator",
        "letmein1",
        "welcome1",
        "passw0rd",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "trustno1",
        "changeme",
    }
)
_hasher = PasswordHasher()


def check_password_strength(password: str, *, username: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidArgument(f"Password is too short: use at least {MIN_LENGTH} characters", code="WeakPassword")
    if len(password) > MAX_LENGTH:
        raise InvalidArgument(f"Password is too long: use at most {MAX_LENGTH} characters", code="WeakPassword")
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) < 4:
        raise InvalidArgument("Password is too easy to guess: choose a less common one", code="WeakPassword")
    if username and username.lower() in lowered:
        raise InvalidArgument("Password must not contain the user name", code="WeakPassword")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
