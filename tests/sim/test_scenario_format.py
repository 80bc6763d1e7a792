"""Scenario files: the shipped ones load, bad ones fail naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from charger_sim.__main__ import main
from charger_sim.scenario import ACTIONS, CSMS_WAITS, SCENARIO_DIR, ScenarioError, load, parse

BOOT = {"action": "boot"}


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid(path: Path) -> None:
    """Every shipped scenario passes validation."""
    assert load(str(path)).steps


def test_unknown_step_key_is_named() -> None:
    """A misspelt step key fails with the step index and the key."""
    with pytest.raises(ScenarioError, match=r"steps\[1\]: unknown key 'kwhh' for 'charge'"):
        parse({"steps": [BOOT, {"action": "charge", "kwhh": 2}]})


def test_unknown_action_is_named() -> None:
    """An unknown action fails naming the step and listing the known actions."""
    with pytest.raises(ScenarioError, match=r"steps\[0\]: 'action' must be one of boot"):
        parse({"steps": [{"action": "teleport"}]})


def test_wrong_type_is_named() -> None:
    """A value of the wrong type fails naming the key and the expected type."""
    with pytest.raises(ScenarioError, match=r"steps\[1\]: 'kwh' must be float, got str"):
        parse({"steps": [BOOT, {"action": "charge", "kwh": "2"}]})


def test_unknown_charger_key_is_named() -> None:
    """A misspelt [charger] key fails naming it."""
    with pytest.raises(ScenarioError, match=r"charger: unknown key 'power'"):
        parse({"charger": {"power": 11}, "steps": [BOOT]})


def test_charge_needs_an_amount() -> None:
    """A charge step needs exactly one of kwh or seconds."""
    with pytest.raises(ScenarioError, match="exactly one of 'kwh' or 'seconds'"):
        parse({"steps": [BOOT, {"action": "charge", "kwh": 1, "seconds": 60}]})


def test_cli_rejects_invalid_scenario_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI exits 2 on an invalid scenario file and prints the bad key before connecting."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\naction = "boot"\nexpect_stauts = "Accepted"\n')
    argv = ["run", "--url", "ws://127.0.0.1:9/ocpp", "--id", "X", "--protocol", "1.6"]
    assert main([*argv, "--scenario", str(bad)]) == 2
    assert "steps[0]: unknown key 'expect_stauts'" in capsys.readouterr().err


def test_every_step_that_waits_for_the_csms_says_so() -> None:
    """A new ``wait_*`` step is either in CSMS_WAITS (its scenarios need someone playing the
    CSMS, and the strict-CSMS tests a driver) or waits for the charger itself."""
    waits = {action for action in ACTIONS if action.startswith("wait_")}
    assert waits >= CSMS_WAITS
    assert waits - CSMS_WAITS == {"wait_queue"}  # the charger's own queue
