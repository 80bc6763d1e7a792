"""``charger-sim``: run a scenario as one simulated charger, or a fleet of many.

    charger-sim run --url ws://127.0.0.1:9000/ocpp --id CP1 --protocol 2.0.1 --scenario remote_start
    charger-sim fleet --url ws://127.0.0.1:9000/ocpp --count 5000 --protocol mix --workers 2

Exit codes: 0 the scenario passed, 1 a step or expectation failed (the message names it),
2 bad usage or an invalid scenario file. ``fleet``: docs/charger-sim-fleet.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from charger_sim.fleet import cli as fleet_cli
from charger_sim.fleet.options import add_arguments as add_fleet_arguments
from charger_sim.runner import Security, SimError, run
from charger_sim.scenario import ScenarioError, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="charger-sim", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run one scenario as one charger")
    run_cmd.add_argument("--url", required=True, help="CSMS URL; the charger id is appended")
    run_cmd.add_argument("--id", required=True, dest="charger_id", help="charger identity")
    run_cmd.add_argument("--protocol", required=True, choices=["1.6", "2.0.1"])
    run_cmd.add_argument("--scenario", required=True, help="a shipped scenario name or a path")
    run_cmd.add_argument("--password", help="Basic auth password (security profiles 1 and 2)")
    run_cmd.add_argument(
        "--ca-file", type=Path, help="trust this CA for a wss:// URL (profiles 2 and 3)"
    )
    run_cmd.add_argument("--cert", type=Path, help="client certificate, PEM (profile 3)")
    run_cmd.add_argument("--key", type=Path, help="the client certificate's private key, PEM")
    run_cmd.add_argument(
        "--queue-file", type=Path, help="keep queued transaction messages in this file"
    )
    run_cmd.add_argument("-v", "--verbose", action="store_true", help="log every step")
    fleet_cmd = commands.add_parser("fleet", help="run many chargers (a load generator)")
    add_fleet_arguments(fleet_cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "fleet":
        logging.basicConfig(level=logging.ERROR)  # thousands of chargers: the summary speaks
        return fleet_cli.main(args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        scenario = load(args.scenario)
    except ScenarioError as exc:
        print(f"charger-sim: invalid scenario: {exc}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(
            run(
                scenario,
                url=args.url,
                charger_id=args.charger_id,
                protocol=args.protocol,
                security=Security(args.password, args.ca_file, args.cert, args.key),
                queue_file=args.queue_file,
            )
        )
    except SimError as exc:
        print(f"charger-sim: {scenario.name} failed: {exc}", file=sys.stderr)
        return 1
    for done in result.delivered:
        print(f"transaction {done.transaction_id} on EVSE {done.evse_id}: {done.energy_wh} Wh")
    if result.queued:
        print(f"charger-sim: {result.queued} transaction messages wait in {args.queue_file}")
    print(f"charger-sim: {scenario.name} passed ({len(scenario.steps)} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
