"""``csms`` command line: serve, migrate, chargers, tokens, sessions."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from csms.config import Config, ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"csms: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.logging.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is noise
    handler: Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]] = args.handler
    try:
        return asyncio.run(handler(config, args))
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"csms: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # found while starting (a TLS file that does not load)
        print(f"csms: configuration error: {exc}", file=sys.stderr)
        return 2


class CliError(Exception):
    pass


PROFILES = (
    "OCPP security profile: 1 = Basic auth (ws:// or wss://), 2 = wss:// + Basic auth, "
    "3 = wss:// + a client certificate whose CN is the charger id; a charger is refused "
    "over anything weaker (default 1)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms", description="OCPP central system")
    parser.add_argument("--config", help="config TOML file (default: $CSMS_CONFIG or built-in)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the OCPP gateway and the HTTP API")
    serve.add_argument("--config", dest="config", default=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(handler=_migrate)

    chargers = sub.add_parser("chargers", help="manage chargers").add_subparsers(required=True)
    add = chargers.add_parser("add", help="register a charger")
    add.add_argument("id")
    add.add_argument("--password", help="Basic auth password (default: generated and printed)")
    add.add_argument("--no-password", action="store_true", help="no Basic auth (lab use only)")
    add.add_argument("--status", default="Accepted", choices=["Accepted", "Pending", "Rejected"])
    add.add_argument("--security-profile", type=int, default=1, choices=range(4), help=PROFILES)
    add.add_argument(
        "--allow-missing-subprotocol",
        action="store_true",
        help="accept a charger that sends no Sec-WebSocket-Protocol header (as OCPP 1.6)",
    )
    add.set_defaults(handler=_chargers_add)
    update = chargers.add_parser("update", help="change a charger's password, status or profile")
    update.add_argument("id")
    update.add_argument("--password", help="a new Basic auth password")
    update.add_argument("--status", choices=["Accepted", "Pending", "Rejected"])
    update.add_argument("--security-profile", type=int, choices=range(4), help=PROFILES)
    update.set_defaults(handler=_chargers_update)
    chargers.add_parser("list", help="list chargers").set_defaults(handler=_chargers_list)

    tokens = sub.add_parser("tokens", help="manage id tokens").add_subparsers(required=True)
    tadd = tokens.add_parser("add", help="add or update an id token")
    tadd.add_argument("tag")
    tadd.add_argument(
        "--status", default="Accepted", choices=["Accepted", "Blocked", "Expired", "Invalid"]
    )
    tadd.add_argument("--expires", help="expiry, ISO 8601 (e.g. 2027-01-01T00:00:00Z)")
    tadd.add_argument("--group", help="group / parent id token")
    tadd.add_argument("--type", default="ISO14443", help="id token type (2.0.1 IdTokenEnumType)")
    tadd.set_defaults(handler=_tokens_add)
    tokens.add_parser("list", help="list id tokens").set_defaults(handler=_tokens_list)

    keys = sub.add_parser("api-keys", help="manage HTTP API keys").add_subparsers(required=True)
    kcreate = keys.add_parser("create", help="create an API key (printed once, stored hashed)")
    kcreate.add_argument("--name", required=True, help="who the key is for")
    kcreate.add_argument(
        "--scope",
        action="append",
        choices=["operator", "sessions"],
        help="operator: everything; sessions: only /v1/sessions (repeatable; default operator)",
    )
    kcreate.set_defaults(handler=_api_keys_create)
    keys.add_parser("list", help="list API keys").set_defaults(handler=_api_keys_list)
    krevoke = keys.add_parser("revoke", help="revoke an API key by its id")
    krevoke.add_argument("key_id")
    krevoke.set_defaults(handler=_api_keys_revoke)

    ocpi = sub.add_parser("ocpi", help="OCPI 2.2.1 roaming partners").add_subparsers(required=True)
    invite = ocpi.add_parser(
        "invite", help="create a one-time token A for an eMSP (printed once, stored hashed)"
    )
    invite.add_argument("--country", required=True, help="the eMSP's country code, e.g. NL")
    invite.add_argument("--party", required=True, help="the eMSP's party id, e.g. ABC")
    invite.add_argument("--name", help="who the partner is")
    invite.set_defaults(handler=_ocpi_invite)
    ocpi.add_parser("partners", help="list OCPI partners").set_defaults(handler=_ocpi_partners)
    orevoke = ocpi.add_parser("revoke", help="end a partnership: its tokens stop working")
    orevoke.add_argument("partner_id")
    orevoke.set_defaults(handler=_ocpi_revoke)

    sessions = sub.add_parser("sessions", help="inspect sessions").add_subparsers(required=True)
    slist = sessions.add_parser("list", help="list recent sessions")
    slist.add_argument("--status")
    slist.add_argument("--charger")
    slist.add_argument("--limit", type=int, default=20)
    slist.set_defaults(handler=_sessions_list)
    return parser


async def _serve(config: Config, args: argparse.Namespace) -> int:
    from csms.serve import run

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await run(config, stop)
    return 0


async def _migrate(config: Config, args: argparse.Namespace) -> int:
    from csms.storage.sql.migrate import migrate

    await migrate(config.storage.url)
    print(f"migrated {config.storage.url}")
    return 0


async def _with_db(config: Config, work: Callable[[Any], Awaitable[int]]) -> int:
    from csms.bootstrap import open_database

    db = await open_database(config)
    try:
        return await work(db)
    finally:
        await db.close()


async def _chargers_add(config: Config, args: argparse.Namespace) -> int:
    from csms.domain.errors import AlreadyExists

    async def work(db: Any) -> int:
        try:
            created = await _operators(db).add_charger(
                args.id,
                password=args.password,
                generate_password=not args.no_password,
                registration_status=args.status,
                security_profile=args.security_profile,
                allow_missing_subprotocol=args.allow_missing_subprotocol,
            )
        except AlreadyExists as exc:
            raise CliError(str(exc)) from None
        print(
            f"added charger {args.id} (registration {args.status}, "
            f"security profile {args.security_profile})"
        )
        if created.password:
            print(f"password: {created.password}   (shown once; stored hashed)")
        return 0

    return await _with_db(config, work)


async def _chargers_update(config: Config, args: argparse.Namespace) -> int:
    from csms.domain.errors import ChargerNotFound

    settings: dict[str, Any] = {}
    if args.status is not None:
        settings["registration_status"] = args.status
    if args.security_profile is not None:
        settings["security_profile"] = args.security_profile
    if not settings and args.password is None:
        raise CliError("nothing to change: give --password, --status or --security-profile")

    async def work(db: Any) -> int:
        try:
            charger = await _operators(db).update_charger(
                args.id, password=args.password, **settings
            )
        except ChargerNotFound as exc:
            raise CliError(str(exc)) from None
        print(
            f"updated charger {args.id} (registration {charger.registration_status}, "
            f"security profile {charger.security_profile})"
        )
        return 0

    return await _with_db(config, work)


async def _chargers_list(config: Config, args: argparse.Namespace) -> int:
    async def work(db: Any) -> int:
        chargers = await db.read(lambda uow: uow.chargers.list())
        print(
            f"{'id':<24} {'protocol':<8} {'online':<6} {'status':<9} {'profile':<7} "
            f"{'last seen':<25} vendor/model"
        )
        for c in chargers:
            seen = c.last_seen.isoformat() if c.last_seen else "-"
            print(
                f"{c.id:<24} {c.protocol or '-':<8} {'yes' if c.online else 'no':<6} "
                f"{c.registration_status:<9} {c.security_profile:<7} {seen:<25} "
                f"{c.vendor or '-'}/{c.model or '-'}"
            )
        return 0

    return await _with_db(config, work)


async def _tokens_add(config: Config, args: argparse.Namespace) -> int:
    from csms.domain.model import IdToken, TokenStatus

    expires = None
    if args.expires:
        try:
            expires = datetime.fromisoformat(args.expires)
        except ValueError:
            raise CliError(f"--expires: not an ISO 8601 date-time: {args.expires}") from None
        expires = expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires.astimezone(UTC)
    token = IdToken(args.tag, args.type, TokenStatus(args.status), expires, args.group)

    async def work(db: Any) -> int:
        async def upsert(uow: Any) -> None:
            if await uow.tokens.get(args.tag) is None:
                await uow.tokens.add(token)
            else:
                await uow.tokens.save(token)

        await db.write(upsert)
        print(
            f"token {args.tag}: {args.status}"
            + (f" until {expires.isoformat()}" if expires else "")
        )
        return 0

    return await _with_db(config, work)


async def _tokens_list(config: Config, args: argparse.Namespace) -> int:
    async def work(db: Any) -> int:
        for t in await db.read(lambda uow: uow.tokens.list()):
            expiry = t.expires_at.isoformat() if t.expires_at else "-"
            print(f"{t.id_token:<24} {t.type:<10} {t.status:<9} {expiry:<25} {t.group_id or '-'}")
        return 0

    return await _with_db(config, work)


def _operators(db: Any) -> Any:
    from csms.bootstrap import SystemClock
    from csms.domain.operators import OperatorService

    return OperatorService(db, SystemClock())


async def _api_keys_create(config: Config, args: argparse.Namespace) -> int:
    from csms.domain.model import ApiScope

    scopes = [ApiScope(s) for s in (args.scope or ["operator"])]

    async def work(db: Any) -> int:
        created = await _operators(db).create_api_key(args.name, scopes)
        print(f"API key {created.key.id} for {args.name} ({', '.join(created.key.scopes)})")
        print(f"key: {created.secret}   (shown once; stored hashed)")
        return 0

    return await _with_db(config, work)


async def _api_keys_list(config: Config, args: argparse.Namespace) -> int:
    async def work(db: Any) -> int:
        print(f"{'id':<14} {'name':<24} {'scopes':<20} {'created':<27} revoked")
        for k in await _operators(db).api_keys():
            revoked = k.revoked_at.isoformat() if k.revoked_at else "-"
            scopes = ",".join(k.scopes)
            print(f"{k.id:<14} {k.name:<24} {scopes:<20} {k.created_at.isoformat():<27} {revoked}")
        return 0

    return await _with_db(config, work)


async def _api_keys_revoke(config: Config, args: argparse.Namespace) -> int:
    from csms.domain.errors import InvalidInput

    async def work(db: Any) -> int:
        try:
            await _operators(db).revoke_api_key(args.key_id)
        except InvalidInput as exc:
            raise CliError(str(exc)) from None
        print(f"revoked API key {args.key_id}")
        return 0

    return await _with_db(config, work)


def _roaming(db: Any) -> Any:
    from csms.bootstrap import SystemClock
    from csms.domain.roaming import RoamingService
    from csms.eventbus import InMemoryEventBus

    return RoamingService(db, InMemoryEventBus(), SystemClock())


async def _ocpi_invite(config: Config, args: argparse.Namespace) -> int:
    country, party = args.country.upper(), args.party.upper()
    if len(country) != 2 or len(party) != 3:
        raise CliError("--country takes 2 characters and --party 3 (e.g. --country NL --party ABC)")

    async def work(db: Any) -> int:
        invited = await _roaming(db).invite(country, party, args.name)
        base = config.ocpi.public_url or f"http://localhost:{config.api.port}"
        print(f"OCPI partner {invited.partner.id} ({country}/{party}) invited")
        print(f"token A: {invited.token_a}   (shown once; stored hashed)")
        print(f"versions URL: {base.rstrip('/')}/ocpi/versions")
        return 0

    return await _with_db(config, work)


async def _ocpi_partners(config: Config, args: argparse.Namespace) -> int:
    async def work(db: Any) -> int:
        print(f"{'id':<14} {'party':<8} {'status':<12} {'version':<8} {'name':<20} versions URL")
        for p in await _roaming(db).partners():
            party = f"{p.country_code}/{p.party_id}"
            name, version = p.name or "-", p.version or "-"
            print(
                f"{p.id:<14} {party:<8} {p.status.value:<12} {version:<8} {name:<20} "
                f"{p.versions_url or '-'}"
            )
        return 0

    return await _with_db(config, work)


async def _ocpi_revoke(config: Config, args: argparse.Namespace) -> int:
    from csms.domain.roaming import PartnerNotFound

    async def work(db: Any) -> int:
        try:
            await _roaming(db).revoke(args.partner_id)
        except PartnerNotFound as exc:
            raise CliError(str(exc)) from None
        print(f"revoked OCPI partner {args.partner_id}")
        return 0

    return await _with_db(config, work)


async def _sessions_list(config: Config, args: argparse.Namespace) -> int:
    from csms.domain.model import SessionStatus

    status = SessionStatus(args.status) if args.status else None

    async def work(db: Any) -> int:
        rows = await db.read(
            lambda uow: uow.sessions.list(status=status, charger_id=args.charger, limit=args.limit)
        )
        print(
            f"{'session':<36} {'charger':<16} {'conn':<4} {'tx':<10} {'status':<12} "
            f"{'kWh':>10} {'cost':>8}"
        )
        for s in rows:
            cost = f"{s.cost:.2f}" if s.cost is not None else "-"
            print(
                f"{s.id:<36} {s.charger_id:<16} {s.connector_id or '-'!s:<4} "
                f"{s.transaction_id or '-':<10} {s.status:<12} {s.energy_kwh:>10.3f} {cost:>8}"
            )
        return 0

    return await _with_db(config, work)


if __name__ == "__main__":
    sys.exit(main())
