"""Is an id token allowed to charge? One rule set for Authorize and the token checks in
StartTransaction / TransactionEvent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.domain.model import Authorization, TokenStatus
from csms.domain.ports import UnitOfWork

# OCPI 2.2.1 §13.3.5: a token an eMSP started a session with (START_SESSION) is accepted at that
# charger without asking anyone, for this long after the command.
ROAMING_GRANT = timedelta(minutes=15)
ROAMING_REQUESTER = "ocpi:"  # Session.requested_by prefix of sessions an eMSP started

# 2.0.1 IdTokenEnumType values that carry no credential to check.
_NO_CHECK_TYPES = frozenset({"NoAuthorization"})


@dataclass(frozen=True, slots=True)
class AuthorizationPolicy:
    accept_unknown: bool = False


async def authorize_token(
    uow: UnitOfWork,
    policy: AuthorizationPolicy,
    id_token: str,
    now: datetime,
    token_type: str | None = None,
) -> Authorization:
    if token_type in _NO_CHECK_TYPES:
        return Authorization(TokenStatus.ACCEPTED)
    token = await uow.tokens.get(id_token)
    if token is None:
        status = TokenStatus.ACCEPTED if policy.accept_unknown else TokenStatus.INVALID
        return Authorization(status)
    expired = token.expires_at is not None and token.expires_at <= now
    if token.status is TokenStatus.ACCEPTED and expired:
        return Authorization(TokenStatus.EXPIRED, token.expires_at, token.group_id)
    return Authorization(token.status, token.expires_at, token.group_id)


async def authorize_at(
    uow: UnitOfWork,
    policy: AuthorizationPolicy,
    charger_id: str,
    id_token: str,
    now: datetime,
    token_type: str | None = None,
) -> Authorization:
    """``authorize_token`` at one charger, where an eMSP's recent remote start also counts.

    The sessions are only looked at when the token is not accepted on its own, so the usual
    case costs no extra query.
    """
    local = await authorize_token(uow, policy, id_token, now, token_type)
    if local.accepted:
        return local
    recent = await uow.sessions.list(
        charger_id=charger_id, id_token=id_token, created_from=now - ROAMING_GRANT, limit=20
    )
    if any(s.requested_by.startswith(ROAMING_REQUESTER) for s in recent):
        return Authorization(TokenStatus.ACCEPTED)
    return local
