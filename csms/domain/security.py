"""Which WebSocket handshakes a charger's security profile admits (OCPP security profiles).

Pure: the gateway says how the socket came in (:class:`Transport`), which client certificate
common name TLS verified, and which Basic password the request carried; :func:`refusal` says
why not, or ``None``. Profiles (1.6 Security Whitepaper, 2.0.1 Part 2 A00):

====  ==========================================  ==========================================
      transport it needs                           proof of identity
====  ==========================================  ==========================================
0, 1  any (plain ``ws://`` is enough)              Basic auth, if the charger has a password
2     TLS (``wss://``)                             Basic auth, if the charger has a password
3     TLS with a client certificate that chains   the certificate: its subject CN must be the
      to the configured client CA                  charger id; Basic auth is not looked at
====  ==========================================  ==========================================

A stronger transport than the profile needs is fine (a profile-1 charger may use ``wss://``);
a weaker one is refused with 403, so a charger moved to profile 2 or 3 can never come back
over a lower one (SW A05.FR.09, P2 A05.FR.07). Reasons name no secret: they are logged and
sent back in the HTTP answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from csms.domain.credentials import verify_password
from csms.domain.model import Charger

FORBIDDEN = 403
UNAUTHORIZED = 401


class Transport(IntEnum):
    """How a socket reached us, weakest first: the profile level it can carry."""

    PLAIN = 1  # ws://
    TLS = 2  # wss:// without a client certificate
    MUTUAL_TLS = 3  # wss:// with a client certificate verified against our client CA

    @property
    def label(self) -> str:
        return {1: "ws", 2: "wss", 3: "wss+client-cert"}[self.value]


@dataclass(frozen=True, slots=True)
class HandshakeCredentials:
    """What a handshake proved: its transport, the verified certificate's CN, the password."""

    transport: Transport = Transport.PLAIN
    password: str | None = None
    client_cn: str | None = None  # only with Transport.MUTUAL_TLS


@dataclass(frozen=True, slots=True)
class Refusal:
    http_status: int
    reason: str


def refusal(charger: Charger, credentials: HandshakeCredentials) -> Refusal | None:
    """Why ``charger`` may not connect with ``credentials``, or ``None`` if it may."""
    profile = charger.security_profile
    transport = credentials.transport
    if profile >= 3:
        if transport is not Transport.MUTUAL_TLS:
            return Refusal(FORBIDDEN, "security profile 3 needs TLS with a client certificate")
        if credentials.client_cn != charger.id:
            return Refusal(
                FORBIDDEN,
                f"client certificate CN {credentials.client_cn!r} is not the charger id",
            )
        return None  # mutual TLS is the proof; profile 3 has no Basic auth
    if profile == 2 and transport < Transport.TLS:
        return Refusal(FORBIDDEN, "security profile 2 needs TLS (wss://)")
    if charger.password_hash is not None:
        if credentials.password is None:
            return Refusal(UNAUTHORIZED, "credentials required")
        if not verify_password(credentials.password, charger.password_hash):
            return Refusal(UNAUTHORIZED, "invalid credentials")
    return None
