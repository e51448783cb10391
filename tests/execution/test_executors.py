"""The executor contract (`tunebook.core.execution.executors.base`), one suite for every
executor: `inline` (a thread), `process` (spawned workers) and `ray` (Ray tasks on a local
Ray instance started for the run; marked `ray`, select them with `-m ray`). Real training on
the `Tiny` workload, real sessions, real worker deaths."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import BackgroundRun, new_session, spec_text, wait_for
from tunebook.core.execution.executors import Executor, make_executor
from tunebook.core.execution.executors.base import Event, Finished, Reported, Started
from tunebook.core.execution.runner import Runner, task_for
from tunebook.core.execution.scheduler import Scheduler
from tunebook.core.workload_source import session_workload_source
from tunebook.sessions import ExperimentStatus, Session, TrialStatus

EXECUTORS = [
    pytest.param("inline"),
    pytest.param("process"),
    pytest.param("ray", marks=pytest.mark.ray),
]
#: How each executor's worker is made to die mid-trial: a real SIGKILL of the worker
#: process, or, for `inline`, whose worker is a thread of the runner, SystemExit escaping it.
DEATHS = {"inline": "exit", "process": "crash", "ray": "crash"}
#: Where each executor says a trial trains (the runner logs it; the trial detail shows it).
WHERE = {
    "inline": r"pid \d+ \(inline\), (cpu|cuda:\d+)",
    "process": r"pid \d+, (cpu|cuda:\d+)",
    "ray": r"Ray node [0-9a-f]{12}, pid \d+, (cpu|cuda:\d+)",
}
WORKER_DIED = {
    "inline": "the trial's worker ended: SystemExit: 3",
    "process": "the worker process died (exit code -9",
    "ray": "its Ray worker died",
}


@pytest.fixture(params=EXECUTORS)
def executor_name(request: pytest.FixtureRequest) -> str:
    """Each executor in turn."""
    if request.param == "ray":
        pytest.importorskip("ray", reason="the ray extra: pip install 'tunebook[ray]'")
    return str(request.param)


def events_until_finished(executor: Executor, trial_id: int, timeout: float = 120) -> list[Event]:
    """Every event of the trial, up to and including its `Finished` or `Lost`."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in executor.events(0.2):
            assert event.trial_id == trial_id
            seen.append(event)
            if not isinstance(event, (Started, Reported)):
                return seen
    raise AssertionError(f"trial {trial_id} did not finish within {timeout} s: {seen}")


def calls_of(events: list[Event]) -> list[tuple[str, tuple[Any, ...]]]:
    """The reporter calls the trial made, in the order the executor delivered them."""
    return [call for e in events if isinstance(e, Reported) for call in e.calls]


def test_a_trial_streams_its_reports_in_order_then_completes(
    tmp_path: Path, executor_name: str
) -> None:
    path = new_session(tmp_path, spec_text(steps=30, trials=1, eval_every=10, checkpoint_every=10))
    with Session.open(path) as session, make_executor(
        executor_name, workload=session_workload_source(session).ref
    ) as executor:
        trial = Scheduler(session, session.experiments()).next_trial(busy=())  # the runner's draw
        assert trial is not None
        assert executor.free_slots() >= 1
        executor.submit(task_for(session, trial, executor.threads))
        events = events_until_finished(executor, trial.id)
        assert isinstance(events[0], Started)
        assert re.fullmatch(WHERE[executor_name], events[0].where), events[0].where
        assert isinstance(events[-1], Finished)
        assert events[-1].outcome.status is TrialStatus.COMPLETED
        calls = calls_of(events)
        steps = [args[0] for name, args in calls if name == "log_step"]
        assert steps == list(range(1, 31))
        evals = [args[0] for name, args in calls if name == "log_eval"]
        assert evals == [10, 20, 30]
        # Every checkpoint comes after the steps it covers, and each eval after its step.
        order = [(args[0], name) for name, args in calls]
        assert order == sorted(order, key=lambda pair: pair[0])
        assert [args[0] for name, args in calls if name == "save_state"] == [10, 20]
        assert executor.events(0.5) == []  # nothing after the end


