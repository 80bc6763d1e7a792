"""A charger simulator for OCPP 1.6J and 2.0.1 that stands in for the hardware.

It imports nothing from ``csms`` or ``api`` and works against any CSMS. Scenarios are data
(``charger_sim/scenarios/*.toml``, format in ``scenarios/README.md``); ``charger-sim run``
plays one as one charger, and :func:`charger_sim.runner.run` does the same in-process.
"""
