"""A probe runner SIGKILLed mid-probe: its workers exit, and a rerun resumes the same probe,
keeps every stored point and measures each remaining unit once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import alive, workers_of
from tests.project_start.helpers import new_session, planned_keys, run_inline
from tests.project_start.workloads import CURVY_REF, SLOW_REF
from tunebook.core.project_start.registry import probe_plan
from tunebook.sessions import Session

RUNNER_SCRIPT = """
import json
import sys

from tunebook.core.project_start.runner import ProbeRunner

if __name__ == "__main__":
    options = json.loads(sys.argv[3])
    ProbeRunner(sys.argv[1], sys.argv[2], options, executor="process", workers=1).run()
"""

#: Each probe: its workload and the workload's config, the optimizer decided first, and
#: the probe's options; each unit takes a fraction of a second.
CASES: dict[str, tuple[str, dict[str, Any], str, dict[str, Any]]] = {
    # b16, b32, b64: throughput doubles each time (a fixed sleep per step), no stall; the
    # default memory budget (a share of the memory available now) is left to the probe.
    "batch-size": (
        SLOW_REF,
        {"sleep_ms": 20},
        "",
        {"start": 16, "max_size": 64, "min_steps": 5, "min_seconds": 0.2, "device": "cpu"},
    ),
    # chance (instant), then three runs of 10 steps × 50 ms.
    "initial-config": (SLOW_REF, {"sleep_ms": 50}, "", {"steps": 10}),
    # five (or, widened, up to seven) runs of 20 steps × 10 ms.
    "training-length": (SLOW_REF, {"sleep_ms": 10}, "", {"steps": 20, "learning_rate": 0.01}),
    # the 2× run is unstable, so a warmup run follows it (30 steps × 10 ms each).
    "stability": (CURVY_REF, {"sleep_ms": 10}, "sgd", {"learning_rate": 0.25, "steps": 30}),
}


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stored_points(path: Path, name: str) -> dict[str, Any]:
    """The points of the latest probe called `name`, read-only ({} before there is one)."""
    with Session.open(path, read_only=True) as session:
        probe = session.latest_probe(probe_plan(name).kind)
        return {} if probe is None else probe.points


@dataclass
class Crash:
    """One probe whose runner was SIGKILLed: its session, its workers (all exited since)
    and the runner's output if it ended before the kill."""

    path: Path
    workers: list[int]
    output: str


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crash]:
    """Run each probe in a runner process (all four at once: starting Python, torch and a
    worker takes seconds), SIGKILL each as soon as it stored its first point, and wait for
    its workers to exit."""
    folder = tmp_path_factory.mktemp("crashes")
    script = folder / "run_probe.py"
    script.write_text(RUNNER_SCRIPT)
    paths, runners = {}, {}
    for name, (ref, config, optimizer, options) in CASES.items():
        paths[name] = new_session(_mkdir(folder / name), ref, config, optimizer)
        runners[name] = subprocess.Popen(
            [sys.executable, str(script), str(paths[name]), name, json.dumps(options)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    killed: dict[str, tuple[list[int], str]] = {}
    try:
        deadline = time.monotonic() + 90
        while len(killed) < len(runners) and time.monotonic() < deadline:
            for name, runner in runners.items():
                if name in killed:
                    continue
                if runner.poll() is not None:
                    killed[name] = ([], runner.communicate()[0])
                elif stored_points(paths[name], name):
                    workers = workers_of(runner.pid)
                    runner.kill()
                    killed[name] = (workers, "")
            time.sleep(0.02)
    finally:
        for runner in runners.values():
            if runner.poll() is None:
                runner.kill()
            runner.communicate(timeout=10)
    found = {}
    for name, (workers, output) in killed.items():
        wait_for(lambda w=workers: not any(map(alive, w)), 15, f"the {name} workers to exit")
        found[name] = Crash(paths[name], workers, output)
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_killed_probe_resumes_without_measuring_twice(crashes: dict[str, Crash], name: str) -> None:
    """Kill the runner once a point is stored; the workers go, the rerun completes the same
    probe, the points stored before the kill are unchanged and no key is measured twice."""
    assert name in crashes, "the runner stored no point in time"
    crash = crashes[name]
    assert not crash.output, f"the runner ended before it was killed:\n{crash.output}"
    assert crash.workers, "the runner had no worker process"
    options = CASES[name][3]
    with Session.open(crash.path, read_only=True) as session:
        before = session.latest_probe(probe_plan(name).kind)
    assert before.status == "running"  # as the killed runner left it
    assert before.points and not set(before.points) >= set(
        planned_keys_or_empty(name, before.config, before.points)
    ), "the runner finished before it was killed: nothing is left to resume"

    measured: list[str] = []  # the keys measured by the rerun (a start report has none)
    probe = run_inline(
        crash.path, name, options, progress=lambda p: p.last and measured.append(p.last)
    )
    assert probe.id == before.id, "the rerun started a new probe instead of resuming"
    with Session.open(crash.path, read_only=True) as session:
        assert len(session.probes(probe_plan(name).kind)) == 1
    for key, point in before.points.items():
        assert probe.points[key] == point, f"point {key} changed on the rerun"
    assert not set(measured) & set(before.points), "a stored point was measured again"
    assert len(measured) == len(set(measured))
    assert set(probe.points) == set(before.points) | set(measured)
    assert sorted(planned_keys(probe_plan(name), probe.config, probe.points)) == sorted(
        probe.points
    )


def _mkdir(folder: Path) -> Path:
    folder.mkdir()
    return folder


def planned_keys_or_empty(name: str, config: dict[str, Any], points: dict[str, Any]) -> list:
    """The keys the plan asks for given `points` (those not measured yet included)."""
    return [u.key for u in probe_plan(name).next_units(config, points)]
