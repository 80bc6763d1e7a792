"""``/v1/tokens``: the id tokens that Authorize and the transaction checks use."""

from __future__ import annotations

from api.rest.framework import Call, Endpoint, Reply, endpoint
from api.rest.schemas import TokenCreate, TokenEnvelope, TokenListEnvelope, TokenPatch
from api.rest.views import token_out
from csms.domain.model import ApiScope

TAG = "Tokens"
OPERATOR = ApiScope.OPERATOR


@endpoint(
    "GET", "/v1/tokens", "List id tokens", tag=TAG, response=TokenListEnvelope, scope=OPERATOR
)
async def list_tokens(call: Call) -> Reply:
    result = [token_out(t) for t in await call.services.operators.tokens()]
    return Reply(TokenListEnvelope(message=f"{len(result)} tokens", result=result))


@endpoint(
    "GET",
    "/v1/tokens/{id_token}",
    "Read an id token",
    tag=TAG,
    response=TokenEnvelope,
    scope=OPERATOR,
    errors={404: "Unknown id token"},
)
async def get_token(call: Call) -> Reply:
    token = await call.services.operators.token(call.path("id_token"))
    return Reply(TokenEnvelope(message="Result", result=token_out(token)))


@endpoint(
    "POST",
    "/v1/tokens",
    "Add an id token",
    tag=TAG,
    body=TokenCreate,
    response=TokenEnvelope,
    status=201,
    scope=OPERATOR,
    errors={409: "The id token exists"},
)
async def create_token(call: Call) -> Reply:
    body: TokenCreate = call.body
    settings = body.model_dump(exclude={"id_token"})
    token = await call.services.operators.add_token(body.id_token, **settings)
    return Reply(TokenEnvelope(message="token added", result=token_out(token)), 201)


@endpoint(
    "PATCH",
    "/v1/tokens/{id_token}",
    "Change an id token (status, expiry, group, user)",
    tag=TAG,
    body=TokenPatch,
    response=TokenEnvelope,
    scope=OPERATOR,
    errors={404: "Unknown id token"},
)
async def patch_token(call: Call) -> Reply:
    body: TokenPatch = call.body
    settings = body.model_dump(exclude_unset=True)
    for name in ("type", "status"):  # null means unchanged: a token always has both
        if settings.get(name, "") is None:
            del settings[name]
    token = await call.services.operators.update_token(call.path("id_token"), **settings)
    return Reply(TokenEnvelope(message="token updated", result=token_out(token)))


ENDPOINTS: list[Endpoint] = [list_tokens, get_token, create_token, patch_token]
