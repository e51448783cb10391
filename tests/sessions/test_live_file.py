"""A live session file: a refused second runner, readers during a run and a process that
reopens a file it already holds must cost the running writer nothing (issue #7, items 1–2).

Real runners (`tunebook run -j 2` on the tiny workload), real reader processes, real files.
"""

from __future__ import annotations

import builtins
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import (
    cli,
    new_session,
    running_trials,
    spec_text,
    start_cli,
    trials_of,
    wait_for,
)
from tunebook.sessions import Session, TrialStatus

#: Opens the session read-only, says so, and holds the connection until stdin closes.
HOLD_OPEN = """
import sys
from tunebook.sessions import Session
session = Session.open(sys.argv[1], read_only=True)
print(len(session.trials()), flush=True)
sys.stdin.read()
session.close()
"""

#: Calls the public read API in a loop until stdin closes; prints calls and errors.
READ_LOOP = """
import os, sys, threading
from tunebook.core import api
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
calls, errors = 0, []
while not done.is_set() or calls < 60:
    try:
        api.results(sys.argv[1])
        for trial in api.trials(sys.argv[1]):
            api.curves(sys.argv[1], trial.id)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    calls += 1
print(calls, len(errors), *sorted(set(errors))[:3], sep="\\n", flush=True)
"""


def _sidecars(path: Path) -> list[str]:
    return [s for s in ("-wal", "-shm") if Path(f"{path}{s}").exists()]


def _python(script: str, *args: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _slow_session(folder: Path, trials: int) -> Path:
    """A tiny session whose trials each take two seconds or so, so a run lasts a while."""
    spec = spec_text(steps=50, trials=trials, fixed={"sleep_ms": 40}, eval_every=10)
    return new_session(folder, spec)


def test_reopening_an_open_session_never_opens_the_file_outside_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat thread opens the session its runner holds: no builtin open() of it,
    whose close() would drop every POSIX lock SQLite holds on the file in this process."""
    path = tmp_path / "s.tunebook"
    Session.create(path, "tabular").close()
    opened: list[str] = []
    real_open, real_os_open = io.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        """Record which files are opened through Python's file objects."""
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(file: Any, *args: Any, **kwargs: Any) -> int:
        """Record which files are opened through os.open."""
        opened.append(os.fspath(file))
        return real_os_open(file, *args, **kwargs)

    with Session.open(path) as holder:
        monkeypatch.setattr(builtins, "open", spy_open)
        monkeypatch.setattr(io, "open", spy_open)
        monkeypatch.setattr(os, "open", spy_os_open)
        for read_only in (False, True):
            with Session.open(path, read_only=read_only) as again:
                again.info()
        monkeypatch.undo()
        holder.add_note("session", "still the writer")
    session_files = {str(path), str(path.resolve())}
    assert not [name for name in opened if name in session_files], opened


def test_a_refused_second_runner_costs_the_live_runner_nothing(tmp_path: Path) -> None:
    """`run -j 2`, a reader holding the file, `run` again (refused): the live runner keeps
    its -wal/-shm, and the file ends holding every trial the runner reported finished."""
    path = _slow_session(tmp_path, trials=6)
    runner = start_cli("run", path, "-j", "2")
    reader = None
    try:
        wait_for(lambda: running_trials(path), 60, "the first trial to start")
        second = cli("run", path)
        assert second.returncode == 2 and "already being run" in second.stderr, second.stderr
        assert _sidecars(path) == ["-wal", "-shm"], "the refused runner removed the live log"
        reader = _python(HOLD_OPEN, path)
        assert reader.stdout is not None and reader.stdout.readline().strip().isdigit()
        again = cli("run", path)
        assert again.returncode == 2, again.stderr
        assert runner.poll() is None, "the run ended before the test could refuse a second one"
        out, err = runner.communicate(timeout=180)
    finally:
        if runner.poll() is None:
            runner.kill()
        if reader is not None:
            reader.communicate("", timeout=30)
    assert runner.returncode == 0, err
    reported = re.search(r"(\d+) completed", out)
    assert reported is not None, out
    trials = trials_of(path)
    assert sum(t.status is TrialStatus.COMPLETED for t in trials) == int(reported.group(1)) == 6
    with Session.open(path, read_only=True) as session:
        assert session.runner() is None, "the runner row outlived a clean exit"
        assert session.integrity_check() == "ok"
    assert _sidecars(path) == []


def test_readers_during_a_two_worker_run_see_no_errors(tmp_path: Path) -> None:
    """The public read API (results, trials, curves) in a loop in another process while a
    2-worker run writes and a second `run` is refused: not one read fails, and the readers'
    last view is the finished session."""
    path = _slow_session(tmp_path, trials=6)
    runner = start_cli("run", path, "-j", "2")
    reader = _python(READ_LOOP, path)
    try:
        wait_for(lambda: running_trials(path), 60, "the first trial to start")
        assert cli("run", path).returncode == 2
        assert runner.poll() is None, "the run ended before the test could refuse a second one"
        err = runner.communicate(timeout=180)[1]
    finally:
        if runner.poll() is None:
            runner.kill()
        calls, errors, *examples = reader.communicate("", timeout=120)[0].splitlines()
    assert runner.returncode == 0, err
    assert int(calls) >= 60 and int(errors) == 0, examples
    assert [t.status for t in trials_of(path)] == [TrialStatus.COMPLETED] * 6
