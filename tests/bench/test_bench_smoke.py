"""Every benchmark at its tiny size, through the same code path as ``make bench-smoke``.

Benchmarks are not tests: nothing here looks at a time or a rate. What is checked is that each
benchmark still runs end to end (CSMS subprocess, baselines, ``charger-sim fleet``
subprocesses), that the report files hold the expected fields, and that the database check
passed. The benchmarks run as several ``python -m bench --only <name>`` processes at once to
keep this quick; all of them together are bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.cli import BENCHMARKS

REPO = Path(__file__).resolve().parents[2]
# One process per benchmark, and the connections benchmark split by compression: the longest
# process then takes about as long as the others.
PROCESSES = {
    "throughput": ["--only", "throughput"],
    "paced": ["--only", "paced"],
    "connections-none": ["--only", "connections", "--connections-compression", "none"],
    "connections-deflate": ["--only", "connections", "--connections-compression", "deflate"],
    "storm": ["--only", "storm"],
    "remote_start": ["--only", "remote_start"],
}
SERVERS = ["csms", "naive", "echo"]
TIMEOUT = 240  # seconds for all of them together; they take well under a minute
STOP_GRACE = 120  # seconds a harness gets after SIGTERM to stop its servers and fleets
SMALL = 20  # chargers in every small case

Reports = dict[str, tuple[int, Path, str]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """Run each benchmark once at the small size; its exit code, output directory and log."""
    root = tmp_path_factory.mktemp("bench")
    started: dict[str, tuple[subprocess.Popen[bytes], Path, Path]] = {}
    for name, options in PROCESSES.items():
        out, log = root / name, root / f"{name}.log"
        with log.open("wb") as sink:
            command = [sys.executable, "-m", "bench", "--size", "small", "--runs", "1"]
            proc = subprocess.Popen(
                [*command, *options, "--out", str(out)],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        started[name] = (proc, out, log)
    deadline = time.monotonic() + TIMEOUT
    try:
        for proc, _, _ in started.values():
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        _stop([proc for proc, _, _ in started.values()])
    return {name: (p.returncode, out, log.read_text()) for name, (p, out, log) in started.items()}


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM makes a harness stop its servers and fleets; SIGKILL if it does not in time."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for proc in running:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _report(runs: Reports, name: str) -> dict[str, Any]:
    code, out, log = runs[name]
    assert code == 0, f"python -m bench --only {name} exited {code}:\n{log}"
    files = sorted(p.name for p in out.iterdir())
    assert "latest.json" in files and "latest.md" in files, files
    assert any(f.endswith("-small.json") for f in files) and any(
        f.endswith("-small.md") for f in files
    )
    report: dict[str, Any] = json.loads((out / "latest.json").read_text())
    (stamped,) = [p for p in out.iterdir() if p.name.endswith("-small.json")]
    assert json.loads(stamped.read_text()) == report
    return report


def _case(report: dict[str, Any], index: int = 0) -> dict[str, Any]:
    (bench,) = report["benchmarks"]
    case: dict[str, Any] = bench["cases"][index]
    return case


def _runs(case: dict[str, Any], server: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = case["servers"][server]["runs"]
    assert len(runs) == 1 and "error" not in runs[0], runs
    return runs


@pytest.mark.parametrize("name", PROCESSES)
def test_report_says_where_and_what_it_ran(runs: Reports, name: str) -> None:
    """Each report names the machine, the versions, every server, and every metric's spread."""
    report = _report(runs, name)
    assert report["ok"] is True and report["size"] == "small" and report["runs"] == 1
    assert set(report["machine"]) >= {"cpu", "cores", "ram_gib", "kernel", "python"}
    assert {"csms", "websockets", "ocpp", "sqlalchemy"} <= set(report["versions"])
    assert report["versions"]["csms"] and report["versions"]["ocpp"]
    assert report["servers"] == SERVERS and report["open_files_limit"]["soft"] > 0
    (bench,) = report["benchmarks"]
    assert name.startswith(bench["name"]) and bench["how"] and bench["metrics"]
    for case in bench["cases"]:
        assert set(case["servers"]) == set(SERVERS)
        for metric in bench["metrics"]:
            stats = case["servers"]["csms"]["stats"][metric["key"]]
            assert stats is not None and set(stats) >= {"min", "median", "max"}, metric
            assert set(case["ratios"][metric["key"]]) == {"naive", "echo"}
        for target in case["targets"]:
            assert target["verdict"] in ("pass", "fail", "no data") and target["target"]
    markdown = (runs[name][1] / "latest.md").read_text()
    assert "## Targets" in markdown and f"## {bench['title']}" in markdown
    assert "csms / naive" in markdown and "csms / echo" in markdown


