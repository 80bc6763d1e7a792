"""OCPI partners, tokens and session links on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.model import (
    OcpiPartner,
    PartnerStatus,
    Protocol,
    RoamingSession,
    RoamingToken,
    Session,
    SessionStatus,
)
from csms.domain.ports import UnitOfWork
from csms.storage.sql import SqlDatabase

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _partner(pid: str, token_hash: str) -> OcpiPartner:
    return OcpiPartner(
        id=pid,
        country_code="NL",
        party_id="ABC",
        status=PartnerStatus.REGISTERED,
        token_hash=token_hash,
        created_at=T0,
        updated_at=T0,
        endpoints={"sessions:RECEIVER": "http://e/s"},
        roles=[{"role": "EMSP", "country_code": "NL", "party_id": "ABC"}],
    )


def _session(n: int, status: SessionStatus = SessionStatus.ENDED) -> Session:
    at = T0 + timedelta(minutes=n)
    return Session(f"s{n}", "CP1", Protocol.V16, status, at, at)


async def test_partner_is_found_by_its_token_hash(database: SqlDatabase) -> None:
    """A partner round-trips with its endpoints and roles and is found by token hash only."""
    await database.write(lambda uow: uow.roaming.save_partner(_partner("p1", "h1")))
    found = await database.read(lambda uow: uow.roaming.partner_by_token("h1"))
    assert found == _partner("p1", "h1")
    assert await database.read(lambda uow: uow.roaming.partner_by_token("h2")) is None


async def test_tokens_are_keyed_by_party_uid_and_type(database: SqlDatabase) -> None:
    """The same uid of two types are two tokens; saving again replaces the data."""
    rfid = RoamingToken("NL", "ABC", "U1", "RFID", {"valid": True}, T0)
    app = RoamingToken("NL", "ABC", "U1", "APP_USER", {"valid": True}, T0)
    await database.write(lambda uow: uow.roaming.save_token(rfid))
    await database.write(lambda uow: uow.roaming.save_token(app))
    changed = RoamingToken("NL", "ABC", "U1", "RFID", {"valid": False}, T0 + timedelta(1))
    await database.write(lambda uow: uow.roaming.save_token(changed))
    assert len(await database.read(lambda uow: uow.roaming.tokens_by_uid("U1"))) == 2
    got = await database.read(lambda uow: uow.roaming.token("NL", "ABC", "U1", "RFID"))
    assert got == changed


async def test_partner_sessions_page_by_last_update(database: SqlDatabase) -> None:
    """A partner's linked sessions come oldest-updated first, filtered and counted."""

    async def seed(uow: UnitOfWork) -> None:
        for n in range(4):
            status = SessionStatus.STARTED if n == 3 else SessionStatus.ENDED
            await uow.sessions.add(_session(n, status))
            owner = "p1" if n != 2 else "p2"
            link = RoamingSession(f"s{n}", owner, {"uid": "U1"}, "COMMAND", T0, f"ref{n}")
            await uow.roaming.add_session(link)

    await database.write(seed)
    total, page = await database.read(
        lambda uow: uow.roaming.sessions(
            "p1", updated_from=None, updated_to=None, ended_only=False, offset=1, limit=1
        )
    )
    assert total == 3 and [(s.id, link.authorization_reference) for s, link in page] == [
        ("s1", "ref1")
    ]
    total, page = await database.read(
        lambda uow: uow.roaming.sessions(
            "p1",
            updated_from=T0 + timedelta(minutes=1),
            updated_to=None,
            ended_only=True,
            offset=0,
            limit=10,
        )
    )
    assert total == 1 and page[0][0].id == "s1" and page[0][0].status is SessionStatus.ENDED
