"""The runner under abuse: broken, out-of-memory and diverging trials, Ctrl-C, SIGKILL at
random moments, a status poller hammering the file, all with real processes and files.
DESIGN.md, "Quality bars": kill -9 at any moment loses no completed trial and no recorded
metric step; a resumed trial reproduces an uninterrupted one (deterministic CPU)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import (
    BackgroundRun,
    alive,
    cli,
    losses,
    new_session,
    runner_processes,
    running_trials,
    spec_text,
    start_cli,
    trial_record,
    trials_of,
    wait_for,
)
from tunebook.sessions import CheckpointKind, Session, TrialStatus
from tunebook.tui.cli import main


def test_broken_trials_do_not_stop_the_study(tmp_path: Path) -> None:
    faults = ["raise", "oom", "nan", "crash", "none"]  # healthy trials come last
    spec = spec_text(steps=40, trials=2, scientific={"fault": faults}, eval_every=10)
    path = new_session(tmp_path, spec)
    run = cli("run", path, "--workers", 2, "--memory-limit", 1024)
    assert run.returncode == 0, run.stderr
    assert "10/10 trials finished: 2 completed, 2 infeasible, 6 failed" in run.stdout
    with Session.open(path, read_only=True) as session:
        by_fault = {
            s.name.removeprefix("fault="): session.trials(study_id=s.id) for s in session.studies()
        }
        events = session.events()
    for trial in by_fault["raise"]:
        assert trial.status is TrialStatus.FAILED
        assert "injected failure at call 5" in trial.error
        assert "out of memory" not in trial.error
    for trial in by_fault["oom"]:
        assert trial.status is TrialStatus.FAILED
        assert trial.error.startswith("out of memory"), trial.error
    for trial in by_fault["nan"]:
        assert trial.status is TrialStatus.INFEASIBLE
        assert trial.error == "training loss is nan at step 5"
    for trial in by_fault["crash"]:
        assert trial.status is TrialStatus.FAILED
        assert trial.error.startswith("the worker process died (exit code -9"), trial.error
    for trial in by_fault["none"]:
        assert trial.status is TrialStatus.COMPLETED and trial.best_value is not None
    tracebacks = [e.data["traceback"] for e in events if e.kind == "trial.failed" and e.data]
    assert sum("injected failure" in t for t in tracebacks) == 2  # kept for --debug digging
    assert all(t.attempts == 1 for trials in by_fault.values() for t in trials)


def test_ctrl_c_stops_gracefully_and_the_resumed_run_matches_an_uninterrupted_one(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    spec = spec_text(steps=60, trials=3, fixed={"sleep_ms": 25}, eval_every=10)
    path = new_session(tmp_path, spec)
    reference = new_session(tmp_path, spec_text(steps=60, trials=3, eval_every=10), "ref")
    uninterrupted = BackgroundRun(reference, workers=2)

    # Ctrl-C reaches the whole process group, at once (workers still starting) …
    early = start_cli("run", path, "--workers", 2)
    processes.append(early)
    wait_for(lambda: running_trials(path), 60, "a trial to start")
    os.killpg(early.pid, signal.SIGINT)
    assert early.wait(60) == 130, early.stderr.read() if early.stderr else ""
    assert {t.status for t in trials_of(path)} == {TrialStatus.PENDING}

    # … and once trials are well under way.
    late = start_cli("run", path, "--workers", 2)
    processes.append(late)

    def progressed() -> bool:
        return any(len(steps) >= 15 for steps, _ in losses(path).values())

    wait_for(progressed, 60, "15 steps of a trial")
    os.killpg(late.pid, signal.SIGINT)
    out, err = late.communicate(timeout=60)
    assert late.returncode == 130, err  # the conventional status after Ctrl-C
    assert "stopped; the unfinished trials resume with" in out
    stopped: dict[int, int] = {}  # trial id -> attempts so far
    with Session.open(path, read_only=True) as session:
        assert session.runner() is None
        for trial in session.trials():
            assert trial.status is TrialStatus.PENDING
            state = session.resume_state(trial.id)
            steps = session.trial_series(trial.id).get("train/loss")
            if state is None:
                assert steps is None  # never began training
                continue
            stopped[trial.id] = trial.attempts
            assert state[0] == trial.resume_step >= 1  # exactly where it stopped
            assert trial.error == "stopped: resumes from its checkpoint"
            assert steps is not None and steps.steps == list(range(1, state[0] + 1))
        assert sum(e.kind == "trial.stopped" for e in session.events()) >= len(stopped) >= 1
        assert max(session.trial(i).resume_step or 0 for i in stopped) >= 15

    resumed = cli("run", path, "--workers", 2)
    assert resumed.returncode == 0, resumed.stderr
    assert uninterrupted.result().progress.completed == 3
    finished = trials_of(path)
    assert [t.status for t in finished] == [TrialStatus.COMPLETED] * 3
    assert {t.id: t.attempts - 1 for t in finished if t.id in stopped} == stopped
    curves, expected = losses(path), losses(reference)
    assert all(steps == list(range(1, 61)) for steps, _ in curves.values())
    assert curves == expected  # bit-identical to the run that was never interrupted
    best = {t.number: (t.best_value, t.best_step) for t in trials_of(reference)}
    assert {t.number: (t.best_value, t.best_step) for t in finished} == best


def test_sigkill_at_random_moments_loses_nothing(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    # Four kills, two in each mode; benchmarks/kill_runner.py runs 20+ of four kinds.
    kills, steps, budget = 4, 80, 6
    # width 512: a stopped worker's resume state outgrows a pipe buffer (64 KiB).
    spec = spec_text(
        steps=steps,
        trials=budget,
        fixed={"sleep_ms": 10, "width": 512},
        eval_every=20,
        checkpoint_every=10,
    )
    path = new_session(tmp_path, spec)
    reference = new_session(
        tmp_path, spec_text(steps=steps, trials=budget, fixed={"width": 512}, eval_every=20), "ref"
    )
    uninterrupted = BackgroundRun(reference, workers=2)  # trains while the runners start
    rng = random.Random(11)
    interrupted: dict[int, set[int]] = {}  # trial id -> the attempts a kill interrupted
    completed: dict[int, tuple[Any, ...]] = {}
    for kill in range(kills):
        launched = time.time()
        runner = start_cli("run", path, "--workers", 2)
        processes.append(runner)
        if kill % 2:  # any moment: start-up, recovery, scheduling, training
            time.sleep(rng.uniform(0.2, 2.0))
        else:  # while trials train, between or during checkpoint commits

            def training(since: float = launched) -> bool:
                """True once this runner committed a resume checkpoint."""
                with Session.open(path, read_only=True) as session:
                    return any(
                        c.kind is CheckpointKind.RESUME and c.created_at > since
                        for t in session.trials(status=TrialStatus.RUNNING)
                        for c in session.checkpoints(t.id)
                    )

            wait_for(training, 60, "a trial to train")
            time.sleep(rng.uniform(0.0, 0.4))
        workers = runner_processes(runner.pid)
        assert runner.poll() is None, f"the study finished after only {kill} kills"
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(10)
        wait_for(
            lambda ws=workers: not any(alive(w) for w in ws),
            20,
            f"the workers {workers} of the killed runner to exit",
        )
        with Session.open(path, read_only=True) as session:
            assert session.integrity_check() == "ok"
            for trial in session.trials():
                assert not trial.status.is_finished() or trial.status is TrialStatus.COMPLETED
                if trial.status is TrialStatus.RUNNING:
                    interrupted.setdefault(trial.id, set()).add(trial.attempts)
                elif trial.status is TrialStatus.COMPLETED:
                    record = trial_record(session, trial.id)
                    assert completed.setdefault(trial.id, record) == record, trial.id

    final = cli("run", path, "--workers", 2)
    assert final.returncode == 0, final.stderr
    assert f"{budget}/{budget} trials finished: {budget} completed" in final.stdout
    assert uninterrupted.result().progress.completed == budget
    with Session.open(path, read_only=True) as session:
        assert session.integrity_check() == "ok"
        trials = session.trials()
        assert sorted(t.number for t in trials) == list(range(budget))
        for trial in trials:
            assert trial.status is TrialStatus.COMPLETED
            assert trial.attempts == 1 + len(interrupted.get(trial.id, ())), trial.id
            series = session.trial_series(trial.id, ["train/loss", "validation/error"])
            assert series["train/loss"].steps == list(range(1, steps + 1)), trial.id
            assert series["validation/error"].steps == list(range(20, steps + 1, 20))
            if trial.id in completed:
                assert trial_record(session, trial.id) == completed[trial.id]
        recovered = [e for e in session.events() if e.kind == "trial.recovered"]
    assert len(recovered) == sum(map(len, interrupted.values())) >= kills // 2
    assert any("from step" in e.message for e in recovered)  # resumed from a checkpoint
    assert losses(path) == losses(reference)


def test_status_json_is_always_readable_while_two_workers_run(
    tmp_path: Path, processes: list[subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_text(steps=60, trials=4, fixed={"sleep_ms": 15}, eval_every=10)
    path = new_session(tmp_path, spec)
    runner = start_cli("run", path, "--workers", 2)
    processes.append(runner)
    problems: list[str] = []
    snapshots: list[dict[str, Any]] = []  # the in-process poller's, in the order it read them
    subprocess_snapshots: list[dict[str, Any]] = []
    stop = threading.Event()

    def subprocess_poller() -> None:
        """The real command, one call after the other, beside the in-process poller."""
        while not stop.is_set():
            status = cli("status", path, "--json", timeout=60)
            if status.returncode != 0 or status.stderr:
                problems.append(f"exit {status.returncode}: {status.stderr.strip()}")
            else:
                subprocess_snapshots.append(json.loads(status.stdout))

    thread = threading.Thread(target=subprocess_poller)
    thread.start()
    deadline = time.monotonic() + 120
    polls = 0
    try:
        while runner.poll() is None and time.monotonic() < deadline:
            code = main(["status", str(path), "--json"])
            out, err = capsys.readouterr()
            polls += 1
            if code != 0 or err:
                problems.append(f"exit {code}: {err.strip()}")
            else:
                snapshots.append(json.loads(out))
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(120)
    assert runner.wait(10) == 0
    assert problems == []
    assert polls >= 20
    everything = snapshots + subprocess_snapshots
    assert any(s["trials"]["running"] == 2 for s in everything)
    assert any(s["runner"] and s["runner"]["alive"] for s in everything)
    for poller in (snapshots, subprocess_snapshots):  # each poller's reads are in order
        finals = [s["trials"]["completed"] for s in poller]
        assert finals == sorted(finals)  # completed counts only grow
    assert json.loads(cli("status", path, "--json").stdout)["trials"]["completed"] == 4
