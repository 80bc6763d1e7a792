"""``charger-sim fleet``: options in, progress on stderr, summary JSON on stdout, exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from charger_sim.fleet.options import FleetOptions, UsageError, from_args
from charger_sim.fleet.report import Progress, exit_code
from charger_sim.fleet.supervisor import Fleet


def main(args: argparse.Namespace) -> int:
    """Run the fleet; 0 all Accepted and no errors, 1 otherwise, 2 bad usage."""
    try:
        options = from_args(args)
    except UsageError as exc:
        print(f"charger-sim fleet: error: {exc}", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(_run(options))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("charger-sim fleet: interrupted twice; no summary", file=sys.stderr)
        return 130
    text = json.dumps(summary, indent=2)
    if options.summary:
        try:
            Path(options.summary).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"charger-sim fleet: cannot write the summary: {exc}", file=sys.stderr)
            summary["ok"] = False
    print(text)
    return exit_code(summary)


async def _run(options: FleetOptions) -> dict[str, Any]:
    fleet = Fleet(options)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None

    def interrupted() -> None:
        """The first signal stops cleanly (transactions stopped); a second one gives up."""
        if fleet.stopping:
            main.cancel()
        else:
            fleet.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no loop signal handlers on Windows
            loop.add_signal_handler(sig, interrupted)
    progress = None if options.quiet else Progress(sys.stderr, options.count)
    return await fleet.run(progress)
