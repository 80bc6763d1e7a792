"""On SQLite, the reads of every connect (charger, connectors, API key) skip the ORM session
(``lean_reads``): they must return exactly what the ORM repositories return."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from csms.domain.model import (
    ApiKey,
    Charger,
    ConnectorState,
    Protocol,
    RegistrationStatus,
)
from csms.domain.ports import UnitOfWork
from csms.storage.sql import SqlDatabase

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _full_charger() -> Charger:
    return Charger(
        id="CP-LEAN",
        password_hash="pbkdf2$hash",
        registration_status=RegistrationStatus.PENDING,
        boot_accepted=True,
        protocol=Protocol.V16,
        allow_missing_subprotocol=True,
        security_profile=2,
        vendor="V",
        model="M",
        serial_number="S",
        firmware_version="F",
        boot_reason="PowerUp",
        last_boot_at=T0.astimezone(timezone(timedelta(hours=2))),  # stored as UTC
        last_seen=T0.replace(microsecond=0),
        online=True,
        created_at=T0 - timedelta(days=1),
    )


async def test_lean_charger_connector_and_api_key_reads_equal_the_orm_ones(
    sqlite_db: tuple[SqlDatabase, Path],
) -> None:
    """A charger with every field set, a bare one, its connectors and API keys read alike."""
    db, _ = sqlite_db
    bare = Charger(id="CP-BARE")
    connectors = [
        ConnectorState("CP-LEAN", 2, 1, "Faulted", "GroundFailure", "info", T0, "NL*CSM*E2"),
        ConnectorState("CP-LEAN", 1, 2, "Available"),
        ConnectorState("CP-LEAN", 1, 1, "Charging", None, None, T0, None),
    ]
    keys = [
        ApiKey("k1", "ops", "hash1", ["operator"], T0),
        ApiKey("k2", "old", "hash2", ["sessions", "operator"], T0, T0 + timedelta(hours=1)),
    ]

    async def store(uow: UnitOfWork) -> None:
        await uow.chargers.add(_full_charger())
        await uow.chargers.add(bare)
        for state in connectors:
            await uow.chargers.set_connector(state)
        for key in keys:
            await uow.api_keys.add(key)

    await db.write(store)

    async def look(uow: UnitOfWork) -> tuple[object, ...]:
        return (
            await uow.chargers.get("CP-LEAN"),
            await uow.chargers.get("CP-BARE"),
            await uow.chargers.get("CP-NONE"),
            await uow.chargers.connectors("CP-LEAN"),
            await uow.chargers.connectors("CP-NONE"),
            await uow.api_keys.get("k1"),
            await uow.api_keys.get("k2"),
            await uow.api_keys.get("k3"),
        )

    lean = await db.read(look)
    orm = await db.write(look)  # a write's unit of work always reads through the ORM
    assert lean == orm
    assert lean[0] == _full_charger()
    assert lean[0].registration_status is RegistrationStatus.PENDING  # type: ignore[union-attr]
    assert lean[0].protocol is Protocol.V16  # type: ignore[union-attr]
    assert lean[1] == bare and lean[2] is None
    assert [(c.evse_id, c.connector_id) for c in lean[3]] == [(1, 1), (1, 2), (2, 1)]  # type: ignore[attr-defined]
    assert lean[5:] == (keys[0], keys[1], None)


async def test_a_lean_read_uses_the_orm_for_what_it_does_not_cover(
    sqlite_db: tuple[SqlDatabase, Path],
) -> None:
    """Other calls on the read's repositories still work (through an ORM session)."""
    db, _ = sqlite_db
    await db.write(lambda uow: uow.chargers.add(Charger(id="B")))
    await db.write(lambda uow: uow.chargers.add(Charger(id="A")))
    listed = await db.read(lambda uow: uow.chargers.list())
    assert [c.id for c in listed] == ["A", "B"]
    assert await db.read(lambda uow: uow.api_keys.list()) == []


async def test_lean_reads_leave_no_read_open_that_would_hold_back_a_checkpoint(
    sqlite_db: tuple[SqlDatabase, Path],
) -> None:
    """After reads, another connection can checkpoint the whole WAL (no reader pins it)."""
    db, path = sqlite_db
    for n in (1, 2, 3):  # several rows: a statement stepped only part way would stay open
        state = ConnectorState("CP0", 1, n, "Available")
        await db.write(lambda uow, state=state: uow.chargers.set_connector(state))
    for n in range(5):
        await db.write(lambda uow, n=n: uow.chargers.add(Charger(id=f"CP{n}")))
        await db.read(lambda uow: uow.chargers.get("CP0"))
        await db.read(lambda uow: uow.chargers.connectors("CP0"))
    other = sqlite3.connect(path)
    try:
        busy, _log_frames, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        other.close()
    assert busy == 0
    assert path.with_name(path.name + "-wal").stat().st_size == 0
