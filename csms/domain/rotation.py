"""Rotating a charger's Basic auth password over OCPP (A01; OCTT TC_A_09/10, 1.6 TC_073).

The new password is sent to the charger (1.6 ``AuthorizationKey``, 2.0.1
``SecurityCtrlr.BasicAuthPassword``); its hash replaces the stored one only when the charger
answers Accepted (A01.FR.03). Until then the old password keeps working, and it still does when
the charger rejects, answers with a CALLERROR or does not answer (A01.FR.04/05).

A charger that accepts usually drops its socket and comes back with the new password at once
(TC_073 step 3), which can be before the new hash is committed. :class:`PasswordChanges` holds
that hash from the Accepted answer until the commit, and handshake admission checks against it,
so the reconnect is neither refused nor let in with the old password.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from csms.domain.commands import CommandResult, SetChargerPassword
from csms.domain.credentials import hash_password, new_password, password_problem
from csms.domain.errors import (
    ChargerNotFound,
    ChargerOffline,
    InvalidInput,
    PasswordChangeUnderWay,
)
from csms.domain.model import Charger
from csms.domain.ports import CommandBus, Database, UnitOfWork


class PasswordChanges:
    """Password changes under way in this process, by charger id."""

    def __init__(self) -> None:
        self._under_way: set[str] = set()
        self._accepted: dict[str, str] = {}  # charger id -> new hash, accepted but not stored

    def begin(self, charger_id: str) -> bool:
        """Claim the charger for one change; False if another change holds it."""
        if charger_id in self._under_way:
            return False
        self._under_way.add(charger_id)
        return True

    def accepted(self, charger_id: str, password_hash: str) -> None:
        self._accepted[charger_id] = password_hash

    def end(self, charger_id: str) -> None:
        self._under_way.discard(charger_id)
        self._accepted.pop(charger_id, None)

    def accepted_hash(self, charger_id: str) -> str | None:
        """The hash the charger accepted and that is not stored yet, if any."""
        return self._accepted.get(charger_id)


@dataclass(frozen=True, slots=True)
class PasswordChange:
    """What became of a change: the charger's answer, and the password that was sent."""

    charger_id: str
    protocol: str | None
    result: CommandResult
    password: str = field(repr=False)  # shown once to the operator, never stored or logged

    @property
    def stored(self) -> bool:
        return self.result.accepted


class PasswordRotation:
    def __init__(self, db: Database, bus: CommandBus, changes: PasswordChanges) -> None:
        self._db = db
        self._bus = bus
        self._changes = changes

    async def rotate(self, charger_id: str, password: str | None = None) -> PasswordChange:
        """Send the charger a new password (``password``, or a generated one) and store its
        hash once the charger accepts. Raises ChargerNotFound, ChargerOffline, InvalidInput
        (a given password that breaks the rules of the charger's version) or
        PasswordChangeUnderWay."""
        charger = await self._db.read(lambda uow: uow.chargers.get(charger_id))
        if charger is None:
            raise ChargerNotFound(charger_id)
        if not self._bus.is_connected(charger_id):
            raise ChargerOffline(charger_id)
        version = charger.protocol.value if charger.protocol else None
        if password is None:
            password = new_password()
        else:
            problem = password_problem(password, version)
            if problem is not None:
                raise InvalidInput(f"password: {problem}")
        new_hash = hash_password(password)
        if not self._changes.begin(charger_id):
            raise PasswordChangeUnderWay(charger_id)
        try:
            result = await self._bus.send(charger_id, SetChargerPassword(password))
            if result.accepted:
                self._changes.accepted(charger_id, new_hash)
                await self._db.write(lambda uow: _store(uow, charger_id, new_hash))
        finally:
            self._changes.end(charger_id)
        return PasswordChange(charger_id, version, result, password)


async def _store(uow: UnitOfWork, charger_id: str, password_hash: str) -> Charger:
    charger = await uow.chargers.get(charger_id)
    if charger is None:  # removed while the charger was being asked
        raise ChargerNotFound(charger_id)
    charger.password_hash = password_hash
    await uow.chargers.save(charger)
    return charger
