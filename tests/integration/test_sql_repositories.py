"""The SQL repositories behave like ``storage/memory.py`` on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from csms.domain.model import (
    ApiKey,
    Charger,
    ChargerEvent,
    ConnectorState,
    FailedStop,
    IdToken,
    MeterSample,
    Protocol,
    RegistrationStatus,
    Session,
    SessionStatus,
    TokenStatus,
)
from csms.domain.ports import UnitOfWork
from csms.storage.sql import SqlDatabase, create_engine, migrate

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ENERGY = "Energy.Active.Import.Register"


def _session(session_id: str, **fields: object) -> Session:
    values: dict[str, object] = {
        "charger_id": "CP1",
        "protocol": Protocol.V16,
        "status": SessionStatus.PENDING,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Session(id=session_id, **values)  # type: ignore[arg-type]


async def _add_sessions(db: SqlDatabase, *sessions: Session) -> None:
    async def work(uow: UnitOfWork) -> None:
        for session in sessions:
            await uow.sessions.add(session)

    await db.write(work)


def _ids(sessions: list[Session]) -> list[str]:
    return [s.id for s in sessions]


async def test_charger_round_trip_keeps_aware_utc_datetimes(database: SqlDatabase) -> None:
    """A charger comes back equal, its datetimes aware UTC even when saved in another zone."""
    cet = timezone(timedelta(hours=1))
    charger = Charger(
        id="CP2",
        password_hash="h",
        registration_status=RegistrationStatus.PENDING,
        protocol=Protocol.V201,
        security_profile=2,
        vendor="V",
        last_boot_at=T0.astimezone(cet),
        last_seen=T0,
        online=True,
        created_at=T0,
    )
    await database.write(lambda uow: uow.chargers.add(charger))
    await database.write(lambda uow: uow.chargers.add(Charger(id="CP1", online=True)))
    got = await database.read(lambda uow: uow.chargers.get("CP2"))
    assert got == charger
    assert got is not None and got.last_boot_at is not None
    assert got.last_boot_at.tzinfo is UTC and got.registration_status is RegistrationStatus.PENDING
    assert got.protocol is Protocol.V201
    charger.vendor = "W"
    await database.write(lambda uow: uow.chargers.save(charger))
    await database.write(lambda uow: uow.chargers.mark_all_offline())
    listed = await database.read(lambda uow: uow.chargers.list())
    assert [(c.id, c.vendor, c.online) for c in listed] == [
        ("CP1", None, False),
        ("CP2", "W", False),
    ]
    assert await database.read(lambda uow: uow.chargers.get("nope")) is None


async def test_connectors_are_upserted_and_ordered(database: SqlDatabase) -> None:
    """set_connector overwrites by (charger, evse, connector); connectors() sorts by key."""
    states = [
        ConnectorState("CP1", 2, 1, "Available", timestamp=T0),
        ConnectorState("CP1", 1, 1, "Available", evse_ref="DE*ABC*E1*1"),
        ConnectorState("CP2", 1, 1, "Faulted"),
        ConnectorState("CP1", 1, 1, "Charging", error_code="NoError", info="i", timestamp=T0),
    ]
    for state in states:
        await database.write(lambda uow, s=state: uow.chargers.set_connector(s))
    got = await database.read(lambda uow: uow.chargers.connectors("CP1"))
    assert got == [states[3], states[0]]


async def test_charger_events_keep_order_kind_and_json(database: SqlDatabase) -> None:
    """Events come back in insertion order, filtered by kind, with their JSON data."""
    events = [
        ChargerEvent("CP1", "security", T0, {"type": "x", "n": [1, 2]}),
        ChargerEvent("CP1", "firmware", T0, {"status": "Installed"}),
        ChargerEvent("CP2", "security", T0, {}),
        ChargerEvent("CP1", "security", T0 + timedelta(seconds=1), {"nested": {"a": None}}),
    ]
    for event in events:
        await database.write(lambda uow, e=event: uow.chargers.add_event(e))
    assert await database.read(lambda uow: uow.chargers.events("CP1")) == [
        events[0],
        events[1],
        events[3],
    ]
    assert await database.read(lambda uow: uow.chargers.events("CP1", "security")) == [
        events[0],
        events[3],
    ]


async def test_session_round_trip_and_save(database: SqlDatabase) -> None:
    """Every session field survives a round trip; samples are not part of the row."""
    session = _session(
        "s1",
        protocol=Protocol.V201,
        status=SessionStatus.STARTED,
        evse_id=1,
        connector_id=2,
        transaction_id="tx-1",
        id_token="TAG",
        id_token_type="ISO14443",
        auth_status="Accepted",
        remote_start_id=7,
        requested_by="api",
        session_start=T0,
        charging_start=T0,
        meter_start_wh=1000.5,
        last_register_wh=1500.0,
        energy_wh=499.5,
        cost=1.25,
        currency="EUR",
        start_key="k",
        offline=True,
        samples=[MeterSample(T0, ENERGY, 1.0, "Wh")],
    )
    await _add_sessions(database, session)
    got = await database.read(lambda uow: uow.sessions.get("s1"))
    session.samples = []
    assert got == session
    assert got is not None and got.status is SessionStatus.STARTED
    assert got.protocol is Protocol.V201
    session.status, session.session_end, session.stop_reason = (
        SessionStatus.ENDED,
        T0 + timedelta(hours=1),
        "Local",
    )
    await database.write(lambda uow: uow.sessions.save(session))
    assert await database.read(lambda uow: uow.sessions.get("s1")) == session
    assert await database.read(lambda uow: uow.sessions.get("missing")) is None


async def test_session_lookups_by_keys(database: SqlDatabase) -> None:
    """by_transaction, by_start_key and by_remote_start_id match on charger and key."""
    await _add_sessions(
        database,
        _session("a", transaction_id="1", start_key="k1", remote_start_id=5),
        _session("b", charger_id="CP2", transaction_id="1", start_key="k1", remote_start_id=5),
    )

    async def lookups(uow: UnitOfWork) -> list[str | None]:
        found = [
            await uow.sessions.by_transaction("CP2", "1"),
            await uow.sessions.by_start_key("CP1", "k1"),
            await uow.sessions.by_remote_start_id("CP2", 5),
            await uow.sessions.by_transaction("CP1", "2"),
            await uow.sessions.by_start_key("CP3", "k1"),
            await uow.sessions.by_remote_start_id("CP1", 6),
        ]
        return [s.id if s else None for s in found]

    assert await database.read(lookups) == ["b", "a", "b", None, None, None]


async def test_pending_for_and_pending_before(database: SqlDatabase) -> None:
    """pending_for keeps pending sessions of a token since a time, oldest first."""
    await _add_sessions(
        database,
        _session("late", id_token="T", created_at=T0 + timedelta(minutes=2)),
        _session("early", id_token="T", created_at=T0),
        _session("old", id_token="T", created_at=T0 - timedelta(minutes=1)),
        _session("started", id_token="T", status=SessionStatus.STARTED, created_at=T0),
        _session("other-token", id_token="U", created_at=T0),
        _session("other-charger", charger_id="CP2", id_token="T", created_at=T0),
    )
    pending = await database.read(lambda uow: uow.sessions.pending_for("CP1", "T", T0))
    assert _ids(pending) == ["early", "late"]
    before = await database.read(lambda uow: uow.sessions.pending_before(T0))
    assert _ids(before) == ["old"]


async def test_open_on_connector_matches_unknown_connectors(database: SqlDatabase) -> None:
    """Open sessions match the connector, and sessions whose evse or connector is unknown."""
    await _add_sessions(
        database,
        _session("e1c1", evse_id=1, connector_id=1, status=SessionStatus.STARTED),
        _session("e2c1", evse_id=2, connector_id=1),
        _session("none", created_at=T0 + timedelta(seconds=1)),
        _session("ended", evse_id=1, connector_id=1, status=SessionStatus.ENDED),
        _session("cp2", charger_id="CP2", evse_id=1, connector_id=1),
    )
    got = await database.read(lambda uow: uow.sessions.open_on_connector("CP1", 1, 1))
    assert sorted(_ids(got)) == ["e1c1", "none"]
    got = await database.read(lambda uow: uow.sessions.open_on_connector("CP1", None, None))
    assert sorted(_ids(got)) == ["e1c1", "e2c1", "none"]


async def test_list_filters_pages_and_sorts_newest_first(database: SqlDatabase) -> None:
    """list filters by status, charger, token and created range, newest first, paged."""
    await _add_sessions(
        database,
        *[
            _session(
                f"s{i}",
                charger_id="CP1" if i % 2 else "CP2",
                id_token="A" if i < 3 else "B",
                status=SessionStatus.ENDED if i % 3 == 0 else SessionStatus.STARTED,
                created_at=T0 + timedelta(minutes=i),
            )
            for i in range(6)
        ],
    )

    async def listing(uow: UnitOfWork) -> list[list[str]]:
        sessions = uow.sessions
        return [
            _ids(await sessions.list()),
            _ids(await sessions.list(status=SessionStatus.ENDED)),
            _ids(await sessions.list(charger_id="CP1")),
            _ids(await sessions.list(id_token="A")),
            _ids(
                await sessions.list(
                    created_from=T0 + timedelta(minutes=1), created_to=T0 + timedelta(minutes=4)
                )
            ),
            _ids(await sessions.list(limit=2, offset=1)),
            _ids(await sessions.list(charger_id="CP2", status=SessionStatus.STARTED)),
        ]

    assert await database.read(listing) == [
        ["s5", "s4", "s3", "s2", "s1", "s0"],
        ["s3", "s0"],
        ["s5", "s3", "s1"],
        ["s2", "s1", "s0"],
        ["s3", "s2", "s1"],
        ["s4", "s3"],
        ["s4", "s2"],
    ]


async def test_samples_ignore_exact_duplicates(database: SqlDatabase) -> None:
    """add_samples counts only new samples; an exact duplicate adds nothing."""
    await _add_sessions(database, _session("s1"))
    samples = [
        MeterSample(T0 + timedelta(seconds=60), ENERGY, 2000.0, "Wh", context="Sample.Periodic"),
        MeterSample(T0, ENERGY, 1000.0, "Wh", signed=True),
        MeterSample(T0, "Power.Active.Import", 7000.0, "W", phase="L1", location="Outlet"),
        MeterSample(T0, ENERGY, 1000.0, "Wh", signed=True),
    ]
    assert await database.write(lambda uow: uow.sessions.add_samples("s1", samples)) == 3
    assert await database.write(lambda uow: uow.sessions.add_samples("s1", samples[:1])) == 0
    assert await database.write(lambda uow: uow.sessions.add_samples("s1", [])) == 0
    changed = MeterSample(T0, ENERGY, 1000.5, "Wh")
    mixed = [samples[2], changed, samples[0]]
    assert await database.write(lambda uow: uow.sessions.add_samples("s1", mixed)) == 1
    got = await database.read(lambda uow: uow.sessions.samples("s1"))
    assert got == [samples[1], changed, samples[2], samples[0]]
    assert got[1].phase is None and got[1].location is None and got[1].context is None
    assert await database.read(lambda uow: uow.sessions.samples("other")) == []


async def test_next_transaction_id_grows_across_restarts(database_url: str) -> None:
    """1.6 transaction ids are positive and strictly increasing, also after a restart."""
    await migrate(database_url)
    seen: list[int] = []
    for _ in range(2):
        db = SqlDatabase(create_engine(database_url))
        try:
            for _ in range(3):
                seen.append(await db.write(lambda uow: uow.sessions.next_transaction_id()))
            remote = await db.write(lambda uow: uow.sessions.next_remote_start_id())
        finally:
            await db.close()
    assert seen == sorted(set(seen)) and seen[0] > 0 and len(seen) == 6
    assert remote == 2


async def test_next_transaction_id_is_unique_across_concurrent_databases(
    database_url: str,
) -> None:
    """Two nodes allocating transaction ids at once never hand out the same id."""
    await migrate(database_url)
    nodes = [SqlDatabase(create_engine(database_url)) for _ in range(2)]
    try:
        ids = await asyncio.gather(
            *[
                node.write(lambda uow: uow.sessions.next_transaction_id())
                for node in nodes
                for _ in range(25)
            ]
        )
    finally:
        for node in nodes:
            await node.close()
    assert sorted(ids) == list(range(1, 51))


async def test_remember_event_reports_replays(database: SqlDatabase) -> None:
    """remember_event is True the first time a key is seen, False for a replay."""

    async def remember(uow: UnitOfWork) -> list[bool]:
        return [
            await uow.sessions.remember_event("CP1", "tx", "1"),
            await uow.sessions.remember_event("CP1", "tx", "1"),
            await uow.sessions.remember_event("CP1", "tx", "2"),
            await uow.sessions.remember_event("CP2", "tx", "1"),
        ]

    assert await database.write(remember) == [True, False, True, True]
    assert await database.write(lambda uow: uow.sessions.remember_event("CP1", "tx", "2")) is False


async def test_failed_stops_are_kept_in_order(database: SqlDatabase) -> None:
    """Failed stops are listed in arrival order, optionally for one charger."""
    stops = [
        FailedStop("CP1", "9", "unknown transaction", T0, {"meterStop": 10}),
        FailedStop("CP2", "3", "bad", T0, {}),
        FailedStop("CP1", "8", "unknown transaction", T0 + timedelta(seconds=1), {"a": [1]}),
    ]
    for stop in stops:
        await database.write(lambda uow, s=stop: uow.sessions.add_failed_stop(s))
    assert await database.read(lambda uow: uow.sessions.failed_stops()) == stops
    assert await database.read(lambda uow: uow.sessions.failed_stops("CP1")) == [
        stops[0],
        stops[2],
    ]


async def test_tokens_round_trip(database: SqlDatabase) -> None:
    """Tokens are stored, overwritten by save and listed by id."""
    blocked = IdToken("B", status=TokenStatus.BLOCKED, expires_at=T0, group_id="G")
    await database.write(lambda uow: uow.tokens.add(IdToken("A")))
    await database.write(lambda uow: uow.tokens.add(blocked))
    got = await database.read(lambda uow: uow.tokens.get("B"))
    assert got == blocked and got is not None and got.status is TokenStatus.BLOCKED
    blocked.status = TokenStatus.ACCEPTED
    await database.write(lambda uow: uow.tokens.save(blocked))
    assert await database.read(lambda uow: uow.tokens.list()) == [IdToken("A"), blocked]
    assert await database.read(lambda uow: uow.tokens.get("C")) is None


async def test_tokens_found_by_user(database: SqlDatabase) -> None:
    """for_user lists the tokens of one backend user, by id."""
    for token in (IdToken("B", user_id="u1"), IdToken("A", user_id="u1"), IdToken("C")):
        await database.write(lambda uow, t=token: uow.tokens.add(t))  # type: ignore[misc]
    found = await database.read(lambda uow: uow.tokens.for_user("u1"))
    assert [t.id_token for t in found] == ["A", "B"]
    assert await database.read(lambda uow: uow.tokens.for_user("u2")) == []


async def test_connector_found_by_evse_ref(database: SqlDatabase) -> None:
    """An external EVSE ID finds its connector; an unknown one finds nothing."""
    state = ConnectorState("CP1", 2, 1, "Available", evse_ref="DE*ABC*E1*2")
    await database.write(lambda uow: uow.chargers.set_connector(state))
    assert await database.read(lambda uow: uow.chargers.connector_by_evse_ref("DE*ABC*E1*2")) == (
        state
    )
    assert await database.read(lambda uow: uow.chargers.connector_by_evse_ref("X")) is None


async def test_api_keys_round_trip(database: SqlDatabase) -> None:
    """API keys keep their scopes list and revocation time; listed oldest first."""
    first = ApiKey("k1", "app", "h1", ["sessions"], T0)
    second = ApiKey("k2", "ops", "h2", ["operator", "sessions"], T0 + timedelta(seconds=1))
    await database.write(lambda uow: uow.api_keys.add(second))
    await database.write(lambda uow: uow.api_keys.add(first))
    assert await database.read(lambda uow: uow.api_keys.get("k2")) == second
    first.revoked_at = T0 + timedelta(hours=1)
    await database.write(lambda uow: uow.api_keys.save(first))
    assert await database.read(lambda uow: uow.api_keys.list()) == [first, second]
    assert await database.read(lambda uow: uow.api_keys.get("k3")) is None
