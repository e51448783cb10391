"""Workers fork from a server started once per runner process, yet stand where the runner
stands when it asks for them (its folder, its environment, its import path), and the server
ends with the runner without holding its output open."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import new_session, spec_text, start_cli
from tunebook.core.execution.pool import WorkerPool
from tunebook.core.execution.trial_task import UnitTask
from tunebook.sessions import BadInput


def where_it_runs(payload: dict[str, Any], stop: Any) -> dict[str, Any]:
    """A probe unit that reports the worker's folder, a variable and its import path."""
    return {
        "cwd": os.getcwd(),
        "marker": os.environ.get("TUNEBOOK_TEST_MARKER"),
        "on_path": payload["entry"] in sys.path,
        "pid": os.getpid(),
    }


def measure_once(entry: str) -> dict[str, Any]:
    """Run `where_it_runs` on a fresh one-worker pool and return what it reported."""
    pool = WorkerPool(1, None)
    try:
        pool.submit(
            pool.workers[0], UnitTask("where", f"{__name__}:where_it_runs", {"entry": entry})
        )
        for _ in range(300):
            for _worker, message in pool.messages(0.2):
                assert message is not None, "the worker died"
                if message[0] == "outcome":
                    return message[2]
        raise AssertionError("the worker never answered")
    finally:
        pool.close()


def test_a_worker_takes_the_runners_folder_environment_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "first"
    first.mkdir()
    monkeypatch.chdir(first)
    before = measure_once("")  # starts the server here, if this process has none yet
    assert before["cwd"] == str(first)
    assert before["marker"] is None

    second, extra = tmp_path / "second", tmp_path / "on-path"
    second.mkdir()
    extra.mkdir()
    monkeypatch.chdir(second)
    monkeypatch.setenv("TUNEBOOK_TEST_MARKER", "set after the server started")
    monkeypatch.syspath_prepend(str(extra))
    after = measure_once(str(extra))
    assert after == {
        "cwd": str(second),
        "marker": "set after the server started",
        "on_path": True,
        "pid": after["pid"],
    }
    assert after["pid"] != before["pid"]


def test_the_runners_output_ends_with_the_runner(tmp_path: Path) -> None:
    """The server (torch loaded) skips the interpreter's half-second teardown, during which
    it would hold the runner's stdout open: a script piping `tunebook run` would wait."""
    path = new_session(tmp_path, spec_text(trials=2, steps=5))
    runner = start_cli("run", path, "--workers", 2)
    assert runner.wait(120) == 0, runner.stderr.read() if runner.stderr else ""
    exited = time.perf_counter()
    assert runner.stdout is not None
    output = runner.stdout.read()
    waited = time.perf_counter() - exited
    runner.communicate()
    assert "2/2 trials finished" in output
    assert waited < 0.3, f"the runner's output ended {waited:.2f} s after the runner"


def test_a_pool_refuses_a_main_script_its_workers_cannot_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As under `python - < script.py`: workers would each fail to run '<stdin>' again, so a
    # probe (whose units go through the pool) would fail every unit; the pool starts none.
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", None)
    monkeypatch.setattr(main, "__file__", "<stdin>", raising=False)
    with pytest.raises(BadInput, match="its file '<stdin>' does not exist"):
        WorkerPool(1, None)
