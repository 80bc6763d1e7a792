"""Credentials: salted password hashes for charger Basic auth, and HTTP API keys.

PBKDF2-SHA256 from the standard library; the iteration count is stored with each hash so it
can be raised later without invalidating stored credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

DEFAULT_ITERATIONS = 20_000


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"pbkdf2_sha256${iterations}${salt_b64}${digest_b64}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False on any malformed hash."""
    try:
        scheme, iterations, salt_b64, digest_b64 = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Charger Basic auth passwords. 1.6 (security whitepaper ed. 3, AuthorizationKey; OCTT TC_073):
# 16 to 20 bytes, written to the charger hex-encoded (at most 40 hex digits). 2.0.1 (Part 2
# A00.FR.205, passwordString): 16 to 40 characters, sent as they are. Characters are limited to
# the identifierString set (a-z, A-Z, 0-9 and * - _ = : + | @ .): printable ASCII, one byte
# each, no space -- safe in a Basic auth header and in every charger's configuration store.
PASSWORD_MIN = 16
PASSWORD_MAX = {"1.6": 20, "2.0.1": 40}
PASSWORD_CHARACTERS = frozenset(string.ascii_letters + string.digits + "*-_=:+|@.")
_GENERATED = string.ascii_letters + string.digits
GENERATED_LENGTH = 20  # fits both versions; 20 of 62 symbols is 119 bits


def new_password() -> str:
    """A random 20-character alphanumeric password, valid for 1.6 and 2.0.1 chargers alike."""
    return "".join(secrets.choice(_GENERATED) for _ in range(GENERATED_LENGTH))


def password_problem(password: str, version: str | None) -> str | None:
    """Why ``password`` cannot be a charger password on OCPP ``version`` (None = either), or None.

    The message never contains the password itself.
    """
    longest = PASSWORD_MAX.get(version or "", min(PASSWORD_MAX.values()))
    if not PASSWORD_MIN <= len(password) <= longest:
        where = f"on OCPP {version}" if version else "for a charger of unknown version"
        return f"must be {PASSWORD_MIN} to {longest} characters {where}, not {len(password)}"
    if not set(password) <= PASSWORD_CHARACTERS:
        return "may only contain a-z, A-Z, 0-9 and * - _ = : + | @ ."
    return None


def authorization_key(password: str) -> str:
    """The 1.6 ``AuthorizationKey`` value of a password: its bytes as upper-case hex (TC_073)."""
    return password.encode().hex().upper()


API_KEY_PREFIX = "csk"


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key as ``(key_id, secret, full_key)``; the full key is shown once.

    The full key reads ``csk_<key id>_<secret>``. The key id finds the stored record; only a
    SHA-256 of the 256-bit random secret is kept (a slow hash adds nothing at that entropy).
    """
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{API_KEY_PREFIX}_{key_id}_{secret}"


def split_api_key(key: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a presented key, or None when it is not one of ours."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != API_KEY_PREFIX or not key_id or not secret:
        return None
    return key_id, secret


def hash_api_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_api_secret(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_api_secret(secret), stored_hash)
