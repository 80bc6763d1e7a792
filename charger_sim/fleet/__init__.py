"""Fleet mode: many simulated chargers in one process, or across worker processes.

``charger-sim fleet`` (docs/charger-sim-fleet.md) is the load generator for ``bench/``. In
process, build :class:`FleetOptions`, then ``summary = await Fleet(options).run()``; call
:meth:`Fleet.stop` (or give ``duration``) to end it cleanly.

Modules: ``options`` (what to run), ``charger`` (one charger's life), ``worker`` (a slice of
chargers on one loop, and the worker process), ``supervisor`` (the parent: stop, progress,
merging), ``stats`` (counters and latency histograms), ``report`` (progress line and summary).
"""

from charger_sim.fleet.options import FleetOptions, UsageError
from charger_sim.fleet.report import exit_code
from charger_sim.fleet.supervisor import Fleet

__all__ = ["Fleet", "FleetOptions", "UsageError", "exit_code"]
