"""Is an id token allowed to charge? One rule set for Authorize and the token checks in
StartTransaction / TransactionEvent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.domain.model import Authorization, TokenStatus
from csms.domain.ports import UnitOfWork

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
