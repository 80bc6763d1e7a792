"""OCPI 2.2.1 CPO modules: versions, credentials, locations, sessions, CDRs and tokens.

Commands are in ``commands.py``; what we push to eMSPs is in ``push.py``.
"""

from __future__ import annotations

from datetime import UTC

from api.ocpi import client, views
from api.ocpi.framework import (
    NOT_FOUND,
    VERSION,
    OcpiCall,
    OcpiEndpoint,
    OcpiError,
    OcpiReply,
    Page,
    dump,
    endpoint,
    token_candidates,
    validated,
)
from api.ocpi.schemas import (
    BusinessDetails,
    Credentials,
    CredentialsRole,
    Endpoint,
    Evse,
    Location,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
)
from csms.domain.credentials import hash_api_secret
from csms.domain.errors import AlreadyExists, InvalidInput, NotFound
from csms.domain.model import PartnerStatus, RoamingToken
from csms.domain.roaming import NotRegistered, token_parties

# Our modules and the role we play in each (credentials: "SENDER" by convention).
MODULES = (
    ("credentials", "SENDER"),
    ("locations", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
)


@endpoint("GET", "/versions", "OCPI versions we speak", registered_only=False)
async def versions(call: OcpiCall) -> OcpiReply:
    return OcpiReply(dump([Version(version=VERSION, url=f"{call.base_url}/ocpi/{VERSION}")]))


@endpoint("GET", f"/{VERSION}", "OCPI 2.2.1 endpoints of this CPO", registered_only=False)
async def version_details(call: OcpiCall) -> OcpiReply:
    endpoints = [Endpoint(identifier=m, role=role, url=call.module_url(m)) for m, role in MODULES]
    return OcpiReply(dump(VersionDetails(version=VERSION, endpoints=endpoints)))


# -- credentials --------------------------------------------------------------------------------


def _ours(call: OcpiCall, token: str) -> Credentials:
    cfg = call.services.config.ocpi
    role = CredentialsRole(
        role="CPO",
        business_details=BusinessDetails(name=cfg.business_name),
        party_id=cfg.party_id,
        country_code=cfg.country_code,
    )
    return Credentials(token=token, url=call.versions_url, roles=[role])


@endpoint("GET", f"/{VERSION}/credentials", "Our credentials", registered_only=False)
async def get_credentials(call: OcpiCall) -> OcpiReply:
    presented = token_candidates(call.request.headers.get("authorization"))
    token = next(t for t in presented if hash_api_secret(t) == call.partner.token_hash)
    return OcpiReply(dump(_ours(call, token)))


@endpoint(
    "POST",
    f"/{VERSION}/credentials",
    "Register with token A: we call your versions endpoint with token B and answer token C",
    body=Credentials,
    registered_only=False,
    description="405 when already registered; 3001 when we cannot call your versions URL, "
    "3002 when it offers no 2.2.1, 3003 when 2.2.1 lists no endpoints.",
    errors={405: "Not allowed in the current registration state"},
)
async def register(call: OcpiCall) -> OcpiReply:
    if call.partner.status is PartnerStatus.REGISTERED:
        raise OcpiError(2000, "already registered: use PUT to update, DELETE to unregister", 405)
    return await _handshake(call, update=False)


@endpoint(
    "PUT",
    f"/{VERSION}/credentials",
    "Update credentials (new token B or versions URL); answers a new token C",
    body=Credentials,
    registered_only=False,
    errors={405: "Not allowed in the current registration state"},
)
async def update_credentials(call: OcpiCall) -> OcpiReply:
    if call.partner.status is not PartnerStatus.REGISTERED:
        raise OcpiError(2000, "not registered: use POST to register first", 405)
    return await _handshake(call, update=True)


async def _handshake(call: OcpiCall, *, update: bool) -> OcpiReply:
    theirs = await call.body(Credentials)
    link = await client.discover(theirs)
    try:
        token_c = await call.services.roaming.register(call.partner.id, link, update=update)
    except (AlreadyExists, NotRegistered) as exc:  # a concurrent POST/DELETE won the race
        raise OcpiError(2000, str(exc), 405) from None
    except InvalidInput as exc:
        raise OcpiError(2001, str(exc)) from None
    return OcpiReply(dump(_ours(call, token_c)))


@endpoint(
    "DELETE",
    f"/{VERSION}/credentials",
    "Unregister: your token C stops working",
    registered_only=False,
    errors={405: "Not allowed in the current registration state"},
)
async def unregister(call: OcpiCall) -> OcpiReply:
    if call.partner.status is not PartnerStatus.REGISTERED:
        raise OcpiError(2000, "not registered", 405)
    try:
        await call.services.roaming.unregister(call.partner.id)
    except NotRegistered as exc:
        raise OcpiError(2000, str(exc), 405) from None
    return OcpiReply()


# -- locations ----------------------------------------------------------------------------------


@endpoint("GET", f"/{VERSION}/locations", "Locations (one per charger), paginated")
async def list_locations(call: OcpiCall) -> OcpiReply:
    page = Page.of(call.request)
    cfg = call.services.config.ocpi
    found = [views.location(cfg, c, cs) for c, cs in await call.services.operators.chargers()]
    found = [
        loc
        for loc in found
        if (page.date_from is None or loc.last_updated >= page.date_from)
        and (page.date_to is None or loc.last_updated < page.date_to)
    ]
    found.sort(key=lambda loc: (loc.last_updated, loc.id))
    chosen = found[page.offset : page.offset + page.limit]
    return page.reply(call, dump(chosen), len(found))


async def _location(call: OcpiCall) -> Location:
    location_id = call.path("location_id")
    try:
        charger, connectors = await call.services.operators.charger(location_id)
    except NotFound:
        raise OcpiError(2003, f"unknown location {location_id!r}", http=404) from None
    return views.location(call.services.config.ocpi, charger, connectors)


def _evse(location: Location, uid: str) -> Evse:
    found = next((e for e in location.evses or [] if e.uid == uid), None)
    if found is None:
        raise OcpiError(2003, f"unknown EVSE {uid!r} at location {location.id!r}", http=404)
    return found


@endpoint("GET", f"/{VERSION}/locations/{{location_id}}", "One location", errors=NOT_FOUND)
async def get_location(call: OcpiCall) -> OcpiReply:
    return OcpiReply(dump(await _location(call)))


@endpoint("GET", f"/{VERSION}/locations/{{location_id}}/{{evse_uid}}", "One EVSE", errors=NOT_FOUND)
async def get_evse(call: OcpiCall) -> OcpiReply:
    return OcpiReply(dump(_evse(await _location(call), call.path("evse_uid"))))


@endpoint(
    "GET",
    f"/{VERSION}/locations/{{location_id}}/{{evse_uid}}/{{connector_id}}",
    "One connector",
    errors=NOT_FOUND,
)
async def get_connector(call: OcpiCall) -> OcpiReply:
    evse = _evse(await _location(call), call.path("evse_uid"))
    wanted = call.path("connector_id")
    found = next((c for c in evse.connectors if c.id == wanted), None)
    if found is None:
        raise OcpiError(2003, f"unknown connector {wanted!r} on EVSE {evse.uid!r}", http=404)
    return OcpiReply(dump(found))


# -- sessions and CDRs --------------------------------------------------------------------------


@endpoint("GET", f"/{VERSION}/sessions", "Your sessions, by last_updated, paginated")
async def list_sessions(call: OcpiCall) -> OcpiReply:
    page = Page.of(call.request)
    total, found = await call.services.roaming.sessions(
        call.partner.id,
        updated_from=page.date_from,
        updated_to=page.date_to,
        offset=page.offset,
        limit=page.limit,
    )
    cfg, currency = call.services.config.ocpi, call.services.config.tariff.currency
    data = [views.session_view(cfg, currency, s, link) for s, link in found]
    return page.reply(call, dump(data), total)


@endpoint(
    "PUT",
    f"/{VERSION}/sessions/{{session_id}}/charging_preferences",
    "Charging preferences (not supported: no EVSE has smart charging yet)",
    errors=NOT_FOUND,
)
async def charging_preferences(call: OcpiCall) -> OcpiReply:
    raise OcpiError(2001, "no EVSE supports charging preferences", http=404)


@endpoint("GET", f"/{VERSION}/cdrs", "CDRs of your finished sessions, paginated")
async def list_cdrs(call: OcpiCall) -> OcpiReply:
    page = Page.of(call.request)
    services = call.services
    total, found = await services.roaming.sessions(
        call.partner.id,
        updated_from=page.date_from,
        updated_to=page.date_to,
        ended_only=True,
        offset=page.offset,
        limit=page.limit,
    )
    cfg, currency = services.config.ocpi, services.config.tariff.currency
    data = []
    for session, link in found:
        _, connectors = await services.operators.charger(session.charger_id)
        ref = views.evse_ref_of(connectors, session.evse_id)
        data.append(views.cdr_view(cfg, currency, session, link, ref))
    return page.reply(call, dump(data), total)


# -- tokens (we are the receiver) ---------------------------------------------------------------

TOKEN_PATH = f"/{VERSION}/tokens/{{country_code}}/{{party_id}}/{{token_uid}}"


def _token_key(call: OcpiCall) -> tuple[str, str, str, str]:
    cc, pid = call.path("country_code").upper(), call.path("party_id").upper()
    token_type = call.request.query_params.get("type") or "RFID"
    if token_type not in ("AD_HOC_USER", "APP_USER", "OTHER", "RFID"):
        raise OcpiError(2001, f"type: unknown token type {token_type!r}", http=400)
    if (cc, pid) not in token_parties(call.partner):
        raise OcpiError(2001, f"{cc}/{pid} is not a party of this partner")
    return cc, pid, call.path("token_uid"), token_type


@endpoint(
    "GET",
    TOKEN_PATH,
    "A token as we have it (type query parameter, default RFID)",
    errors=NOT_FOUND,
)
async def get_token(call: OcpiCall) -> OcpiReply:
    try:
        found = await call.services.roaming.token(*_token_key(call))
    except NotFound as exc:
        raise OcpiError(2004, str(exc), http=404) from None
    return OcpiReply(found.data)


@endpoint(
    "PUT",
    TOKEN_PATH,
    "Add or replace a token (201 when new)",
    body=Token,
    errors={201: "Token created", **NOT_FOUND},
)
async def put_token(call: OcpiCall) -> OcpiReply:
    cc, pid, uid, token_type = _token_key(call)
    token = await call.body(Token)
    if (token.country_code.upper(), token.party_id.upper(), token.uid) != (cc, pid, uid):
        raise OcpiError(2001, "country_code, party_id and uid must match the URL")
    if call.request.query_params.get("type") and token.type != token_type:
        raise OcpiError(2001, "type must match the type query parameter")
    created = await _store(call, token)
    return OcpiReply(http=201 if created else 200)


@endpoint(
    "PATCH",
    TOKEN_PATH,
    "Change some fields of a token (last_updated required)",
    body=TokenPatch,
    errors=NOT_FOUND,
)
async def patch_token(call: OcpiCall) -> OcpiReply:
    key = _token_key(call)
    patch = await call.body(TokenPatch)
    try:
        existing = await call.services.roaming.token(*key)
    except NotFound as exc:
        raise OcpiError(2004, str(exc), http=404) from None
    merged = {**existing.data, **patch.model_dump(mode="json", exclude_unset=True)}
    await _store(call, validated(Token, merged))
    return OcpiReply()


async def _store(call: OcpiCall, token: Token) -> bool:
    stored = RoamingToken(
        country_code=token.country_code.upper(),
        party_id=token.party_id.upper(),
        uid=token.uid,
        type=token.type,
        data=token.model_dump(mode="json", exclude_none=True),
        last_updated=token.last_updated.astimezone(UTC)
        if token.last_updated.tzinfo
        else token.last_updated.replace(tzinfo=UTC),
    )
    return await call.services.roaming.put_token(stored)


ENDPOINTS: list[OcpiEndpoint] = [
    versions,
    version_details,
    get_credentials,
    register,
    update_credentials,
    unregister,
    list_locations,
    get_location,
    get_evse,
    get_connector,
    list_sessions,
    charging_preferences,
    list_cdrs,
    get_token,
    put_token,
    patch_token,
]
