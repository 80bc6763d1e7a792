"""The report: where it ran (machine, versions) and what came out, as JSON and Markdown.

Files: ``<out>/<UTC timestamp>-<size>.json`` and ``.md``, plus ``latest.json``/``latest.md``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.markdown import render

PACKAGES = ("csms", "websockets", "ocpp", "sqlalchemy", "aiosqlite", "asyncpg", "httpx", "uvloop")


def machine() -> dict[str, Any]:
    """CPU model and cores, RAM, kernel, Python, and the limits that matter for sockets."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(_meminfo_kib("MemTotal") / 1024 / 1024, 1),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "somaxconn": _read("/proc/sys/net/core/somaxconn"),
        "ip_local_port_range": "-".join(_read("/proc/sys/net/ipv4/ip_local_port_range").split()),
    }


def versions(repo: Path) -> dict[str, Any]:
    """Installed versions of the packages that shape the figures, and the repository state."""
    found: dict[str, Any] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["git"] = _git(repo)
    found["python_executable"] = sys.executable
    return found


def write(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write the JSON and Markdown files (and the ``latest`` copies); their paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{report['started_at'].replace(':', '').replace('-', '')}-{report['size']}"
    text = json.dumps(report, indent=2, default=str) + "\n"
    markdown = render(report)
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    for path, content in (
        (json_path, text),
        (md_path, markdown),
        (out / "latest.json", text),
        (out / "latest.md", markdown),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
    return json_path, md_path


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _meminfo_kib(field: str) -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _git(repo: Path) -> dict[str, Any] | None:
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "modified_files": len(dirty.splitlines())}
