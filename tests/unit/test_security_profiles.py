"""Security profiles: the domain's admission decision and the gateway's TLS context."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from csms.domain.credentials import hash_password
from csms.domain.model import Charger
from csms.domain.security import HandshakeCredentials, Transport, refusal
from csms.gateway.tls import ask_client_certificates, common_name, server_context
from tests.certs import TestCa

PASSWORD = "correct-horse-battery"


def _charger(profile: int, password: str | None = PASSWORD) -> Charger:
    hashed = hash_password(password) if password else None
    return Charger(id="CP1", password_hash=hashed, security_profile=profile)


def _status(charger: Charger, transport: Transport, password: str | None, cn: str | None) -> int:
    refused = refusal(charger, HandshakeCredentials(transport, password, cn))
    return 0 if refused is None else refused.http_status


@pytest.mark.parametrize("profile", [0, 1])
@pytest.mark.parametrize("transport", list(Transport))
def test_profile_1_is_basic_auth_over_any_transport(profile: int, transport: Transport) -> None:
    """Profile 0/1: any transport; the password decides (TC_A_01-03 over ws:// and wss://)."""
    cn = "CP1" if transport is Transport.MUTUAL_TLS else None
    charger = _charger(profile)
    assert _status(charger, transport, PASSWORD, cn) == 0
    assert _status(charger, transport, "wrong-password-123", cn) == 401
    assert _status(charger, transport, None, cn) == 401
    assert _status(_charger(profile, None), transport, None, cn) == 0


def test_profile_2_needs_tls_and_basic_auth() -> None:
    """Profile 2: plain ws:// is refused with 403 even with the right password (A00.FR.002)."""
    charger = _charger(2)
    assert _status(charger, Transport.PLAIN, PASSWORD, None) == 403
    assert _status(charger, Transport.TLS, PASSWORD, None) == 0
    assert _status(charger, Transport.TLS, "wrong-password-123", None) == 401
    assert _status(charger, Transport.TLS, None, None) == 401
    assert _status(charger, Transport.MUTUAL_TLS, PASSWORD, "CP1") == 0


def test_profile_3_needs_a_client_certificate_naming_the_charger() -> None:
    """Profile 3: only mutual TLS with CN == charger id; Basic auth is not looked at."""
    charger = _charger(3)
    assert _status(charger, Transport.PLAIN, PASSWORD, None) == 403
    assert _status(charger, Transport.TLS, PASSWORD, None) == 403
    assert _status(charger, Transport.MUTUAL_TLS, None, "CP2") == 403
    assert _status(charger, Transport.MUTUAL_TLS, None, None) == 403
    assert _status(charger, Transport.MUTUAL_TLS, None, "cp1") == 403
    assert _status(charger, Transport.MUTUAL_TLS, None, "CP1") == 0
    assert _status(charger, Transport.MUTUAL_TLS, "wrong-password-123", "CP1") == 0


def test_refusal_reasons_name_no_secret() -> None:
    """Reasons go to the log and the HTTP body: never the password."""
    for profile in (1, 2, 3):
        for transport in Transport:
            refused = refusal(
                _charger(profile), HandshakeCredentials(transport, "wrong-password-123", "X")
            )
            assert refused is None or "wrong-password" not in refused.reason


def test_server_context_enforces_tls_12_and_offers_the_ocpp_suites(tmp_path: Path) -> None:
    """TC_A_06 / A00.FR.313-318, 321: TLS >= 1.2, no compression, the four required suites."""
    ca = TestCa(tmp_path)
    pair = ca.server()
    context = server_context(pair.cert, pair.key)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.verify_mode is ssl.CERT_NONE  # no client CA: no certificate asked for
    suites = {c["name"] for c in context.get_ciphers()}
    assert {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    } <= suites
    ask_client_certificates(context, ca.cert)
    assert context.verify_mode is ssl.CERT_OPTIONAL  # profile 2 clients send none


def test_server_context_fails_on_a_missing_or_bad_file(tmp_path: Path) -> None:
    """A missing certificate or a CA file that is not PEM raises at once."""
    ca = TestCa(tmp_path)
    pair = ca.server()
    with pytest.raises(OSError):
        server_context(tmp_path / "missing.pem", None)
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    context = server_context(pair.cert, pair.key)
    with pytest.raises(ssl.SSLError):
        ask_client_certificates(context, tmp_path / "junk.pem")


def test_common_name_from_peercert_needs_exactly_one() -> None:
    """The CN comes from getpeercert()'s subject; none or two CNs give None."""
    one = {"subject": ((("organizationName", "CPO"),), (("commonName", "CP1"),))}
    two = {"subject": ((("commonName", "CP1"),), (("commonName", "CP2"),))}
    assert common_name(one) == "CP1"
    assert common_name(two) is None
    assert common_name({"subject": ()}) is None
