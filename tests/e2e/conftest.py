"""HTTP clients for the API tests: real requests to the CSMS's own HTTP port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from csms.bootstrap import Csms
from csms.domain.model import ApiScope
from tests.conftest import http_url


async def api_key(csms: Csms, *scopes: ApiScope) -> str:
    """A fresh API key (operator scope unless told otherwise)."""
    created = await csms.services.operators.create_api_key(
        "test", list(scopes) or [ApiScope.OPERATOR]
    )
    return created.secret


@pytest.fixture
async def client(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with an operator key against the running CSMS."""
    key = await api_key(csms)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=http_url(csms), headers=headers, timeout=10) as c:
        yield c
