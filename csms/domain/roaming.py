"""Roaming (OCPI 2.2.1, CPO role): partners, their tokens, and which sessions are theirs.

An operator invites an eMSP (``csms ocpi invite``): the one-time credentials token A is shown
once and only its hash is kept. The eMSP registers with it and gets token C (hashed too); we
keep its token B, which we present when we call it. Tokens the eMSP pushes feed our id tokens,
so chargers can authorize them locally.
"""

from __future__ import annotations

import builtins
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from csms.domain.credentials import hash_api_secret, verify_api_secret
from csms.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from csms.domain.events import DomainEvent
from csms.domain.journal import journaled_write
from csms.domain.model import (
    IdToken,
    OcpiPartner,
    PartnerStatus,
    RoamingSession,
    RoamingToken,
    Session,
    TokenStatus,
)
from csms.domain.ports import Clock, Database, EventBus, UnitOfWork

COMMAND_RESULT = "ocpi.command_result"  # journaled: the relay POSTs it to the eMSP

# OCPI TokenType -> the id token type chargers report (OCPP 2.0.1 IdTokenEnumType).
_ID_TOKEN_TYPE = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central"}
# Tokens a charger may authorize locally; NEVER asks for a real-time check we do not make.
_LOCAL_WHITELIST = frozenset({"ALWAYS", "ALLOWED", "ALLOWED_OFFLINE"})


class PartnerNotFound(NotFound):
    code = "partner_not_found"


class NotRegistered(Conflict):
    code = "not_registered"


