"""Ray nodes started on this machine for the tests and benchmarks: `ray start` with a temp
dir and port of their own, killed by what marks their processes at the end (never `ray
stop`, which stops every Ray instance on the machine, other tests' included)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.execution.conftest import children

RAY = str(Path(sys.executable).with_name("ray"))
#: Token authentication (Ray's default) for every node and for the runner that joins them;
#: health checks every half second on the head, so a dead node is declared within seconds.
CLUSTER_ENV = {
    "RAY_AUTH_MODE": "token",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_initial_delay_ms": "1000",
}


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    found, frontier = [], [pid]
    while frontier:
        below = children(frontier.pop())
        found += below
        frontier += below
    return found


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ray_processes(marks: Sequence[str]) -> list[int]:
    """Live processes whose command line has one of `marks` (a cluster's temp dir or
    port), and everything below them."""
    roots = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                if any(mark in command for mark in marks):
                    roots.append(int(entry))
    return sorted({p for root in roots for p in [root, *descendants(root)]})


@contextlib.contextmanager
def ray_cluster(nodes: Sequence[Sequence[str]]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """A head node started with the `ray start` options `nodes[0]` and one more node per
    further entry, joined to it; yields the head's address and the marks of the cluster's
    processes (see `ray_processes`), and kills them all at the end."""
    temp = tempfile.mkdtemp(prefix="tbray", dir="/tmp")  # Ray's socket paths must be short
    port = free_port()
    env = {**os.environ, **CLUSTER_ENV}
    marks = (temp, f":{port}")
    common = ["--disable-usage-stats"]
    head = [RAY, "start", "--head", f"--port={port}", f"--temp-dir={temp}"]
    head.append("--include-dashboard=false")
    try:
        for index, options in enumerate(nodes):
            start = head if index == 0 else [RAY, "start", f"--address=127.0.0.1:{port}"]
            started = subprocess.run(
                [*start, *common, *options], env=env, capture_output=True, text=True, timeout=120
            )
            if started.returncode != 0:
                raise RuntimeError(f"{' '.join(start)} failed: {started.stdout}{started.stderr}")
        yield f"127.0.0.1:{port}", marks
    finally:
        for pid in ray_processes(marks):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
