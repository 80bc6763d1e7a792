"""Password rotation use case: rules, hashing, and the window between Accepted and the commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.domain.authorization import AuthorizationPolicy
from csms.domain.chargers import ChargerPolicy, ChargerService
from csms.domain.commands import Command, CommandResult, CommandStatus, SetChargerPassword
from csms.domain.credentials import (
    authorization_key,
    hash_password,
    new_password,
    password_problem,
)
from csms.domain.errors import InvalidInput
from csms.domain.model import Charger, Protocol
from csms.domain.ports import Work
from csms.domain.rotation import PasswordChanges, PasswordRotation
from csms.domain.security import HandshakeCredentials
from csms.eventbus import InMemoryEventBus
from csms.storage.memory import MemoryDatabase

OLD = "old-password-0001"


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


class AnsweringBus:
    """A charger that answers every command with ``status``; records what it was sent."""

    def __init__(self, status: CommandStatus) -> None:
        self.status = status
        self.sent: list[Command] = []

    def is_connected(self, charger_id: str) -> bool:
        return True

    async def send(self, charger_id: str, command: Command) -> CommandResult:
        self.sent.append(command)
        return CommandResult(self.status, {"status": "x"})


class HandshakesDuringCommit(MemoryDatabase):
    """A database whose writes first let handshakes in: what a charger reconnecting right after
    its Accepted answer meets while the new hash is being committed."""

    chargers: ChargerService
    attempts: dict[str, str] = {}  # label -> password tried (none while setting up)
    statuses: dict[str, int] | None = None

    async def write(self, work: Work[object]) -> object:  # type: ignore[override]
        if self.attempts:
            self.statuses = {
                label: (
                    await self.chargers.admit("CP1", HandshakeCredentials(password=pw))
                ).http_status
                for label, pw in self.attempts.items()
            }
        return await super().write(work)  # type: ignore[arg-type]


async def _world(
    status: CommandStatus, db: MemoryDatabase | None = None
) -> tuple[MemoryDatabase, AnsweringBus, PasswordRotation, ChargerService]:
    db = db or MemoryDatabase()
    changes = PasswordChanges()
    charger = Charger("CP1", password_hash=hash_password(OLD), protocol=Protocol.V16)
    await db.write(lambda uow: uow.chargers.add(charger))
    bus = AnsweringBus(status)
    chargers = ChargerService(
        db, InMemoryEventBus(), Clock(), ChargerPolicy(), AuthorizationPolicy(), changes
    )
    return db, bus, PasswordRotation(db, bus, changes), chargers


def test_generated_passwords_follow_both_versions_rules() -> None:
    """Generated passwords are 20 alphanumerics: valid on 1.6 (16-20 bytes) and 2.0.1 (16-40)."""
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    for pw in passwords:
        assert password_problem(pw, "1.6") is None and password_problem(pw, "2.0.1") is None
        assert len(authorization_key(pw)) == 40  # the 1.6 hex form: at most 40 hex digits


@pytest.mark.parametrize(
    ("password", "version", "problem"),
    [
        ("a" * 15, "1.6", "16 to 20 characters on OCPP 1.6"),
        ("a" * 21, "1.6", "16 to 20 characters on OCPP 1.6"),
        ("a" * 21, None, "16 to 20 characters for a charger of unknown version"),
        ("a" * 41, "2.0.1", "16 to 40 characters on OCPP 2.0.1"),
        ("with a space 0001", "2.0.1", "may only contain"),
        ("ümlaut-password-01", "1.6", "may only contain"),
    ],
)
def test_password_rules_name_the_problem_without_the_password(
    password: str, version: str | None, problem: str
) -> None:
    """Too short, too long for the version, or outside the character set: named, not echoed."""
    found = password_problem(password, version)
    assert found is not None and problem in found and password not in found


def test_authorization_key_is_the_upper_case_hex_of_the_password() -> None:
    """1.6 AuthorizationKey carries the password hex-encoded, as OCTT TC_073 sends it."""
    assert authorization_key("OCA_OCTT_admin_test") == "4F43415F4F4354545F61646D696E5F74657374"


async def test_new_password_is_admitted_and_old_refused_before_the_commit_lands() -> None:
    """Between the charger's Accepted and the commit, its reconnect with the new password gets
    in and the old password no longer does (A01.FR.03, TC_073 step 3)."""
    db = HandshakesDuringCommit()
    _, bus, rotation, chargers = await _world(CommandStatus.ACCEPTED, db)
    db.chargers = chargers
    new = "brand-new-pass-001"
    db.attempts = {"old": OLD, "new": new}
    change = await rotation.rotate("CP1", new)
    assert change.stored and change.password == new
    assert db.statuses == {"old": 401, "new": 0}
    assert (await chargers.admit("CP1", HandshakeCredentials(password=new))).admitted
    assert not (await chargers.admit("CP1", HandshakeCredentials(password=OLD))).admitted
    assert bus.sent == [SetChargerPassword(new)] and new not in repr(bus.sent)


@pytest.mark.parametrize("status", [CommandStatus.REJECTED, CommandStatus.TIMEOUT])
async def test_unaccepted_change_keeps_the_old_password(status: CommandStatus) -> None:
    """Rejected or unanswered: nothing stored, the old password still gets in (A01.FR.04)."""
    _, _, rotation, chargers = await _world(status)
    change = await rotation.rotate("CP1")
    assert not change.stored
    assert (await chargers.admit("CP1", HandshakeCredentials(password=OLD))).admitted
    assert not (
        await chargers.admit("CP1", HandshakeCredentials(password=change.password))
    ).admitted


async def test_given_password_breaking_the_version_rules_is_not_sent() -> None:
    """A 30-character password for a 1.6 charger is InvalidInput; nothing reaches the charger."""
    _, bus, rotation, _ = await _world(CommandStatus.ACCEPTED)
    with pytest.raises(InvalidInput, match="password: must be 16 to 20"):
        await rotation.rotate("CP1", "p" * 30)
    assert bus.sent == []
