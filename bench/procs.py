"""Processes the benchmarks start: console scripts, free ports, bounded waits, RSS, fd limits.

Every wait here has a deadline, and every process we start is stopped with SIGTERM, given a
grace period, then killed: a benchmark that hangs must not leave servers behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import shutil
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx


class BenchError(Exception):
    """A benchmark could not run (a server did not start, a fleet did not boot...)."""


def console_script(name: str, module: str) -> list[str]:
    """The ``name`` script next to this interpreter (as users run it), else ``python -m``."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", module]


def free_port() -> int:
    """A TCP port free on loopback now, for a server that binds it a moment later.

    Chosen at random *below* the kernel's ephemeral range: a port from ``bind(0)`` is an
    ephemeral one, which any outgoing connection (thousands, in a fleet run next door) may take
    before the server binds it. Below the range only another caller of this function could.
    """
    low, _ = _ephemeral_range()
    floor = 10_000
    for _ in range(200):
        port = random.randrange(floor, max(floor + 1_000, low))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError("no free TCP port below the ephemeral range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        low, high = (int(v) for v in text.split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def raise_open_files_limit() -> dict[str, int]:
    """Raise our soft RLIMIT_NOFILE to the hard limit; the processes we start inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = soft
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return {"soft": soft, "hard": hard, "soft_before": before}


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (VmRSS from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far, in seconds, of ``pid`` (its threads included) and of its
    running children (the CSMS's SQLite writer process, ADR 0016)."""
    total = _own_cpu(Path(f"/proc/{pid}/stat").read_text())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            total += _own_cpu(text)
    return total


def _own_cpu(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_command(args: Sequence[str], *, timeout: float, log: Path | None = None) -> str:
    """Run a short command to completion; its stdout, or BenchError naming it on failure."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        await terminate(proc, grace=2)
        raise BenchError(f"{' '.join(args)}: no result within {timeout:g} s") from None
    if log is not None:
        with log.open("ab") as file:
            file.write(out + err)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(args)} exited {proc.returncode}: {err.decode()[-500:]}")
    return out.decode()


async def start_process(
    args: Sequence[str],
    *,
    log: IO[bytes],
    stderr_pipe: bool = False,
    env: Mapping[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """Start a long-running process in its own session, output to ``log``."""
    return await asyncio.create_subprocess_exec(
        *args,
        env=None if env is None else {**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=asyncio.subprocess.PIPE if stderr_pipe else log,
        start_new_session=True,  # a Ctrl-C at the terminal reaches the harness, not them
    )


async def terminate(proc: asyncio.subprocess.Process, *, grace: float) -> int:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL its whole process group; the exit code.

    Processes are started in a session of their own (:func:`start_process`), so the group
    holds exactly what this process started: a fleet's worker processes too.
    """
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # not yet reaped: the group is still ours
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


async def wait_http(
    url: str, proc: asyncio.subprocess.Process, *, timeout: float, what: str
) -> None:
    """Poll ``url`` until it answers 200, failing early if ``proc`` exits."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if proc.returncode is not None:
                        raise BenchError(f"{what} exited {proc.returncode} while starting")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(url)).status_code == 200:
                            return
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise BenchError(f"{what} did not answer {url} within {timeout:g} s") from None
