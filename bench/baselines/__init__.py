"""Baselines the benchmarks run next to our CSMS, so every figure comes with two yardsticks.

``naive_ocpp``: a central system built the obvious way on the ``ocpp`` package. ``echo``: a raw
websockets server answering every CALL at once, the ceiling of this machine and load generator.
"""
