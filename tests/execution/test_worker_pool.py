"""Workers fork from a server started once per runner process, yet stand where the runner
stands when it asks for them: its folder, its environment, its import path."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tunebook.core.execution.pool import WorkerPool
from tunebook.core.execution.trial_task import UnitTask


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
