"""Password hashing and handshake parsing helpers."""

from __future__ import annotations

import base64

from websockets.datastructures import Headers

from csms.domain.credentials import hash_password, new_password, verify_password
from csms.gateway.server import basic_password, charger_id_from_path


def test_password_hash_is_salted_and_verifies() -> None:
    """Two hashes of one password differ (salt), both verify, a wrong password does not."""
    first, second = hash_password("s3cret-password!"), hash_password("s3cret-password!")
    assert first != second and "s3cret" not in first
    assert verify_password("s3cret-password!", first) and verify_password(
        "s3cret-password!", second
    )
    assert not verify_password("wrong", first)
    assert not verify_password("x", "garbage")


def test_generated_passwords_fit_both_versions() -> None:
    """Generated passwords are 16-40 characters (2.0.1 passwordString, 1.6 AuthorizationKey)."""
    assert 16 <= len(new_password()) <= 40


def test_charger_id_from_path() -> None:
    """Ids come from /ocpp/<id> or /<id>, percent-decoded, at most 48 chars, no colon."""
    assert charger_id_from_path("/ocpp/CP%201") == "CP 1"
    assert charger_id_from_path("/CP1") == "CP1"
    assert charger_id_from_path("/ocpp/") is None
    assert charger_id_from_path("/a/b/c") is None
    assert charger_id_from_path("/ocpp/" + "x" * 49) is None
    assert charger_id_from_path("/ocpp/a:b") is None


def test_basic_password_requires_matching_user() -> None:
    """The Basic user must be the charger id; malformed headers are flagged."""
    good = Headers({"Authorization": "Basic " + base64.b64encode(b"CP1:pw").decode()})
    assert basic_password(good, "CP1") == (True, "pw")
    assert basic_password(good, "CP2") == (False, None)
    assert basic_password(Headers({"Authorization": "Bearer x"}), "CP1") == (False, None)
    assert basic_password(Headers(), "CP1") == (True, None)