def test_a_study_finishes_with_exactly_its_budget(tiny_session: Path, executor_name: str) -> None:
    workers = 2 if executor_name == "process" else None  # as it ran before the shared suite
    result = Runner(tiny_session, executor=executor_name, workers=workers).run()
    assert not result.stopped
    assert (result.progress.budget, result.progress.completed) == (3, 3)
    again = Runner(tiny_session, executor=executor_name, workers=workers).run()
    assert again.progress.finished == 3  # a finished study draws no more trials
    with Session.open(tiny_session, read_only=True) as session:
        trials = session.trials()
        assert [(t.number, t.status, t.attempts) for t in trials] == [
            (n, TrialStatus.COMPLETED, 1) for n in range(3)
        ]
        for trial in trials:
            series = session.trial_series(trial.id, ["train/loss", "validation/error"])
            assert series["train/loss"].steps == list(range(1, 31))
            assert series["validation/error"].steps == [10, 20, 30]
            assert trial.best_step in (10, 20, 30) and trial.best_value is not None
            assert trial.reproduce == f"tunebook trial rerun {tiny_session} {trial.id}"
            assert session.resume_state(trial.id) is None  # dropped once finished
            assert re.fullmatch(WHERE[executor_name], session.trial_where(trial.id))
        assert session.runner() is None  # released on a clean exit
        assert session.experiments()[0].status is ExperimentStatus.FINISHED


def test_a_graceful_stop_returns_the_trial_to_pending_with_its_checkpoint(
    tmp_path: Path, executor_name: str
) -> None:
    spec = spec_text(
        steps=400, trials=1, fixed={"sleep_ms": 20.0}, eval_every=10, checkpoint_every=10
    )
    path = new_session(tmp_path, spec)
    stop = threading.Event()
    run = BackgroundRun(path, executor=executor_name, stop=stop)

    def checkpointed() -> int | None:
        with Session.open(path, read_only=True) as session:
            trials = session.trials()
            state = trials and session.resume_state(trials[0].id)
            return state[0] if state else None

    wait_for(checkpointed, 90, "the trial's first checkpoint")
    stop.set()
    result = run.result()
    assert result.stopped
    with Session.open(path, read_only=True) as session:
        (trial,) = session.trials()
        assert trial.status is TrialStatus.PENDING
        saved = session.resume_state(trial.id)
        assert saved is not None and 10 <= saved[0] < 400
        steps = session.trial_series(trial.id, ["train/loss"])["train/loss"].steps
        assert steps == list(range(1, saved[0] + 1))  # nothing logged past the checkpoint


def test_a_worker_death_ends_the_trial_failed_and_the_study_goes_on(
    tmp_path: Path, executor_name: str
) -> None:
    spec = spec_text(steps=20, trials=1, scientific={"fault": ["none", DEATHS[executor_name]]})
    path = new_session(tmp_path, spec)
    result = Runner(path, executor=executor_name).run()
    assert (result.progress.completed, result.progress.failed) == (1, 1)
    with Session.open(path, read_only=True) as session:
        failed = session.trials(status=TrialStatus.FAILED)
        studies = [session.study(t.study_id).name for t in failed]
        assert studies == [f"fault={DEATHS[executor_name]}"]
        assert failed[0].error.startswith(WORKER_DIED[executor_name]), failed[0].error


def test_a_diverging_trial_ends_infeasible(tmp_path: Path, executor_name: str) -> None:
    spec = spec_text(steps=20, trials=1, fixed={"fault": "nan", "fault_step": 3})
    path = new_session(tmp_path, spec)
    result = Runner(path, executor=executor_name).run()
    assert result.progress.infeasible == 1
    with Session.open(path, read_only=True) as session:
        (trial,) = session.trials()
        assert trial.status is TrialStatus.INFEASIBLE
        assert trial.error == "training loss is nan at step 3"
