"""``charger-sim fleet`` against our real CSMS: boots, sessions, flood, workers, exit codes."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from charger_sim import timefmt, v16, v201
from charger_sim.__main__ import main
from charger_sim.fleet import Fleet, FleetOptions, UsageError, exit_code
from charger_sim.fleet.charger import METER_START_WH
from charger_sim.fleet.flood import WireClock, template
from charger_sim.fleet.report import Progress
from charger_sim.fleet.stats import Histogram, Stats
from charger_sim.model import Identity, Station
from charger_sim.rpc import Payload
from charger_sim.sampling import MeterSpec
from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.events import DomainEvent
from csms.domain.model import SessionStatus
from tests.certs import TestCa
from tests.conftest import MakeCsms
from tests.sim.conftest import in_background, sim_url
from tests.sim.strict_csms import check_timestamp, running_strict_csms
from tests.sim.test_security_profiles import server_tls

ENERGY = "Energy.Active.Import.Register"
OPEN = {"ocpp": {"auto_register": True}, "authorization": {"unknown_tokens": "accept"}}
TIMEOUT = 30


def _options(csms: Csms, **values: Any) -> FleetOptions:
    return FleetOptions(url=sim_url(csms), call_timeout=10, open_timeout=10, **values)


async def _events(queue: asyncio.Queue[DomainEvent], name: str, count: int) -> list[DomainEvent]:
    """The next ``count`` events called ``name``."""
    found = []
    while len(found) < count:
        event = await queue.get()
        if event.name == name:
            found.append(event)
    return found


async def test_a_mixed_fleet_boots_every_charger(make_csms: MakeCsms) -> None:
    """20 chargers, alternating 1.6 and 2.0.1, all connect and are Accepted; the summary agrees."""
    csms = await make_csms(**OPEN)
    fleet = Fleet(_options(csms, count=20, protocol="mix"))
    async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
        await fleet.all_accepted.wait()
        online = {c.charger_id: c.version for c in csms.services.registry.all()}
        fleet.stop()
        summary = await run
    assert online == {f"SIM{n:05d}": "1.6" if n % 2 else "2.0.1" for n in range(1, 21)}
    chargers = summary["chargers"]
    assert chargers["connected"] == chargers["booted"] == chargers["accepted"] == 20
    assert chargers["online_at_stop"] == 20 and chargers["all_accepted_seconds"] is not None
    assert summary["errors"] == {"total": 0, "first": []}
    assert summary["calls"]["acknowledged"] == summary["calls"]["sent"] >= 40  # boot + status
    assert summary["open_files_limit"]["soft"] >= summary["open_files_limit"]["soft_before"]
    assert summary["ok"] and exit_code(summary) == 0


async def test_sessions_energy_equals_what_the_csms_stored(make_csms: MakeCsms) -> None:
    """Poisson sessions at 3600x: every started session ends (also at stop) with equal energy."""
    csms = await make_csms(**OPEN)
    events = csms.services.events.queue()
    options = _options(
        csms, count=6, sessions_per_hour=120, session_minutes=5, time_scale=3600, seed=7
    )
    fleet = Fleet(options)
    async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
        await _events(events, ev.SESSION_ENDED, 8)
        fleet.stop()
        summary = await run
    sessions = await csms.services.sessions.list(limit=10_000)
    assert {s.status for s in sessions} == {SessionStatus.ENDED}
    energy = summary["energy_wh"]
    assert summary["sessions"]["started"] == summary["sessions"]["completed"] == len(sessions)
    assert energy["completed_transactions"]["total"] == sum(s.energy_wh for s in sessions) > 0
    assert energy["completed_transactions"] == energy["delivered"]
    assert summary["meter_samples"]["acknowledged"] > 0 and summary["ok"]


async def test_flood_acknowledged_samples_are_all_stored(make_csms: MakeCsms) -> None:
    """--flood sends samples back-to-back; every acknowledged one is in the database."""
    # A session.updated per sample (update_interval 0): the test counts them to let the flood run.
    csms = await make_csms(**OPEN, sessions={"update_interval": 0.0})
    events = csms.services.events.queue()
    fleet = Fleet(_options(csms, count=4, flood=True))
    async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
        await _events(events, ev.SESSION_UPDATED, 40)
        fleet.stop()
        summary = await run
    sessions = await csms.services.sessions.list(limit=100)
    assert len(sessions) == 4 and {s.status for s in sessions} == {SessionStatus.ENDED}
    stored = 0
    for session in sessions:
        samples = await csms.services.sessions.samples(session.id)
        stored += sum(
            1
            for x in samples
            if x.measurand == ENERGY and x.context == "Sample.Periodic" and x.value > METER_START_WH
        )
    acknowledged = summary["meter_samples"]["acknowledged"]
    assert acknowledged == stored >= 36
    assert summary["latency_ms"]["meter_samples"]["count"] == acknowledged
    completed = summary["energy_wh"]["completed_transactions"]["total"]
    assert completed == sum(s.energy_wh for s in sessions)
    assert summary["ok"]


async def test_a_charger_dropped_by_the_csms_reconnects_and_is_counted(
    make_csms: MakeCsms,
) -> None:
    """A charger notices its socket closing at once (even idle), reconnects and boots again."""
    csms = await make_csms(**OPEN)
    events = csms.services.events.queue()
    fleet = Fleet(_options(csms, count=3, reconnect=0.05))
    async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
        await fleet.all_accepted.wait()
        dropped = csms.services.registry.get("SIM00002")
        assert dropped is not None
        await dropped.close("test drop")
        boots = 0
        while boots < 2:  # its first boot, then the one after reconnecting
            boots += (await _events(events, ev.CHARGER_BOOTED, 1))[0].subject == "SIM00002"
        fleet.stop()
        summary = await run
    chargers = summary["chargers"]
    assert chargers["disconnects"] == 1 and chargers["connect_attempts"] == 4
    assert chargers["accepted"] == 3 and chargers["online_at_stop"] == 3
    errors = {e["message"]: e["count"] for e in summary["errors"]["first"]}
    assert errors["disconnected by the CSMS or the network"] == 1
    assert exit_code(summary) == 1


async def test_refused_chargers_give_up_and_exit_1(csms: Csms) -> None:
    """Unknown chargers are refused in the handshake; with --reconnect 0 the run ends by itself."""
    async with asyncio.timeout(TIMEOUT):
        summary = await Fleet(_options(csms, count=2, reconnect=0)).run()
    assert summary["chargers"]["connect_failures"] == 2 and summary["chargers"]["accepted"] == 0
    ((error),) = summary["errors"]["first"]
    assert error["message"].startswith("connect: HTTP 4") and error["count"] == 2
    assert exit_code(summary) == 1


async def test_cli_with_two_workers_merges_their_counts(
    make_csms: MakeCsms, tmp_path: Path
) -> None:
    """`--workers 2` as a process: ids unique across workers, counts merged, SIGTERM stops it."""
    csms = await make_csms(**OPEN)
    events = csms.services.events.queue()
    summary_file = tmp_path / "summary.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "charger_sim", "fleet", "--url", sim_url(csms), "--count", "6"),
        *("--workers", "2", "--id-prefix", "W", "--summary", str(summary_file)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            booted = await _events(events, ev.CHARGER_BOOTED, 6)
            proc.send_signal(signal.SIGTERM)
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert json.loads(summary_file.read_text()) == summary
    assert {e.subject for e in booted} == {f"W{n:05d}" for n in range(1, 7)}
    assert summary["parameters"]["workers"] == 2
    assert summary["chargers"]["accepted"] == summary["chargers"]["connected"] == 6
    assert summary["calls"]["acknowledged"] >= 12
    assert "connected" in err.decode()  # the progress line


SAMPLE_ACTIONS = {"1.6": "MeterValues", "2.0.1": "TransactionEvent"}
SAMPLE_WH = 183  # a sample's energy at the defaults: 11 kW for 60 s


def _samples(strict: Any, charger_id: str, version: str) -> list[Payload]:
    """The periodic samples ``charger_id`` sent the strict CSMS, in order."""
    return [
        r.payload
        for r in strict.received(charger_id)
        if r.action == SAMPLE_ACTIONS[version]
        and r.payload.get("triggerReason", "MeterValuePeriodic") == "MeterValuePeriodic"
    ]


def _register(sample: Payload) -> int:
    return int(sample["meterValue"][0]["sampledValue"][0]["value"])


async def test_flood_sends_schema_valid_samples_with_rising_registers() -> None:
    """Flood frames (built from a template after the first sample) pass the strict CSMS's
    official-schema checks (message ids never reused); registers only go up, 2.0.1 seqNos count
    up without a gap, and the summary counts exactly what the CSMS got."""
    async with running_strict_csms() as strict:
        url = f"ws://127.0.0.1:{strict.port}/ocpp"
        fleet = Fleet(FleetOptions(url=url, count=2, protocol="mix", flood=True))
        async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
            enough = METER_START_WH + 60 * SAMPLE_WH
            await strict.wait_for("SIM00001", "MeterValues", lambda p: _register(p) > enough)
            await strict.wait_for("SIM00002", "TransactionEvent", lambda p: p["seqNo"] > 60)
            fleet.stop()
            summary = await run
    assert strict.violations == []
    acknowledged = 0
    for charger_id, version in CHARGERS:
        samples = _samples(strict, charger_id, version)
        acknowledged += len(samples)
        registers = [_register(s) for s in samples]
        assert registers == sorted(set(registers)) and registers[0] > METER_START_WH
        if version == "2.0.1":
            events = [
                r.payload for r in strict.received(charger_id) if r.action == "TransactionEvent"
            ]
            assert [e["seqNo"] for e in events] == list(range(len(events)))
            assert all(s["timestamp"] == s["meterValue"][0]["timestamp"] for s in samples)
    assert summary["meter_samples"]["acknowledged"] == acknowledged
    assert summary["latency_ms"]["meter_samples"]["count"] == acknowledged
    assert summary["calls"]["sent"] == summary["calls"]["acknowledged"]
    energy = summary["energy_wh"]
    assert energy["delivered"] == energy["completed_transactions"]
    assert energy["delivered"]["total"] == acknowledged * SAMPLE_WH
    assert summary["ok"]


CHARGERS = [("SIM00001", "1.6"), ("SIM00002", "2.0.1")]


async def test_flood_counts_unanswered_samples_as_timeouts() -> None:
    """A sample the CSMS never answers is a timeout (after --call-timeout); the next follows."""
    async with running_strict_csms(silent_on=frozenset(["MeterValues"])) as strict:
        url = f"ws://127.0.0.1:{strict.port}/ocpp"
        fleet = Fleet(FleetOptions(url=url, protocol="1.6", flood=True, call_timeout=0.2))
        async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
            third = METER_START_WH + 3 * SAMPLE_WH
            await strict.wait_for("SIM00001", "MeterValues", lambda p: _register(p) > third)
            fleet.stop()
            summary = await run
    assert strict.violations == []
    sent = len(_samples(strict, "SIM00001", "1.6"))
    calls = summary["calls"]
    assert calls["timeouts"] == sent and calls["sent"] == calls["acknowledged"] + sent
    assert summary["meter_samples"]["acknowledged"] == 0 and summary["sessions"]["completed"] == 1
    errors = {e["message"]: e["count"] for e in summary["errors"]["first"]}
    assert errors == {"MeterValues: no answer within the call timeout": sent}


async def test_flood_counts_callerrors() -> None:
    """A CALLERROR answer to a sample is counted as such, and the flood goes on."""
    seen: dict[str, int] = {}
    refused_20 = asyncio.Event()

    async def refusing_samples(ws: ServerConnection) -> None:
        async for raw in ws:
            _, message_id, action, _ = json.loads(raw)
            seen[action] = seen.get(action, 0) + 1
            if action == "MeterValues":
                answer: list[Any] = [4, message_id, "InternalError", "no", {}]
                if seen[action] == 20:
                    refused_20.set()
            else:
                accepted = {"status": "Accepted"}
                payload: Payload = {"idTagInfo": accepted}
                if action == "BootNotification":
                    payload = {**accepted, "currentTime": timefmt.now(), "interval": 300}
                elif action == "StartTransaction":
                    payload["transactionId"] = 1
                elif action != "StopTransaction":
                    payload = {} if action != "Authorize" else payload
                answer = [3, message_id, payload]
            await ws.send(json.dumps(answer))

    async with serve(
        refusing_samples, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]
    ) as server:
        port = server.sockets[0].getsockname()[1]
        fleet = Fleet(FleetOptions(url=f"ws://127.0.0.1:{port}/ocpp", protocol="1.6", flood=True))
        async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
            await refused_20.wait()
            fleet.stop()
            summary = await run
    calls, errors = summary["calls"], summary["errors"]
    assert calls["callerror"] == seen["MeterValues"] == errors["total"]
    assert errors["first"] == [
        {"message": "MeterValues: CALLERROR InternalError", "count": seen["MeterValues"]}
    ]
    assert calls["acknowledged"] == calls["sent"] - calls["callerror"]
    assert summary["meter_samples"]["acknowledged"] == 0 and summary["sessions"]["completed"] == 1


class _Capture:
    """A caller that records each CALL and answers as a CSMS accepting everything."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Payload]] = []

    async def call(self, action: str, payload: Payload) -> Payload:
        self.calls.append((action, payload))
        accepted = {"status": "Accepted"}
        return {"transactionId": 42, "idTagInfo": accepted, "idTokenInfo": accepted}