def test_throughput_finds_every_acknowledged_sample_in_the_database(runs: Reports) -> None:
    """The database check ran on the CSMS and the naive baseline, and passed."""
    case = _case(_report(runs, "throughput"))
    assert case["params"] == {"chargers": SMALL}
    for server in ("csms", "naive"):
        (run,) = _runs(case, server)
        check = run["db_check"]
        assert check["checked"] and check["ok"], check
        assert check["samples_acknowledged"] > 0 and check["samples_missing"] == 0
        assert check["energy_equal"] and run["metrics"]["samples_acked"] > 0
    (echo,) = _runs(case, "echo")
    assert echo["db_check"]["checked"] is False
    assert [t["metric"] for t in case["targets"]] == ["msgs_per_s", "p99_ms"]


def test_throughput_measures_each_servers_cpu_per_acknowledged_message(runs: Reports) -> None:
    """Every server's CPU time over the flood window is divided by the messages acknowledged."""
    case = _case(_report(runs, "throughput"))
    for server in SERVERS:
        (run,) = _runs(case, server)
        assert run["metrics"]["server_cpu_us_per_msg"] > 0, server


def test_paced_acknowledges_samples_at_the_offered_rate(runs: Reports) -> None:
    """Every server acknowledged samples from every charger at the fixed rate, without errors."""
    case = _case(_report(runs, "paced"))
    assert case["params"] == {"chargers": SMALL, "rate": 1.0}
    for server in SERVERS:
        (run,) = _runs(case, server)
        metrics = run["metrics"]
        assert metrics["offered_msgs_per_s"] == SMALL and metrics["errors"] == 0
        assert run["fleet"]["meter_samples"]["acknowledged"] >= SMALL
        assert metrics["p99_ms"] is not None and metrics["msgs_per_s"] is not None
        steady = run["fleet"]["latency_ms"]["meter_samples_steady"]
        assert metrics["steady_p99_ms"] == steady["p99"] is not None
        assert 0 < steady["count"] <= run["fleet"]["latency_ms"]["meter_samples"]["count"]
    assert [t["metric"] for t in case["targets"]] == ["steady_p99_ms"]


def test_connections_measures_memory_with_and_without_compression(runs: Reports) -> None:
    """One case per compression; every charger stayed online; RSS was read before and after."""
    for compression in ("none", "deflate"):
        case = _case(_report(runs, f"connections-{compression}"))
        assert case["params"] == {"chargers": SMALL, "compression": compression}
        for server in SERVERS:
            (run,) = _runs(case, server)
            metrics = run["metrics"]
            assert metrics["online_at_stop"] == SMALL and metrics["errors"] == 0
            assert metrics["rss_before_mib"] > 0 and metrics["rss_after_mib"] > 0


def test_storm_gets_every_charger_accepted(runs: Reports) -> None:
    """All chargers connecting at once end up Accepted on every server."""
    case = _case(_report(runs, "storm"))
    for server in SERVERS:
        (run,) = _runs(case, server)
        assert run["metrics"]["accepted"] == SMALL and run["metrics"]["errors"] == 0
        assert run["metrics"]["all_accepted_s"] is not None


def test_remote_start_reaches_every_charger(runs: Reports) -> None:
    """Every REST (or baseline HTTP) start got its charger's answer back."""
    case = _case(_report(runs, "remote_start"))
    assert case["params"] == {"chargers": SMALL, "starts": SMALL}
    for server in SERVERS:
        (run,) = _runs(case, server)
        assert run["metrics"]["answered"] == SMALL and run["metrics"]["unanswered"] == 0
        assert set(run["answers"]) <= {"Accepted", "Rejected"}


def test_every_benchmark_is_smoke_tested() -> None:
    """A new benchmark cannot be added without running here."""
    assert {options[1] for options in PROCESSES.values()} == set(BENCHMARKS)


def test_bad_usage_exits_2() -> None:
    """An unknown benchmark name is refused before anything starts."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nonsense"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "nonsense" in done.stderr
