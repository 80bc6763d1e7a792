"""Shared fixtures: a real CSMS (real SQLite file, real WebSocket server on port 0)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from csms.bootstrap import Csms, start_csms
from csms.config import ApiConfig, Config, OcppConfig, SessionsConfig, StorageConfig
from csms.domain.credentials import hash_password
from csms.domain.events import DomainEvent
from csms.domain.model import Charger, IdToken, RegistrationStatus, TokenStatus

MakeCsms = Callable[..., Awaitable[Csms]]


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """A config on a fresh SQLite file with the OCPP server on an ephemeral loopback port."""
    base = Config(
        ocpp=OcppConfig(host="127.0.0.1", port=0, call_timeout=5.0, ping_interval=0),
        api=ApiConfig(host="127.0.0.1", port=0),
        storage=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"),
        sessions=SessionsConfig(plugin_timeout=120.0, expiry_check_interval=0.05),
    )
    for name, values in sections.items():
        base = dataclasses.replace(
            base, **{name: dataclasses.replace(getattr(base, name), **values)}
        )
    return base


@pytest.fixture
async def make_csms(tmp_path: Path) -> AsyncIterator[MakeCsms]:
    """Start CSMS instances on demand; all are stopped at the end of the test."""
    running: list[Csms] = []

    async def start(**sections: dict[str, Any]) -> Csms:
        csms = await start_csms(make_config(tmp_path, **sections))
        running.append(csms)
        return csms

    yield start
    for csms in running:
        await csms.stop()


@pytest.fixture
async def csms(make_csms: MakeCsms) -> Csms:
    """A running CSMS with the default test configuration."""
    return await make_csms()


def http_url(csms: Csms) -> str:
    return f"http://127.0.0.1:{csms.http.port}"


def ws_url(csms: Csms, charger_id: str) -> str:
    return f"ws://127.0.0.1:{csms.ocpp.port}/ocpp/{charger_id}"


async def add_charger(
    csms: Csms,
    charger_id: str,
    password: str | None = None,
    *,
    status: RegistrationStatus = RegistrationStatus.ACCEPTED,
    allow_missing_subprotocol: bool = False,
    security_profile: int = 1,
) -> None:
    charger = Charger(
        id=charger_id,
        password_hash=hash_password(password) if password else None,
        registration_status=status,
        allow_missing_subprotocol=allow_missing_subprotocol,
        security_profile=security_profile,
    )
    await csms.services.db.write(lambda uow: uow.chargers.add(charger))


async def add_token(
    csms: Csms, tag: str, status: TokenStatus = TokenStatus.ACCEPTED, **extra: Any
) -> None:
    token = IdToken(tag, status=status, **extra)
    await csms.services.db.write(lambda uow: uow.tokens.add(token))


async def wait_event(queue: asyncio.Queue[DomainEvent], name: str) -> DomainEvent:
    """The next event called ``name`` from a bus queue, waiting at most 5 seconds."""
    async with asyncio.timeout(5):
        while True:
            event = await queue.get()
            if event.name == name:
                return event
