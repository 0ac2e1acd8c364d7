"""Passwords and tokens at rest: scrypt for passwords, SHA-256 for tokens.

Passwords are hashed with scrypt from the standard library (`hashlib.scrypt`, RFC 7914): a
memory-hard function, salted per office, its parameters stored with the hash so that they can
be raised later without breaking existing logins. Tokens are 256-bit random values: one SHA-256
is enough (nothing to guess), and a leaked store holds no token an attacker could present.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "DEFAULT_COST",
    "hash_password",
    "new_password",
    "new_token",
    "token_hash",
    "verify_password",
]

DEFAULT_COST = 2**14
"""scrypt's N (with r=8, p=1: 16 MiB and some tens of milliseconds per login)."""
_R, _P = 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, cost: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=cost, r=r, p=p, dklen=_KEY_BYTES, maxmem=2**27
    )


def hash_password(password: str, *, cost: int = DEFAULT_COST) -> str:
    """`scrypt$N$r$p$salt$key` (salt and key in base64)."""
    if cost < 2 or cost & (cost - 1):
        raise ValueError("the scrypt cost is a power of 2")
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, cost, _R, _P)
    return f"{_SCHEME}${cost}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (False for anything unreadable)."""
    try:
        scheme, cost, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _derive(password, base64.b64decode(salt, validate=True), int(cost), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_password() -> str:
    """A generated password: 20 characters from the URL-safe alphabet (120 bits)."""
    return secrets.token_urlsafe(15)


def new_token() -> str:
    """A bearer token: 256 random bits."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()
