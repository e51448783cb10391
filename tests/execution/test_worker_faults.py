"""The runner when a worker misbehaves or the machine does: a worker SIGKILLed half-way
through sending a report, a trial that never reports again, SIGTERM while a worker is stuck,
and a disk that fills up mid-run. Real processes, real signals, a real full file system."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.execution.conftest import (
    TUNEBOOK,
    alive,
    cli,
    new_session,
    running_trials,
    spec_text,
    start_cli,
    trials_of,
    wait_for,
    workers_of,
    writing_to_a_pipe,
)
from tests.execution.workloads import TINY_REF
from tunebook.core import api
from tunebook.core.execution.runner import STOP_GRACE, RunProgress
from tunebook.sessions import Session, TrialStatus


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs /proc/PID/wchan")
def test_a_worker_killed_while_sending_fails_only_its_trial_and_the_run_goes_on(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    # 16 MB of ballast: every checkpoint message is 250 pipe buffers long.
    spec = spec_text(
        steps=40, trials=3, fixed={"ballast_mb": 16}, eval_every=10, checkpoint_every=5
    )
    path = new_session(tmp_path, spec)
    runner = start_cli("run", path, "--workers", 1)
    processes.append(runner)
    deadline = time.monotonic() + 90
    victim = None
    while victim is None and time.monotonic() < deadline and runner.poll() is None:
        victim = next((w for w in workers_of(runner.pid) if writing_to_a_pipe(w)), None)
    assert victim is not None, "never saw the worker blocked mid-send"
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    def failed() -> list[object]:
        return [t for t in trials_of(path) if t.status is TrialStatus.FAILED]

    wait_for(failed, 20, "the runner to notice its worker died")
    noticed_after = time.monotonic() - killed_at
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 0, err
    assert "3/3 trials finished: 2 completed, 0 infeasible, 1 failed" in out
    assert noticed_after < 10
    (dead,) = failed()
    assert dead.error.startswith("the worker process died (exit code -9"), dead.error
    with Session.open(path, read_only=True) as session:
        assert session.integrity_check() == "ok"
        for trial in session.trials(status=TrialStatus.COMPLETED):
            assert session.trial_series(trial.id)["train/loss"].steps == list(range(1, 41))


def test_a_trial_that_never_reports_is_failed_by_the_watchdog_and_the_study_goes_on(
    tmp_path: Path,
) -> None:
    spec = spec_text(steps=20, trials=1, scientific={"fault": ["hang", "none"]})
    path = new_session(tmp_path, spec)
    started = time.monotonic()
    run = cli("run", path, "--workers", 1, "--stall-timeout", 2)
    assert run.returncode == 0, run.stderr
    assert "2/2 trials finished: 1 completed, 0 infeasible, 1 failed" in run.stdout
    assert time.monotonic() - started < 90
    hung, healthy = trials_of(path)
    assert hung.status is TrialStatus.FAILED
    assert hung.error == (
        "no progress: the trial reported nothing for 2 s (--stall-timeout), "
        "so its worker was killed"
    )
    assert healthy.status is TrialStatus.COMPLETED


@pytest.mark.parametrize("bad", ["0", "-1", "nan"])
def test_a_stall_timeout_that_is_not_positive_is_refused(tmp_path: Path, bad: str) -> None:
    path = new_session(tmp_path, spec_text())
    run = cli("run", path, f"--stall-timeout={bad}")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"tunebook: --stall-timeout must be more than 0 seconds, got {float(bad)}"
    )


def test_sigterm_stops_the_runner_in_bounded_time_while_a_worker_is_stuck(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    # The workload's splits() sleeps for an hour: the trial never checks for a stop. Set
    # after `experiment add`, whose one-step check loads the data too.
    path = new_session(tmp_path, spec_text(trials=2))
    with Session.open(path) as session:
        session.set_workload(TINY_REF, {"splits_sleep": 3600})
    runner = start_cli("run", path, "--workers", 2)
    processes.append(runner)
    wait_for(lambda: len(running_trials(path)) == 2, 60, "both trials to start")
    time.sleep(1)  # the workers are inside splits()
    workers = workers_of(runner.pid)
    os.kill(runner.pid, signal.SIGTERM)
    signalled = time.monotonic()
    out, err = runner.communicate(timeout=STOP_GRACE + 30)
    assert time.monotonic() - signalled < STOP_GRACE + 15
    assert runner.returncode == 128 + signal.SIGTERM, err
    assert f"stopped; the unfinished trials resume with 'tunebook run {path}'" in out
    assert not any(alive(w) for w in workers)
    with Session.open(path, read_only=True) as session:
        assert session.runner() is None
        trials = session.trials()
        assert [t.status for t in trials] == [TrialStatus.PENDING] * 2
        assert {t.error for t in trials} == {
            f"stopped: its worker did not stop within {STOP_GRACE:g} s"
        }


def test_the_progress_callback_fires_once_per_change(tmp_path: Path) -> None:
    path = new_session(tmp_path, spec_text(steps=5, trials=3))
    seen: list[RunProgress] = []
    result = api.run(path, executor="inline", progress=seen.append)
    assert result.progress.completed == 3
    assert [(p.completed, p.running) for p in seen] == [
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
        (3, 0),
    ]


FULL_DISK_SPEC = spec_text(  # 1 MB of ballast per model state: the space runs out mid-run
    steps=30, trials=3, fixed={"ballast_mb": 1}, eval_every=10, checkpoint_every=10
)


@dataclass
class FullDiskRuns:
    """A run that met a full disk, then a run after space was freed, and the file after."""

    full: subprocess.CompletedProcess[str]
    full_seconds: float
    freed: subprocess.CompletedProcess[str]
    final: Path
    session: Path  # where the runs saw the session file


def can_mount_tmpfs(folder: Path) -> bool:
    """True if this process may mount a tmpfs in a private user and mount namespace."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
         f"mount -t tmpfs -o size=1m tmpfs {shlex.quote(str(folder))}"],
        capture_output=True,
    )  # fmt: skip
    return probe.returncode == 0