def new_credentials_token() -> str:
    """A credentials token: 43 printable, non-space ASCII characters (OCPI allows 64)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Invitation:
    partner: OcpiPartner
    token_a: str  # shown once


@dataclass(frozen=True, slots=True)
class PartnerLink:
    """What the credentials handshake learnt about the eMSP."""

    token_b: str
    versions_url: str
    version: str
    endpoints: dict[str, str]
    roles: builtins.list[dict[str, Any]]


class RoamingService:
    def __init__(self, db: Database, events: EventBus, clock: Clock) -> None:
        self._db = db
        self._events = events
        self._clock = clock

    # -- partners --------------------------------------------------------------------------

    async def invite(self, country_code: str, party_id: str, name: str | None = None) -> Invitation:
        token_a = new_credentials_token()
        now = self._clock.now()
        partner = OcpiPartner(
            id=uuid.uuid4().hex[:12],
            country_code=country_code.upper(),
            party_id=party_id.upper(),
            status=PartnerStatus.INVITED,
            token_hash=hash_api_secret(token_a),
            created_at=now,
            updated_at=now,
            name=name,
        )
        await self._db.write(lambda uow: uow.roaming.save_partner(partner))
        return Invitation(partner, token_a)

    async def authenticate(self, candidates: builtins.list[str]) -> OcpiPartner | None:
        """The live partner presenting one of ``candidates`` (raw or decoded token)."""

        async def _find(uow: UnitOfWork) -> OcpiPartner | None:
            # Found by the SHA-256 of the token (an index lookup whose timing can only tell
            # about digests nobody can aim at), then compared in constant time like API keys.
            for token in candidates:
                partner = await uow.roaming.partner_by_token(hash_api_secret(token))
                if (
                    partner is not None
                    and verify_api_secret(token, partner.token_hash)
                    and partner.status is not PartnerStatus.REVOKED
                ):
                    return partner
            return None

        return await self._db.read(_find)

    async def partners(self) -> builtins.list[OcpiPartner]:
        return await self._db.read(lambda uow: uow.roaming.partners())

    async def partner(self, partner_id: str) -> OcpiPartner:
        found = await self._db.read(lambda uow: uow.roaming.partner(partner_id))
        if found is None:
            raise PartnerNotFound(f"no OCPI partner {partner_id!r}")
        return found

    async def register(self, partner_id: str, link: PartnerLink, *, update: bool) -> str:
        """Store the eMSP's side of the handshake; returns the new token C (shown once).

        ``update`` is PUT credentials (the partner must be registered); otherwise POST (it must
        not be registered yet).
        """
        token_c = new_credentials_token()

        async def _register(uow: UnitOfWork) -> None:
            partner = await uow.roaming.partner(partner_id)
            if partner is None or partner.status is PartnerStatus.REVOKED:
                raise PartnerNotFound(f"no OCPI partner {partner_id!r}")
            claimed = token_parties(replace(partner, roles=list(link.roles)))
            for other in await uow.roaming.partners():
                if other.id == partner.id or other.status is not PartnerStatus.REGISTERED:
                    continue
                taken = claimed & token_parties(other)
                if taken:
                    cc, pid = sorted(taken)[0]
                    raise InvalidInput(f"roles: party {cc}/{pid} belongs to another partner")
            registered = partner.status is PartnerStatus.REGISTERED
            if update and not registered:
                raise NotRegistered("not registered: use POST to register first")
            if not update and registered:
                raise AlreadyExists("already registered: use PUT to update, DELETE to unregister")
            partner.status = PartnerStatus.REGISTERED
            partner.token_hash = hash_api_secret(token_c)
            partner.their_token = link.token_b
            partner.versions_url, partner.version = link.versions_url, link.version
            partner.endpoints, partner.roles = dict(link.endpoints), list(link.roles)
            partner.updated_at = self._clock.now()
            await uow.roaming.save_partner(partner)

        await self._db.write(_register)
        return token_c

    async def unregister(self, partner_id: str) -> None:
        """DELETE credentials: the partner's tokens stop working; it needs a new invitation."""
        await self._end(partner_id, require_registered=True)

    async def revoke(self, partner_id: str) -> OcpiPartner:
        """The operator ends a partnership (invited or registered)."""
        return await self._end(partner_id, require_registered=False)

    async def _end(self, partner_id: str, *, require_registered: bool) -> OcpiPartner:
        async def _do(uow: UnitOfWork) -> OcpiPartner:
            partner = await uow.roaming.partner(partner_id)
            if partner is None:
                raise PartnerNotFound(f"no OCPI partner {partner_id!r}")
            if require_registered and partner.status is not PartnerStatus.REGISTERED:
                raise NotRegistered("not registered")
            partner.status = PartnerStatus.REVOKED
            partner.their_token = None
            partner.token_hash = f"revoked:{partner.id}"  # unique, never matches a token
            partner.updated_at = self._clock.now()
            await uow.roaming.save_partner(partner)
            return partner

        return await self._db.write(_do)

    # -- tokens ----------------------------------------------------------------------------

    async def token(self, country_code: str, party_id: str, uid: str, type: str) -> RoamingToken:
        found = await self._db.read(
            lambda uow: uow.roaming.token(country_code, party_id, uid, type)
        )
        if found is None:
            raise NotFound(f"no token {country_code}/{party_id}/{uid} of type {type}")
        return found

    async def put_token(self, token: RoamingToken) -> bool:
        """Store an eMSP's token and what chargers may do with it; True when it is new."""

        async def _put(uow: UnitOfWork) -> bool:
            key = (token.country_code, token.party_id, token.uid, token.type)
            created = await uow.roaming.token(*key) is None
            ours = await uow.roaming.tokens_by_uid(token.uid)
            existing = await uow.tokens.get(token.uid)
            await uow.roaming.save_token(token)
            # An id token the operator (or OIOI) created with the same uid is not the eMSP's to
            # change; and two eMSPs with one uid: the one that pushed it first keeps it.
            first = not ours or all(
                (t.country_code, t.party_id) == (token.country_code, token.party_id) for t in ours
            )
            if (existing is None or ours) and first:
                await uow.tokens.save(_id_token(token, existing))
            return created

        return await self._db.write(_put)

    # -- sessions --------------------------------------------------------------------------

    async def session(self, session_id: str) -> RoamingSession | None:
        return await self._db.read(lambda uow: uow.roaming.session(session_id))

    async def sessions(
        self,
        partner_id: str,
        *,
        updated_from: datetime | None,
        updated_to: datetime | None,
        ended_only: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[int, builtins.list[tuple[Session, RoamingSession]]]:
        return await self._db.read(
            lambda uow: uow.roaming.sessions(
                partner_id,
                updated_from=updated_from,
                updated_to=updated_to,
                ended_only=ended_only,
                offset=offset,
                limit=limit,
            )
        )

    async def command_result(
        self, partner_id: str, response_url: str, result: str, message: str | None
    ) -> None:
        """Journal a CommandResult for the eMSP; the OCPI relay delivers it to ``response_url``."""
        data = {"response_url": response_url, "result": result, "message": message}
        event = DomainEvent(COMMAND_RESULT, partner_id, self._clock.now(), data)

        async def _journal(uow: UnitOfWork, emitted: builtins.list[DomainEvent]) -> None:
            emitted.append(event)

        await journaled_write(self._db, self._events, _journal)


def _id_token(token: RoamingToken, existing: IdToken | None) -> IdToken:
    """The id token chargers are checked against, as the eMSP's Token says."""
    data = token.data
    allowed = bool(data.get("valid")) and data.get("whitelist") in _LOCAL_WHITELIST
    found = existing or IdToken(token.uid)
    found.type = _ID_TOKEN_TYPE.get(token.type, "Central")
    found.status = TokenStatus.ACCEPTED if allowed else TokenStatus.INVALID
    group = data.get("group_id")
    found.group_id = str(group) if group else None
    found.user_id = str(data.get("contract_id") or "") or found.user_id
    return found


def token_parties(partner: OcpiPartner) -> set[tuple[str, str]]:
    """The (country_code, party_id) pairs a partner speaks for: invited and registered roles."""
    parties = {(partner.country_code.upper(), partner.party_id.upper())}
    for role in partner.roles:
        cc, pid = role.get("country_code"), role.get("party_id")
        if isinstance(cc, str) and isinstance(pid, str):
            parties.add((cc.upper(), pid.upper()))
    return parties
