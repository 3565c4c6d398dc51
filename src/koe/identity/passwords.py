"""Password hashing with argon2id (argon2-cffi's tuned defaults)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from koe.core.errors import ValidationFailed

_hasher = PasswordHasher()
MIN_LENGTH = 8
MAX_LENGTH = 256
# A valid hash nobody's password matches: verifying against it when the login is unknown keeps
# the response time the same, so logins cannot be enumerated by timing.
_DUMMY_HASH = _hasher.hash("koe-dummy-password-for-timing")


def check_policy(password: str) -> None:
    """Refuse passwords that are too short or too long."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationFailed(
            "password_policy",
            f"パスワードは{MIN_LENGTH}〜{MAX_LENGTH}文字にしてください。",
            f"Passwords must be {MIN_LENGTH} to {MAX_LENGTH} characters long.",
        )


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` after the policy check."""
    check_policy(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored``; constant work when ``stored`` is None."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