@pytest.mark.parametrize("adapter_class", [v16.Adapter, v201.Adapter])
async def test_flood_frames_equal_what_the_adapter_sends(
    adapter_class: type[v16.Adapter] | type[v201.Adapter],
) -> None:
    """A template frame is the adapter's own CALL for the same id, time, register and seqNo."""
    station = Station.build("SIM00001", Identity(), 1, METER_START_WH)
    evse, caller = station.evse(1), _Capture()
    adapter = adapter_class(station)
    adapter.attach(caller)
    await adapter.start(evse, "SIMTAG01", None)
    await adapter.sample(evse)
    action, first = caller.calls[-1]
    frames = template(action, first, evse.meter.wh)
    assert frames is not None
    for _ in range(3):
        evse.meter.add(183)
        await adapter.sample(evse)
        action, payload = caller.calls[-1]
        stamp = payload["meterValue"][0]["timestamp"]
        frame = frames.frame("17", stamp, evse.meter.wh, payload.get("seqNo", -1))
        assert json.loads(frame) == [2, "17", action, payload]


@pytest.mark.parametrize("adapter_class", [v16.Adapter, v201.Adapter])
async def test_samples_other_than_the_wh_register_get_no_template(
    adapter_class: type[v16.Adapter] | type[v201.Adapter],
) -> None:
    """Only a periodic sample of the register alone in Wh is templated; others (kWh, more
    measurands, another context) stay with the adapter."""
    station = Station.build("SIM00001", Identity(), 1, METER_START_WH)
    station.metering = MeterSpec(unit="kWh")
    evse, caller = station.evse(1), _Capture()
    adapter = adapter_class(station)
    adapter.attach(caller)
    await adapter.start(evse, "SIMTAG01", None)
    await adapter.sample(evse)
    action, payload = caller.calls[-1]
    assert template(action, payload, evse.meter.wh) is None
    station.metering = MeterSpec()
    await adapter.sample(evse)
    action, payload = caller.calls[-1]
    assert template(action, payload, evse.meter.wh) is not None
    sampled = payload["meterValue"][0]["sampledValue"]
    sampled.append({**sampled[0], "measurand": "Power.Active.Import", "unit": "W"})
    assert template(action, payload, evse.meter.wh) is None
    await adapter.clock_sample(evse)  # as if the CSMS had triggered one meanwhile
    action, payload = caller.calls[-1]
    assert template(action, payload, evse.meter.wh) is None