def runs_on_a_small_tmpfs(tmp_path: Path) -> FullDiskRuns:
    """The session on a tmpfs with 3 MB to spare (ENOSPC), then grown to 256 MB."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if not can_mount_tmpfs(mount):
        pytest.skip("cannot mount a tmpfs here (needs unshare and user namespaces)")
    source = new_session(tmp_path, FULL_DISK_SPEC)
    room = source.stat().st_size + 3 * 1024 * 1024
    session, out = mount / "s.tunebook", tmp_path / "out"
    out.mkdir()
    run = " ".join(shlex.quote(part) for part in (*TUNEBOOK, "run", str(session)))
    places = {"mount": mount, "source": source, "session": session, "out": out}
    q = {name: shlex.quote(str(place)) for name, place in places.items()}
    script = f"""
        set -u
        mount -t tmpfs -o size={room} tmpfs {q["mount"]}
        cp {q["source"]} {q["session"]}
        date +%s.%N > {q["out"]}/full.start
        {run} > {q["out"]}/full.out 2> {q["out"]}/full.err; echo $? > {q["out"]}/full.rc
        date +%s.%N > {q["out"]}/full.end
        mount -o remount,size=256m {q["mount"]}
        {run} > {q["out"]}/freed.out 2> {q["out"]}/freed.err; echo $? > {q["out"]}/freed.rc
        cp {q["session"]}* {q["out"]}/
    """
    subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        check=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )

    def completed(name: str) -> subprocess.CompletedProcess[str]:
        code = int((out / f"{name}.rc").read_text())
        stdout, stderr = (out / f"{name}.out").read_text(), (out / f"{name}.err").read_text()
        return subprocess.CompletedProcess(name, code, stdout, stderr)

    seconds = float((out / "full.end").read_text()) - float((out / "full.start").read_text())
    return FullDiskRuns(completed("full"), seconds, completed("freed"), out / "s.tunebook", session)


def runs_under_a_file_size_limit(tmp_path: Path) -> FullDiskRuns:
    """The runner under RLIMIT_FSIZE (3 MB beyond the file, SIGXFSZ ignored: EFBIG), then
    without it."""
    session = new_session(tmp_path, FULL_DISK_SPEC)
    limit = session.stat().st_size + 3 * 1024 * 1024

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [*TUNEBOOK, "run", str(session)]
    started = time.monotonic()
    full = subprocess.run(
        command, capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size
    )
    seconds = time.monotonic() - started
    freed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return FullDiskRuns(full, seconds, freed, session, session)


@pytest.mark.parametrize("make_full", [runs_on_a_small_tmpfs, runs_under_a_file_size_limit])
def test_a_full_disk_stops_the_run_with_one_sentence_and_the_next_run_finishes_it(
    tmp_path: Path, make_full: Callable[[Path], FullDiskRuns]
) -> None:
    runs = make_full(tmp_path)
    full_err = runs.full.stderr
    assert runs.full.returncode == 1, full_err
    assert "Traceback" not in full_err
    assert full_err.count("\n") == 1, full_err  # one sentence, from one thread
    assert full_err.startswith(f"tunebook: writing '{runs.session}' failed"), full_err
    assert "free some space" in full_err
    assert runs.full_seconds < 60  # it stops, rather than hanging on
    assert runs.freed.returncode == 0, runs.freed.stderr
    assert "3/3 trials finished: 3 completed" in runs.freed.stdout
    with Session.open(runs.final, read_only=True) as final:
        assert final.integrity_check() == "ok"
        trials = final.trials()
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
        for trial in trials:
            assert final.trial_series(trial.id)["train/loss"].steps == list(range(1, 31))
