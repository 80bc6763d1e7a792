"""Secrets never reach the logs, even at DEBUG, and are compared in constant time.

One real flow with every secret the CSMS handles -- charger passwords (generated, rotated, and a
wrong one), API keys of both scopes, OCPI tokens A, B and C -- with every logger of the process
at DEBUG (websockets' frame and header lines, SQLAlchemy's statements, uvicorn, httpx), then a
search of everything logged for each secret in every form it travels in.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from collections.abc import Iterator

import httpx
import pytest

from csms.bootstrap import Csms
from csms.domain import credentials
from csms.domain import events as ev
from csms.domain.model import ApiScope
from tests.conftest import MakeCsms, add_token, http_url, wait_event
from tests.e2e.conftest import api_key
from tests.e2e.test_ocpi import _register
from tests.e2e.test_password_rotation import booted, handshake
from tests.emsp import TOKEN_B, emsp
from tests.sim.conftest import in_background
from tests.sim.csms_driver import ask, play, steps, wait_call

# The charger's own side (the simulator's and test clients' websockets) may log what it sends.
CHARGER_SIDE = ("websockets.client", "charger_sim")


class Everything(logging.Handler):
    """Every record of the process, formatted as a log file would have it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CHARGER_SIDE):
            self.lines.append(self.format(record))


@pytest.fixture
def debug_log() -> Iterator[Everything]:
    """The root logger and SQLAlchemy's at DEBUG, :class:`Everything` attached, for one test."""
    root, sql = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    handler, levels = Everything(), (root.level, sql.level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sql.setLevel(logging.DEBUG)  # SQLAlchemy keeps its own loggers at WARN unless told
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        sql.setLevel(levels[1])


def _secret_of(key: str) -> str:
    parts = credentials.split_api_key(key)
    assert parts is not None
    return parts[1]


def forms(secret: str, user: str | None = None) -> set[str]:
    """A secret as it may appear: itself, Base64 (OCPI header), hex (1.6 AuthorizationKey),
    and inside a Basic auth header for ``user``."""
    found = {secret, base64.b64encode(secret.encode()).decode(), secret.encode().hex()}
    found.add(secret.encode().hex().upper())
    if user is not None:
        found.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return found


async def test_no_secret_is_logged_at_debug(make_csms: MakeCsms, debug_log: Everything) -> None:
    """A charger registered through the API (generated password), a wrong-password handshake, a
    rotation accepted by the simulator, REST and OIOI calls with both key scopes, and an OCPI
    registration and call: no password, key or token shows in any log line."""
    csms: Csms = await make_csms()
    operator_key = await api_key(csms)
    sessions_key = await api_key(csms, ApiScope.SESSIONS)
    await add_token(csms, "SIMTAG01")
    secrets = forms(operator_key) | forms(sessions_key) | forms(_secret_of(operator_key))
    bearer = {"Authorization": f"Bearer {operator_key}"}
    async with httpx.AsyncClient(base_url=http_url(csms), headers=bearer, timeout=10) as api:
        created = await api.post("/v1/chargers", json={"id": "SIM1"})
        first = created.json()["result"]["password"]
        wrong = "wrong-password-0001"
        assert await handshake(csms, "SIM1", wrong) == 401
        events = csms.services.events.queue()
        flow = steps("boot", wait_call("ChangeConfiguration"), wait_call("ClearCache"))
        async with in_background(play(csms, "1.6", flow, password=first)) as sim:
            async with asyncio.timeout(20):
                await booted(csms, "1.6", events)
                rotated = await api.post("/v1/chargers/SIM1/password", json={})
                second = rotated.json()["result"]["password"]
                await wait_event(events, ev.CHARGER_ONLINE)
                await ask(csms, "1.6", "ClearCache", {})
                await sim
        secrets |= forms(first, "SIM1") | forms(second, "SIM1") | forms(wrong, "SIM1")
        assert (await api.get("/v1/sessions")).status_code == 200
    oioi = {"Authorization": f"key={sessions_key}"}
    async with httpx.AsyncClient(base_url=http_url(csms), headers=oioi, timeout=10) as c:
        body = {
            "user-get-recent-sessions": {"user": {"identifier-type": "evco-id", "identifier": "X"}}
        }
        assert (await c.post("/oioi/v4/request", json=body)).status_code == 200
    async with emsp() as remote:
        invitation = await csms.services.roaming.invite("NL", "ABC", "Test eMSP")
        partner = await _register(csms, remote, invitation)
        async with partner.client:
            assert (await partner.client.get("/ocpi/2.2.1/locations")).status_code == 200
        secrets |= forms(invitation.token_a) | forms(TOKEN_B) | forms(partner.token_c)
    logged = "\n".join(debug_log.lines)
    leaked = sorted(s for s in secrets if s in logged)
    assert leaked == [], f"{len(leaked)} secret form(s) logged"
    assert "Authorization: [redacted]" in logged and "TEXT [redacted]" in logged
    assert "sqlalchemy.engine" in logged  # DEBUG was really on everywhere


async def test_api_keys_and_ocpi_tokens_are_compared_in_constant_time(
    csms: Csms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Authenticating an API key and an OCPI token ends in hmac.compare_digest of digests."""
    compared: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: str | bytes, b: str | bytes) -> bool:
        compared.append((a, b))
        return real(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(credentials.hmac, "compare_digest", spy)
    key = await api_key(csms)
    async with httpx.AsyncClient(base_url=http_url(csms)) as c:
        ok = await c.get("/v1/sessions", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        stored = credentials.hash_api_secret(_secret_of(key))
        assert (stored, stored) in compared
        compared.clear()
        invitation = await csms.services.roaming.invite("NL", "ABC")
        token = base64.b64encode(invitation.token_a.encode()).decode()
        versions = await c.get("/ocpi/versions", headers={"Authorization": f"Token {token}"})
        assert versions.status_code == 200
        digest = credentials.hash_api_secret(invitation.token_a)
        assert (digest, digest) in compared