def test_the_wire_clock_writes_what_timefmt_writes() -> None:
    """UTC, milliseconds, Z: the same text as timefmt.now(), give or take the clock moving."""
    clock = WireClock()
    for _ in range(3):
        before, stamp, after = timefmt.now(), clock.now(), timefmt.now()
        check_timestamp(stamp, max_fraction_digits=3)
        assert before <= stamp <= after and len(stamp) == len(before)


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "0"],
        ["--protocol", "3.0"],
        ["--flood", "--sessions-per-hour", "5"],
        ["--count", "2", "--workers", "3"],
        ["--time-scale", "0"],
        ["--id-prefix", "a/b"],
        ["--ca-file", "ca.pem"],  # with a ws:// URL
    ],
)
def test_bad_usage_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A bad option value exits 2 with a message naming the option, before connecting."""
    code: object
    try:
        code = main(["fleet", "--url", "ws://127.0.0.1:9/ocpp", *args])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    assert code == 2
    assert "--" in capsys.readouterr().err


async def test_wss_trusts_the_ca_file(tmp_path: Path) -> None:
    """--ca-file makes a wss:// CSMS with a certificate from that CA trusted: all Accepted."""
    ca = TestCa(tmp_path)
    tls = server_tls(ca, require_client_cert=False)
    async with running_strict_csms(tls=tls) as strict:
        url = f"wss://localhost:{strict.port}/ocpp"
        fleet = Fleet(FleetOptions(url=url, count=2, ca_file=str(ca.cert), password="fleet-pw"))
        async with in_background(fleet.run()) as run, asyncio.timeout(TIMEOUT):
            await fleet.all_accepted.wait()
            fleet.stop()
            summary = await run
    assert summary["chargers"]["accepted"] == 2 and summary["errors"]["total"] == 0
    assert strict.violations == [] and strict.handshakes["SIM00001"].authorization


