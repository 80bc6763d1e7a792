"""How a charger proves itself in the WebSocket handshake, shared by ``link`` and ``fleet``.

OCPP security profiles 1 and 2: HTTP Basic auth with the charger id as the user and the
charger's password (1.6 AuthorizationKey, 2.0.1 BasicAuthPassword). Profiles 2 and 3 add TLS:
the server is checked against ``ca_file`` (else the system's trusted CAs), and profile 3 shows a
client certificate. No I/O here but reading the certificate files.
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path


def basic_auth(charger_id: str, password: str | None) -> dict[str, str]:
    """The handshake's ``Authorization`` header; no header without a password."""
    if password is None:
        return {}
    secret = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {secret}"}


def client_tls(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client TLS context (TLS 1.2 at least) trusting ``ca_file`` or the system's CAs."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context
