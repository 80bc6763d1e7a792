"""Operator use cases: register and change chargers, id tokens and API keys.

The REST API and the command line both go through here, so a charger added either way gets
the same checks (unique id, hashed password, known connectors).
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from csms.domain import events as ev
from csms.domain.credentials import (
    hash_api_secret,
    hash_password,
    new_api_key,
    new_password,
    split_api_key,
    verify_api_secret,
)
from csms.domain.errors import (
    AlreadyExists,
    ChargerNotFound,
    InvalidInput,
    TokenNotFound,
    WebhookNotFound,
)
from csms.domain.model import (
    ApiKey,
    ApiScope,
    Charger,
    ConnectorState,
    Delivery,
    IdToken,
    RegistrationStatus,
    TokenStatus,
    Webhook,
)
from csms.domain.ports import Clock, Database, UnitOfWork

_CHARGER_FIELDS = ("registration_status", "security_profile", "allow_missing_subprotocol")
_TOKEN_FIELDS = ("type", "status", "expires_at", "group_id", "user_id")


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """A connector the operator declares, with its external EVSE ID if it has one."""

    evse_id: int
    connector_id: int = 1
    evse_ref: str | None = None


@dataclass(slots=True)
class NewCharger:
    charger: Charger
    password: str | None  # the generated password, shown once; None if the caller chose one
    connectors: builtins.list[ConnectorState] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: ApiKey
    secret: str  # the full key to give the client, shown once


class OperatorService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # -- chargers ----------------------------------------------------------------------------

    async def add_charger(
        self,
        charger_id: str,
        *,
        password: str | None = None,
        generate_password: bool = True,
        connectors: Sequence[ConnectorSpec] = (),
        **settings: Any,
    ) -> NewCharger:
        """Register a charger; without a password one is generated (unless told not to).

        A profile-3 charger proves itself with its client certificate, so it gets no generated
        password (one given is stored: it counts again if the profile is lowered).
        """
        generate = generate_password and int(settings.get("security_profile", 1)) < 3
        generated = new_password() if password is None and generate else None
        secret = password or generated
        charger = Charger(
            id=charger_id,
            password_hash=hash_password(secret) if secret else None,
            created_at=self._clock.now(),
        )
        _apply(charger, settings, _CHARGER_FIELDS)
        states = [self._connector(charger_id, spec) for spec in connectors]

        async def _add(uow: UnitOfWork) -> None:
            if await uow.chargers.get(charger_id) is not None:
                raise AlreadyExists(f"charger {charger_id} already exists")
            await _check_evse_refs(uow, charger_id, states)
            await uow.chargers.add(charger)
            for state in states:
                await uow.chargers.set_connector(state)

        await self._db.write(_add)
        return NewCharger(charger, generated, states)

    async def update_charger(
        self,
        charger_id: str,
        *,
        password: str | None = None,
        connectors: Sequence[ConnectorSpec] | None = None,
        **settings: Any,
    ) -> Charger:
        """Change settings; connectors given here get (or keep) their EVSE IDs."""

        async def _update(uow: UnitOfWork) -> Charger:
            charger = await uow.chargers.get(charger_id)
            if charger is None:
                raise ChargerNotFound(charger_id)
            _apply(charger, settings, _CHARGER_FIELDS)
            if password is not None:
                charger.password_hash = hash_password(password)
            known = {
                (c.evse_id, c.connector_id): c for c in await uow.chargers.connectors(charger_id)
            }
            states = []
            for spec in connectors or ():
                state = known.get((spec.evse_id, spec.connector_id)) or self._connector(
                    charger_id, spec
                )
                state.evse_ref = spec.evse_ref
                states.append(state)
            await _check_evse_refs(uow, charger_id, states)
            await uow.chargers.save(charger)
            for state in states:
                await uow.chargers.set_connector(state)
            return charger

        return await self._db.write(_update)

    async def charger(self, charger_id: str) -> tuple[Charger, builtins.list[ConnectorState]]:
        async def _get(uow: UnitOfWork) -> tuple[Charger, builtins.list[ConnectorState]]:
            charger = await uow.chargers.get(charger_id)
            if charger is None:
                raise ChargerNotFound(charger_id)
            return charger, await uow.chargers.connectors(charger_id)

        return await self._db.read(_get)

    async def chargers(self) -> builtins.list[tuple[Charger, builtins.list[ConnectorState]]]:
        async def _list(uow: UnitOfWork) -> builtins.list[tuple[Charger, Any]]:
            return [(c, await uow.chargers.connectors(c.id)) for c in await uow.chargers.list()]

        return await self._db.read(_list)

    def _connector(self, charger_id: str, spec: ConnectorSpec) -> ConnectorState:
        return ConnectorState(
            charger_id, spec.evse_id, spec.connector_id, "Unknown", evse_ref=spec.evse_ref
        )

    # -- id tokens ---------------------------------------------------------------------------

    async def add_token(self, id_token: str, **settings: Any) -> IdToken:
        token = IdToken(id_token)
        _apply(token, settings, _TOKEN_FIELDS)

        async def _add(uow: UnitOfWork) -> None:
            if await uow.tokens.get(id_token) is not None:
                raise AlreadyExists(f"id token {id_token} already exists")
            await uow.tokens.add(token)

        await self._db.write(_add)
        return token

    async def update_token(self, id_token: str, **settings: Any) -> IdToken:
        async def _update(uow: UnitOfWork) -> IdToken:
            token = await uow.tokens.get(id_token)
            if token is None:
                raise TokenNotFound(id_token)
            _apply(token, settings, _TOKEN_FIELDS)
            await uow.tokens.save(token)
            return token

        return await self._db.write(_update)

    async def token(self, id_token: str) -> IdToken:
        token = await self._db.read(lambda uow: uow.tokens.get(id_token))
        if token is None:
            raise TokenNotFound(id_token)
        return token

    async def tokens(self) -> builtins.list[IdToken]:
        return await self._db.read(lambda uow: uow.tokens.list())

    # -- API keys ----------------------------------------------------------------------------

    async def create_api_key(self, name: str, scopes: Sequence[ApiScope]) -> NewApiKey:
        if not scopes:
            raise InvalidInput("an API key needs at least one scope")
        key_id, secret, full = new_api_key()
        key = ApiKey(
            id=key_id,
            name=name,
            secret_hash=hash_api_secret(secret),
            scopes=sorted({s.value for s in scopes}),
            created_at=self._clock.now(),
        )
        await self._db.write(lambda uow: uow.api_keys.add(key))
        return NewApiKey(key, full)

    async def authenticate(self, presented: str) -> ApiKey | None:
        """The live key behind a presented ``csk_...`` string, or None."""
        parts = split_api_key(presented)
        if parts is None:
            return None
        key_id, secret = parts
        key = await self._db.read(lambda uow: uow.api_keys.get(key_id))
        if key is None or key.revoked_at is not None:
            return None
        return key if verify_api_secret(secret, key.secret_hash) else None

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        async def _revoke(uow: UnitOfWork) -> ApiKey:
            key = await uow.api_keys.get(key_id)
            if key is None:
                raise InvalidInput(f"no API key {key_id}")
            key.revoked_at = key.revoked_at or self._clock.now()
            await uow.api_keys.save(key)
            return key

        return await self._db.write(_revoke)

    async def api_keys(self) -> builtins.list[ApiKey]:
        return await self._db.read(lambda uow: uow.api_keys.list())


# What a webhook may subscribe to (the REST API's event names).
WEBHOOK_EVENTS = (
    ev.SESSION_CREATED,
    ev.SESSION_STARTED,
    ev.SESSION_UPDATED,
    ev.SESSION_ENDED,
    ev.SESSION_CANCELLED,
    ev.SESSION_START_FAILED,
    ev.SESSION_STOP_FAILED,
    ev.CHARGER_ONLINE,
    ev.CHARGER_OFFLINE,
    ev.CONNECTOR_STATUS,
)


class WebhookService:
    """Register, list and remove webhooks; read what was delivered to them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(self, url: str, events: Sequence[str], secret: str | None = None) -> Webhook:
        unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
        if unknown or not events:
            raise InvalidInput(f"events: unknown event(s) {unknown}" if unknown else "events: none")
        webhook = Webhook(
            id=secrets.token_hex(12),
            url=url,
            events=sorted(set(events)),
            secret=secret or f"whsec_{secrets.token_urlsafe(24)}",
            created_at=self._clock.now(),
        )
        await self._db.write(lambda uow: uow.webhooks.add(webhook))
        return webhook

    async def list(self) -> builtins.list[Webhook]:
        return await self._db.read(lambda uow: uow.webhooks.list())

    async def get(self, webhook_id: str) -> Webhook:
        webhook = await self._db.read(lambda uow: uow.webhooks.get(webhook_id))
        if webhook is None:
            raise WebhookNotFound(webhook_id)
        return webhook

    async def delete(self, webhook_id: str) -> None:
        async def _delete(uow: UnitOfWork) -> None:
            if await uow.webhooks.get(webhook_id) is None:
                raise WebhookNotFound(webhook_id)
            await uow.webhooks.delete(webhook_id)

        await self._db.write(_delete)

    async def deliveries(self, webhook_id: str) -> builtins.list[Delivery]:
        await self.get(webhook_id)
        return await self._db.read(lambda uow: uow.deliveries.for_target(webhook_id))


def _apply(obj: Any, settings: dict[str, Any], allowed: Sequence[str]) -> None:
    for name, value in settings.items():
        if name not in allowed:
            raise InvalidInput(f"{name}: not a setting that can be changed")
        if name == "registration_status":
            value = RegistrationStatus(value)
        elif name == "status":
            value = TokenStatus(value)
        setattr(obj, name, value)


async def _check_evse_refs(
    uow: UnitOfWork, charger_id: str, states: Sequence[ConnectorState]
) -> None:
    """An EVSE ID names one connector in the whole system."""
    seen: set[str] = set()
    for state in states:
        if state.evse_ref is None:
            continue
        if state.evse_ref in seen:
            raise AlreadyExists(f"EVSE ID {state.evse_ref} is given twice")
        seen.add(state.evse_ref)
        owner = await uow.chargers.connector_by_evse_ref(state.evse_ref)
        if owner is not None and (owner.charger_id, owner.evse_id, owner.connector_id) != (
            charger_id,
            state.evse_id,
            state.connector_id,
        ):
            raise AlreadyExists(f"EVSE ID {state.evse_ref} belongs to {owner.charger_id}")
