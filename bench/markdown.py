"""The Markdown view of a report: targets first, then one section per benchmark."""

from __future__ import annotations

from typing import Any

BASELINES = {
    "naive": "naive `ocpp`-package CSMS (validation on, one commit per message)",
    "echo": "raw websockets echo server (no validation, no storage)",
}


def render(report: dict[str, Any]) -> str:
    lines = [
        f"# CSMS benchmarks: {report['size']} size, {report['runs']} run(s), {report['db']}",
        "",
        f"Started {report['started_at']}, finished {report['finished_at']} "
        f"({report['seconds']:,.0f} s). Command: `{' '.join(report['command'])}`.",
        "",
        "These are measurements, not tests: nothing here fails a build. Figures are "
        "min / median / max over the runs, each run on a fresh server process. The load "
        "generator (`charger-sim fleet`) runs on the same machine and shares its cores.",
        "",
        *_machine(report),
        *_targets(report),
    ]
    for bench in report["benchmarks"]:
        lines += _benchmark(bench, report["servers"])
    return "\n".join(lines).rstrip() + "\n"


def _machine(report: dict[str, Any]) -> list[str]:
    m, v, limit = report["machine"], report["versions"], report["open_files_limit"]
    git = v.get("git") or {}
    packages = ", ".join(f"{k} {v[k]}" for k in v if k not in ("git", "python_executable") and v[k])
    lines = [
        "## Machine and versions",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gib']} GiB; {m['kernel']}; "
        f"{m['python']}",
        f"- open files limit (soft/hard, after raising): {limit['soft']}/{limit['hard']}; "
        f"somaxconn {m['somaxconn']}; ephemeral ports {m['ip_local_port_range']}",
        f"- {packages}",
        f"- git {git.get('commit', '?')} ({git.get('modified_files', '?')} modified files)",
    ]
    if report.get("postgres"):
        lines.append(f"- {report['postgres']}")
    lines.append("- baselines: " + "; ".join(f"{k}: {BASELINES[k]}" for k in report["servers"][1:]))
    return [*lines, ""]


def _targets(report: dict[str, Any]) -> list[str]:
    lines = [
        "## Targets",
        "",
        "Verdicts use our worst run. A verdict in parentheses is indicative only: the case "
        "ran at another size than the target names.",
        "",
        "| benchmark | case | target | ours (worst run) | verdict |",
        "|---|---|---|---|---|",
    ]
    for bench in report["benchmarks"]:
        digits = {m["key"]: m["digits"] for m in bench["metrics"]}
        for case in bench["cases"]:
            for t in case["targets"]:
                shown = t["verdict"] if t["at_target_size"] else f"({t['verdict']})"
                worst = _num(t["worst_run"], digits.get(t["metric"], 1))
                lines.append(
                    f"| {bench['title']} | {case['label']} | {t['target']} | {worst} | {shown} |"
                )
    return [*lines, ""]


def _benchmark(bench: dict[str, Any], servers: list[str]) -> list[str]:
    baselines = [s for s in servers if s != "csms"]
    head = ["case", "metric", "csms min / median / max"]
    head += [f"{b} median" for b in baselines] + [f"csms / {b}" for b in baselines]
    lines = [f"## {bench['title']}", "", bench["how"], ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in bench["cases"]:
        for metric in bench["metrics"]:
            key, digits = metric["key"], metric["digits"]
            unit = f" ({metric['unit']})" if metric["unit"] else ""
            ours = case["servers"].get("csms", {}).get("stats", {}).get(key)
            row = [case["label"], metric["label"] + unit, _spread(ours, digits)]
            for b in baselines:
                stats = case["servers"].get(b, {}).get("stats", {}).get(key)
                row.append(_num(stats["median"] if stats else None, digits))
            row += [_ratio(case["ratios"].get(key, {}).get(b)) for b in baselines]
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += _run_notes(bench)
    return lines


def _run_notes(bench: dict[str, Any]) -> list[str]:
    """Database checks and errors, one line per run that has something to say."""
    notes = []
    for case in bench["cases"]:
        for kind, data in case["servers"].items():
            for run in data["runs"]:
                where = f"{case['label']}, {kind}, run {run['run']}"
                if "error" in run:
                    notes.append(f"- {where}: **did not finish**: {run['error']}")
                    continue
                check = run.get("db_check")
                if check and check.get("checked"):
                    notes.append(f"- {where}: database check {_check(check)}")
                if run.get("answers"):
                    answers = ", ".join(f"{k} x{v:,}" for k, v in sorted(run["answers"].items()))
                    notes.append(f"- {where}: answers {answers}")
                if run.get("partial"):
                    notes.append(f"- {where}: not every charger online in time: {run['partial']}")
                errors = run.get("fleet", {}).get("errors", {})
                for error in errors.get("first", [])[:3]:
                    notes.append(f"- {where}: fleet error x{error['count']}: {error['message']}")
    if not notes:
        return []
    return ["Runs:", "", *notes, ""]


def _check(check: dict[str, Any]) -> str:
    verdict = "**passed**" if check["ok"] else "**FAILED**"
    return (
        f"{verdict}: {check['samples_acknowledged']:,} samples acknowledged, "
        f"{check['samples_stored']:,} stored ({check['samples_missing']:,} missing); energy "
        f"{check['energy_wh_stored']:,.0f} Wh stored vs {check['energy_wh_completed']:,.0f} Wh "
        f"completed by the fleet"
    )


def _spread(stats: dict[str, Any] | None, digits: int) -> str:
    if not stats:
        return "-"
    parts = (_num(stats[k], digits) for k in ("min", "median", "max"))
    return " / ".join(parts)


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
