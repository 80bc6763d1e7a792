"""Hypothesis profiles for the fuzz tests, and a count of the frames and requests they sent.

``make test`` runs the ``ci`` profile: derandomized (the same examples every run) and small.
``make fuzz`` sets ``CSMS_FUZZ=long``: random examples, about 10,000 OCPP frames in all and a
longer schemathesis run.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

LONG = os.environ.get("CSMS_FUZZ") == "long"
# One fuzzed frame per example; 4 OCPP properties x 2,500 = 10,000 frames with CSMS_FUZZ=long.
OCPP_EXAMPLES = 2500 if LONG else 100
HTTP_EXAMPLES = 100 if LONG else 8

_SUPPRESS = [
    HealthCheck.function_scoped_fixture,  # one server and one socket serve every example
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, suppress_health_check=_SUPPRESS
)
settings.register_profile(
    "long", derandomize=False, database=None, deadline=None, suppress_health_check=_SUPPRESS
)
settings.load_profile("long" if LONG else "ci")

SENT: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SENT:
        parts = ", ".join(f"{n} {what}" for what, n in sorted(SENT.items()))
        terminalreporter.write_line(f"fuzz: sent {parts}")