def test_a_ca_file_needs_wss_and_must_load(tmp_path: Path) -> None:
    """--ca-file with a ws:// URL, or one that is not a PEM CA, is a usage error naming it."""
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    with pytest.raises(UsageError, match="--ca-file needs a wss://"):
        FleetOptions(url="ws://h/ocpp", ca_file=str(not_pem))
    for missing in (not_pem, tmp_path / "missing.pem"):
        with pytest.raises(UsageError, match=r"--ca-file .* cannot be loaded"):
            FleetOptions(url="wss://h/ocpp", ca_file=str(missing))


def test_ids_are_zero_padded_and_workers_get_contiguous_slices() -> None:
    """Ids are prefix + zero-padded number; mix alternates; slices cover every charger once."""
    options = FleetOptions(url="ws://h/ocpp", count=100_001, workers=3, protocol="mix")
    assert options.charger_id(0) == "SIM000001" and options.charger_id(100_000) == "SIM100001"
    assert [options.protocol_of(i) for i in range(3)] == ["1.6", "2.0.1", "1.6"]
    slices = options.slices()
    assert [len(s) for s in slices] == [33_333, 33_334, 33_334]
    assert [i for s in slices for i in s] == list(range(100_001))
    with pytest.raises(UsageError, match="--url"):
        FleetOptions(url="http://h/ocpp")


