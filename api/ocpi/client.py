"""Calls we make to an eMSP during the credentials handshake: its versions and version details."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from pydantic import ValidationError

from api.ocpi.framework import VERSION, OcpiError, encode_token
from api.ocpi.schemas import Credentials, VersionDetails
from csms.domain.roaming import PartnerLink

TIMEOUT = 10.0


async def discover(credentials: Credentials) -> PartnerLink:
    """Fetch the eMSP's versions with its token B, pick 2.2.1, and read its endpoints.

    Raises OcpiError 3001 when the eMSP cannot be called, 3002 when it has no 2.2.1, 3003 when
    its 2.2.1 lists no endpoints.
    """
    headers = {"Authorization": f"Token {encode_token(credentials.token)}"}
    async with httpx.AsyncClient(timeout=TIMEOUT, headers=headers) as client:
        versions = await _get(client, credentials.url)
        if not isinstance(versions, list):
            raise OcpiError(3001, f"{credentials.url} did not answer a list of versions")
        url = next(
            (v.get("url") for v in versions if isinstance(v, dict) and v.get("version") == VERSION),
            None,
        )
        if not isinstance(url, str):
            raise OcpiError(3002, f"the eMSP offers no OCPI {VERSION} at {credentials.url}")
        try:
            details = VersionDetails.model_validate(await _get(client, url))
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise OcpiError(3001, f"unreadable version details at {url}: {problem}") from None
    if not details.endpoints:
        raise OcpiError(3003, f"the eMSP's OCPI {VERSION} lists no endpoints")
    return PartnerLink(
        token_b=credentials.token,
        versions_url=credentials.url,
        version=VERSION,
        endpoints={f"{e.identifier}:{e.role}": e.url for e in details.endpoints},
        roles=[r.model_dump(mode="json", exclude_none=True) for r in credentials.roles],
    )


async def _get(client: httpx.AsyncClient, url: str) -> Any:
    request_id = str(uuid.uuid4())
    headers = {"X-Request-ID": request_id, "X-Correlation-ID": request_id}
    try:
        response = await client.get(url, headers=headers)
        body = response.json()
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise OcpiError(3001, f"could not call {url}: {type(exc).__name__}") from None
    if response.status_code != 200 or not isinstance(body, dict):
        raise OcpiError(3001, f"{url} answered HTTP {response.status_code}")
    if body.get("status_code") != 1000:
        raise OcpiError(3001, f"{url} answered status_code {body.get('status_code')}")
    return body.get("data")
