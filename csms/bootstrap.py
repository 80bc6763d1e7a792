"""The one composition root: config -> storage, buses, services, servers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from api.app import create_app
from api.ocpi.push import CONSUMER as OCPI
from api.ocpi.push import OcpiRouter, OcpiSender
from api.oioi.push import CONSUMER as OIOI
from api.oioi.push import OioiRouter, OioiSender
from api.outbox import DeliveryWorker, JournalRelay, RetryPolicy, Sender
from api.rest.webhooks import CONSUMER, WebhookRouter, WebhookSender
from csms.config import Config, ConfigError, OcppConfig
from csms.domain.authorization import AuthorizationPolicy
from csms.domain.chargers import ChargerPolicy, ChargerService
from csms.domain.operators import OperatorService, WebhookService
from csms.domain.ports import Database
from csms.domain.roaming import RoamingService
from csms.domain.rotation import PasswordChanges, PasswordRotation
from csms.domain.sessions import SessionService
from csms.domain.tariffs import Tariff
from csms.domain.transactions import TransactionService
from csms.eventbus import InMemoryEventBus
from csms.gateway.command_bus import LocalCommandBus
from csms.gateway.connections import ConnectionRegistry
from csms.gateway.server import GatewaySettings, OcppServer
from csms.gateway.services import GatewayServices
from csms.gateway.tls import ask_client_certificates, server_context
from csms.storage.sql.checkpoints import WalCheckpointer
from csms.storage.sql.engine import create_engine
from csms.storage.sql.migrate import migrate
from csms.storage.sql.unit_of_work import SqlDatabase

log = logging.getLogger("csms")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidFactory:
    def new_id(self) -> str:
        return str(uuid.uuid4())


@dataclass
class Services:
    """Everything built from config; what the API façade and the CLI are given."""

    config: Config
    db: SqlDatabase
    events: InMemoryEventBus
    bus: LocalCommandBus
    registry: ConnectionRegistry
    chargers: ChargerService
    sessions: SessionService
    transactions: TransactionService
    operators: OperatorService
    webhooks: WebhookService
    roaming: RoamingService
    passwords: PasswordRotation
    clock: SystemClock = field(default_factory=SystemClock)


async def open_database(config: Config) -> SqlDatabase:
    """Apply migrations, then open the database."""
    await migrate(config.storage.url)
    url = config.storage.url
    db = SqlDatabase(create_engine(url), checkpointer=WalCheckpointer.for_url(url))
    await db.start()
    return db


def build_services(config: Config, db: SqlDatabase) -> Services:
    clock, ids = SystemClock(), UuidFactory()
    events = InMemoryEventBus()
    registry = ConnectionRegistry()
    bus = LocalCommandBus(registry, timeout=config.ocpp.call_timeout)
    auth = AuthorizationPolicy(accept_unknown=config.authorization.unknown_tokens == "accept")
    timeout = config.sessions.plugin_timeout
    t = config.tariff
    tariff = Tariff(t.currency, t.price_per_kwh, t.price_per_minute, t.session_fee)
    database: Database = db
    policy = ChargerPolicy(
        auto_register=config.ocpp.auto_register,
        heartbeat_interval=config.ocpp.heartbeat_interval,
        plugin_timeout=timeout,
    )
    password_changes = PasswordChanges()
    return Services(
        config=config,
        db=db,
        events=events,
        bus=bus,
        registry=registry,
        chargers=ChargerService(database, events, clock, policy, auth, password_changes),
        sessions=SessionService(database, bus, events, clock, ids, auth, timeout),
        transactions=TransactionService(
            database,
            events,
            clock,
            ids,
            tariff,
            auth,
            timeout,
            update_interval=config.sessions.update_interval,
        ),
        operators=OperatorService(database, clock),
        webhooks=WebhookService(database, clock),
        roaming=RoamingService(database, events, clock),
        passwords=PasswordRotation(database, bus, password_changes),
        clock=clock,
    )


class HttpServer:
    """uvicorn serving the API app on a socket we bind ourselves (so port 0 works)."""

    def __init__(self, app: Any, host: str, port: int, log_level: str) -> None:
        self._sock = socket.create_server((host, port), reuse_port=False)
        # asyncio only sets TCP_NODELAY on sockets that report IPPROTO_TCP, and create_server's
        # report 0: without it uvicorn's body waits for the ACK of its headers (~40 ms, Nagle +
        # delayed ACK). Accepted sockets inherit the option.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        # Our event loop owns SIGINT/SIGTERM (see __main__); uvicorn must not take them over.
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]), name="http")

    async def close(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._sock.close()


class Csms:
    """A running central system: OCPP gateway, HTTP API and the session timers.

    ``tls`` is the OCPP TLS listener's context (:func:`tls_context`); None listens on ws:// only.
    """

    def __init__(self, services: Services, tls: ssl.SSLContext | None = None) -> None:
        self.services = services
        cfg = services.config.ocpp
        settings = GatewaySettings(
            host=cfg.host,
            port=cfg.port,
            max_frame_bytes=cfg.max_frame_bytes,
            ping_interval=cfg.ping_interval,
            ping_timeout=cfg.ping_timeout,
            compression=cfg.compression,
            tls=tls,
            tls_port=cfg.tls_port,
            max_messages_per_second=cfg.max_messages_per_second,
            message_burst=cfg.message_burst,
        )
        gateway = GatewayServices(services.chargers, services.transactions)
        self.ocpp = OcppServer(settings, gateway, services.registry)
        api = services.config.api
        level = services.config.logging.level.lower()
        self.http = HttpServer(create_app(services), api.host, api.port, level)
        hooks = services.config.webhooks
        policy = RetryPolicy(hooks.max_attempts, hooks.retry_base, hooks.retry_max, hooks.timeout)
        oioi = services.config.oioi
        senders: dict[str, Sender] = {
            CONSUMER: WebhookSender(services.clock),
            OIOI: OioiSender(oioi),
            OCPI: OcpiSender(services.config.ocpi),
        }
        self.outbox = DeliveryWorker(services.db, services.clock, policy, senders)
        ocpi_router = OcpiRouter(services.config.ocpi, services.config.tariff.currency)
        self.relays = [
            JournalRelay(services.db, services.clock, WebhookRouter(), self.outbox.wake),
            JournalRelay(services.db, services.clock, OioiRouter(oioi), self.outbox.wake),
            JournalRelay(services.db, services.clock, ocpi_router, self.outbox.wake),
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.services.db.write(lambda uow: uow.chargers.mark_all_offline())
        for relay in self.relays:
            await relay.register()
            self.services.events.subscribe(relay.wake)
        await self.ocpp.start()
        self.http.start()
        for name, work in (
            ("expire-pending", self._expire_loop()),
            ("outbox", self.outbox.run()),
            *((f"relay-{i}", relay.run()) for i, relay in enumerate(self.relays)),
        ):
            self._tasks.append(asyncio.create_task(work, name=name))
        log.info("OCPP server listening %s", self._listeners())
        log.info("HTTP API listening on port %s", self.http.port)

    def _listeners(self) -> str:
        """Both OCPP listeners in one line, for the start-up log."""
        cfg = self.services.config.ocpp
        plain = f"on port {self.ocpp.port} (ws://, security profile 1)"
        if self.ocpp.tls_port is None:
            return f"{plain}; no TLS listener ([ocpp] tls_cert_file is not set)"
        clients = (
            f"client certificates checked against {cfg.tls_client_ca_file}"
            if cfg.tls_client_ca_file
            else "no client certificates asked for"
        )
        tls = f"on port {self.ocpp.tls_port} (wss://, TLS >= 1.2, profiles 1-3; {clients})"
        return f"{plain} and {tls}"

    async def _expire_loop(self) -> None:
        interval = self.services.config.sessions.expiry_check_interval
        while True:
            try:
                await self.services.sessions.expire_pending()
            except Exception:
                log.exception("expiring pending sessions failed")
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.close()
        await self.ocpp.close()
        await self.services.db.close()


def tls_context(cfg: OcppConfig) -> ssl.SSLContext | None:
    """The TLS listener's context from ``[ocpp] tls_*``; a file that will not load names its key."""
    if not cfg.tls:
        return None
    key = Path(cfg.tls_key_file) if cfg.tls_key_file else None
    ca = Path(cfg.tls_client_ca_file) if cfg.tls_client_ca_file else None
    try:
        context = server_context(Path(cfg.tls_cert_file), key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"[ocpp] tls_cert_file / tls_key_file: cannot load {cfg.tls_cert_file}: {exc}"
        ) from exc
    if ca is not None:
        try:
            ask_client_certificates(context, ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[ocpp] tls_client_ca_file: cannot load {ca}: {exc}") from exc
    return context


async def start_csms(config: Config) -> Csms:
    tls = tls_context(config.ocpp)  # before anything opens: a bad file stops start-up at once
    db = await open_database(config)
    csms = Csms(build_services(config, db), tls)
    await csms.start()
    return csms