def test_histogram_percentiles_within_two_percent_and_merge() -> None:
    """Percentiles come from log buckets (about 2 % wide); merging adds counts."""
    first, second = Histogram(), Histogram()
    for ms in range(1, 1001):
        (first if ms % 2 else second).record(ms / 1000)
    first.add(second)
    assert first.count == 1000 and first.max == 1.0
    for q, exact in ((0.5, 0.5), (0.9, 0.9), (0.99, 0.99)):
        assert abs(first.percentile(q) - exact) / exact < 0.02


def test_stats_merge_sums_counters_and_keeps_the_extreme_times() -> None:
    """Merged stats add counters and energy, keep the first connect and the last acceptance."""
    a, b = Stats(chargers=2, calls_acked=5), Stats(chargers=3, calls_acked=7)
    a.first_connect_at, b.first_connect_at = 10.0, 9.0
    a.last_accepted_at, b.last_accepted_at = 12.0, 11.0
    a.energy_completed_wh["1.6"], b.energy_completed_wh["2.0.1"] = 100, 50
    a.error("x")
    b.error("x")
    b.error("y")
    merged = Stats.merged([a, b])
    assert (merged.chargers, merged.calls_acked) == (5, 12)
    assert (merged.first_connect_at, merged.last_accepted_at) == (9.0, 12.0)
    assert merged.energy_completed_wh == {"1.6": 100, "2.0.1": 50}
    assert merged.errors == {"x": 2, "y": 1} and merged.error_total == 3


def test_steady_sample_latency_starts_once_every_charger_runs_a_transaction() -> None:
    """Samples acked while a worker's transactions still start count only in the whole run."""
    stats = Stats(chargers=2)
    stats.sessions_started = 1
    stats.sample_acked(0.5)  # one charger still starting: not steady yet
    stats.sessions_started = 2
    stats.sample_acked(0.01)
    stats.sample_acked(0.02)
    assert stats.sample_latency.count == 3 and stats.sample_latency.max == 0.5
    assert stats.steady_sample_latency.count == 2 and stats.steady_sample_latency.max == 0.02
    merged = Stats.merged([stats, Stats(chargers=1)])
    assert merged.steady_sample_latency.count == 2


def test_progress_writes_plain_lines_when_not_a_terminal() -> None:
    """Off a terminal the progress is one plain line per update, with the counters."""
    stream = io.StringIO()
    progress = Progress(stream, count=10)
    progress.update(Stats(online=4, booted=3, sessions_running=2, error_total=1))
    progress.close()
    line = stream.getvalue()
    assert line.endswith("\n") and "\r" not in line
    assert "connected 4/10" in line and "booted 3" in line and "errors 1" in line
