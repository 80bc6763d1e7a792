"""TLS for the OCPP listener: the server context, and what a socket's TLS session proves.

One TLS listener serves security profiles 2 and 3 (ADR 0007): the server asks every client for
a certificate but does not insist (``CERT_OPTIONAL``). A client that sends none gets a TLS
session and must then pass Basic auth (profile 2); one that sends a certificate must chain to
the client CA or OpenSSL ends the TLS handshake with an alert, before any HTTP is read (so
before we know which charger it claims to be). Whether a charger *needed* a certificate is the
domain's decision (:mod:`csms.domain.security`), made from :func:`handshake_transport`.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection

from csms.domain.security import Transport

# Python's default TLS 1.2 suites (forward secret only) plus the two static-RSA AES-GCM suites
# that OCPP requires a CSMS to offer to RSA chargers (1.6 SW A00.FR.317, 2.0.1 P2 A00.FR.318);
# the ECDHE-ECDSA/RSA-AES-GCM ones are in the defaults. TLS 1.3 suites are OpenSSL's.
CIPHERS = (
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
    ":AES128-GCM-SHA256:AES256-GCM-SHA384"
)


def server_context(cert_file: Path, key_file: Path | None) -> ssl.SSLContext:
    """The listener's context: TLS 1.2 at least, no TLS compression, no client certificates yet.

    Raises ``OSError`` or ``ssl.SSLError`` for a file that is missing or not PEM (the caller
    names the config key).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # SW A00.FR.312-314, P2 A00.FR.313-315
    context.options |= ssl.OP_NO_COMPRESSION  # P2 A00.FR.321 (OpenSSL's default too)
    context.set_ciphers(CIPHERS)
    context.load_cert_chain(cert_file, key_file)
    return context


def ask_client_certificates(context: ssl.SSLContext, client_ca_file: Path) -> None:
    """Ask every client for a certificate chaining to ``client_ca_file``, without insisting.

    Without this no socket is ever :attr:`Transport.MUTUAL_TLS`, so profile-3 chargers are
    refused. Raises ``OSError`` or ``ssl.SSLError`` for a file that is missing or not PEM.
    """
    context.load_verify_locations(cafile=client_ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL


def handshake_transport(connection: ServerConnection) -> tuple[Transport, str | None]:
    """(transport, verified client certificate CN) of a socket in its opening handshake."""
    ssl_object = connection.transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return Transport.PLAIN, None
    # With CERT_OPTIONAL a certificate that did not verify ended the TLS handshake, so any
    # certificate seen here chains to the client CA; no certificate gives None.
    cert = ssl_object.getpeercert()
    if not cert:
        return Transport.TLS, None
    return Transport.MUTUAL_TLS, common_name(cert)


def common_name(cert: dict[str, Any]) -> str | None:
    """The subject's CN from :meth:`ssl.SSLSocket.getpeercert`'s dict; None unless exactly one."""
    names = [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]
    return names[0] if len(names) == 1 else None
