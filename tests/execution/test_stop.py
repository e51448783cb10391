"""`tunebook stop`: a detached runner stops the way Ctrl-C stops one, and resumes after."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

from tests.execution.conftest import (
    alive,
    cli,
    losses,
    new_session,
    running_trials,
    spec_text,
    wait_for,
)
from tunebook.core.execution.control import runner_failure
from tunebook.sessions import Session, TrialStatus


def test_stop_ends_a_detached_runner_gracefully_and_run_resumes(tmp_path: Path) -> None:
    spec = spec_text(steps=400, trials=2, fixed={"sleep_ms": 10}, checkpoint_every=20)
    path = new_session(tmp_path, spec)
    detach = cli("run", path, "--detach", "--workers", 2, timeout=60)
    assert detach.returncode == 0, detach.stderr
    pid = int(re.search(r"pid (\d+)", detach.stdout).group(1))
    try:
        wait_for(
            lambda: len(running_trials(path)) == 2
            and all(len(steps) >= 40 for steps, _ in losses(path).values()),
            60,
            "two trials past their second checkpoint",
            every=0.2,
        )
        stop = cli("stop", path, timeout=150)
        assert stop.returncode == 0, stop.stderr
        assert f"pid {pid}" in stop.stdout and f"tunebook run {path}" in stop.stdout
        assert not alive(pid)  # `stop` returns only once the runner has exited
        with Session.open(path, read_only=True) as session:
            assert session.runner() is None  # released on a clean exit
            trials = session.trials()
            assert [t.status for t in trials] == [TrialStatus.PENDING] * 2
            assert all(session.resume_state(t.id) is not None for t in trials)
    finally:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    again = cli("stop", path)
    assert (again.returncode, again.stdout.strip()) == (
        0,
        f"no runner is running on {path}; nothing to stop",
    )


def test_a_detached_runners_exit_code_says_whether_it_failed(tmp_path: Path) -> None:
    """`runner_failure`: what the app tells a user about a runner it started, once that
    runner is gone: nothing for a run that ended or was stopped, else one sentence."""
    log = tmp_path / "s.tunebook.log"
    log.write_text("trials 3/3\ntunebook: internal error: KeyError: 'x' (run with --debug)\n")
    assert runner_failure(0, log) == ""
    assert runner_failure(128 + signal.SIGTERM, log) == runner_failure(130, log) == ""
    assert runner_failure(1, log) == (
        "the runner ended with an error: internal error: KeyError: 'x' (run with --debug)"
    )
    assert runner_failure(-signal.SIGKILL, log) == "the runner was killed by SIGKILL"
    log.write_text("")
    assert runner_failure(3, log) == "the runner ended with an error: exit code 3"
