"""schemathesis against the HTTP API: no 5xx, and every answer is documented in /openapi.json.

The CSMS runs for real (SQLite file, uvicorn on port 0) in a thread with its own event loop,
because schemathesis calls it with blocking requests. Every operation is called with the right
credentials for its façade: an operator API key (REST, OIOI) and the token C of an OCPI eMSP
registered through the real credentials handshake with a local eMSP server.
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.app import openapi_document
from csms.bootstrap import Csms, start_csms
from tests.conftest import add_charger, add_token, http_url, make_config
from tests.e2e.conftest import api_key
from tests.emsp import TOKEN_B, emsp
from tests.fuzz.conftest import HTTP_EXAMPLES, SENT

T = TypeVar("T")
# Outbound calls the fuzzer provokes (an OCPI credentials url, a webhook url) go to a closed
# local port instead of wherever a random url points; the local eMSP stays reachable.
NO_OUTSIDE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


class LiveCsms:
    """A real CSMS on its own event loop in a thread, with the credentials of each façade."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stack = AsyncExitStack()
        self.csms: Csms | None = None
        self.headers: dict[str, dict[str, str]] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    def start(self) -> None:
        self._thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        self.csms = csms = await start_csms(make_config(self._tmp_path))
        self._stack.push_async_callback(csms.stop)
        # "0" is the path parameter hypothesis tries first: with these, PATCH and GET of a
        # charger or token reach a real object, not only the 404 of an unknown id
        for name in ("0", "CP-1"):
            await add_charger(csms, name)
            await add_token(csms, name)
        key = await api_key(csms)
        remote = await self._stack.enter_async_context(emsp())
        invited = await csms.services.roaming.invite("NL", "ABC", "Fuzz eMSP")
        creds = {
            "token": TOKEN_B,
            "url": remote.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "business_details": {"name": "Fuzz eMSP"},
                    "party_id": "ABC",
                    "country_code": "NL",
                }
            ],
        }
        async with httpx.AsyncClient(base_url=http_url(csms), timeout=10) as client:
            answer = await client.post(
                "/ocpi/2.2.1/credentials", json=creds, headers=_ocpi(invited.token_a)
            )
        assert answer.status_code == 200, answer.text
        self.headers = {
            "bearerApiKey": {"Authorization": f"Bearer {key}"},
            "oioiKey": {"Authorization": f"key={key}"},
            "ocpiToken": _ocpi(answer.json()["data"]["token"]),
        }

    @property
    def url(self) -> str:
        assert self.csms is not None
        return http_url(self.csms)

    def stop(self) -> None:
        self.run(self._stack.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def credentials(self, case: Any) -> dict[str, str]:
        """The Authorization header of the operation's security scheme."""
        for requirement in case.operation.definition.raw.get("security", []):
            for scheme in requirement:
                return self.headers[scheme]
        return {}


def _ocpi(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCsms]:
    """One running CSMS for every operation's examples."""
    saved = {name: os.environ.get(name) for name in NO_OUTSIDE}
    os.environ.update(NO_OUTSIDE)
    server = LiveCsms(tmp_path_factory.mktemp("api"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# Loaded at import so that each operation is a test of its own. (schemathesis' lazy
# from_fixture loader sets ``Function._nodeid``, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_server_serves_the_document_the_fuzzer_reads(live: LiveCsms) -> None:
    """GET /openapi.json is the document the operations below are generated from."""
    assert httpx.get(f"{live.url}/openapi.json", timeout=10).json() == schema.raw_schema


def excluded_checks(case: Any) -> list[Any]:
    """schemathesis' checks that do not hold by design, and why.

    OCPI answers a request it cannot carry out (a body missing a field included) with HTTP 200
    and a 2xxx ``status_code`` (framework docstring): :func:`check_ocpi_refusal` checks those.
    POST /credentials from a registered partner is 405, as OCPI 2.2.1 §7.2.1 says, however
    valid the body.
    """
    path, method = case.operation.path, case.operation.method.upper()
    if not path.startswith("/ocpi/"):
        return []
    if (method, path) == ("POST", "/ocpi/2.2.1/credentials"):
        return [negative_data_rejection, positive_data_acceptance]
    return [negative_data_rejection]


def check_ocpi_refusal(case: Any, response: Any) -> None:
    """An OCPI request that breaks the document is refused: HTTP 4xx or a 2xxx status_code."""
    meta = case.meta
    if meta is None or not meta.is_negative_at(ParameterLocation.BODY):
        return
    if response.status_code >= 400:
        return
    assert response.json()["status_code"] != 1000, (case.as_curl_command(), response.text)


@schema.parametrize()
@settings(max_examples=HTTP_EXAMPLES)
def test_http_api_answers_are_documented_and_never_5xx(case: Any, live: LiveCsms) -> None:
    """Each operation, called with generated input, answers a documented status and body."""
    SENT["HTTP requests"] += 1
    response = case.call_and_validate(
        base_url=live.url,
        headers=live.credentials(case),
        excluded_checks=excluded_checks(case),
        timeout=30,
    )
    if case.operation.path.startswith("/ocpi/"):
        check_ocpi_refusal(case, response)
