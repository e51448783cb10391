"""The runner: the one process that writes a session while its trials train.

It claims the file (a second live runner is refused), resumes what a crashed runner left
`running` from its last checkpoint, hands trials to an executor (`inline`: in this process;
`process`: N spawned workers), writes every number the trials report, and beats a heartbeat
so `tunebook status` knows it is alive. Stopping is cooperative: a stop request (Ctrl-C,
SIGTERM, or the caller's `threading.Event`) lets running trials checkpoint and go back to
`pending`; a SIGKILL loses nothing that was committed, and the next run picks up from there.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tunebook.core.execution.reporting import SessionReporter
from tunebook.core.execution.scheduler import Scheduler
from tunebook.core.execution.trial_task import TrialOutcome, TrialTask, run_trial_task
from tunebook.core.execution.worker import worker_main
from tunebook.core.workload_source import announce_foreign_code, session_workload_source
from tunebook.sessions import (
    BadInput,
    Experiment,
    ExperimentStatus,
    Session,
    Trial,
    TrialStatus,
)
from tunebook.sessions.report import RUNNER_STALE_AFTER

EXECUTORS = ("inline", "process")
HEARTBEAT_EVERY = 2.0  # seconds
POLL_EVERY = 0.2  # seconds between checks of the workers when no message arrives


@dataclass(frozen=True)
class RunProgress:
    """Counts of the trials a run covers, sent to the progress callback after each change."""

    budget: int
    completed: int
    infeasible: int
    failed: int
    running: int

    @property
    def finished(self) -> int:
        """Trials that count towards the budget."""
        return self.completed + self.infeasible + self.failed


@dataclass(frozen=True)
class RunResult:
    """How a run ended: the final counts, and whether it was stopped before the end."""

    progress: RunProgress
    stopped: bool


ProgressCallback = Callable[[RunProgress], None]


class _Heartbeat(threading.Thread):
    """Refreshes the runner row every few seconds from its own connection."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        super().__init__(name="tunebook-heartbeat", daemon=True)
        self.path = path
        self.done = threading.Event()

    def run(self) -> None:
        with Session.open(self.path) as session:
            while not self.done.wait(HEARTBEAT_EVERY):
                session.heartbeat()


class Runner:
    """Runs the pending and remaining trials of a session's experiments.

    Args:
        path: the session file.
        experiment: run only this experiment (name); default all unfinished ones.
        workers: worker processes for the `process` executor (torch threads are divided
            among them).
        executor: `process` (default) or `inline` (same process; tests, debugging).
        retry_failed: put `failed` trials back to pending first.
        memory_limit_mb: per-worker cap on what a trial may allocate (process executor).
        progress: called with a `RunProgress` whenever a trial starts or ends.
        stop: set it to stop gracefully (running trials checkpoint and return to pending).
        detached: recorded in the runner row, so `status` can say the run is detached.
        notice: shown one line before any trial imports a workload file that another user
            or host set up (the session's creator differs).
    """

    def __init__(
        self,
        path: os.PathLike[str] | str,
        *,
        experiment: str | None = None,
        workers: int = 1,
        executor: str = "process",
        retry_failed: bool = False,
        memory_limit_mb: int | None = None,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        detached: bool = False,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        if executor not in EXECUTORS:
            raise BadInput(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if workers < 1:
            raise BadInput(f"--workers must be at least 1, got {workers}")
        self.path = path
        self.experiment_name = experiment
        self.workers = workers
        self.executor = executor
        self.retry_failed = retry_failed
        self.memory_limit_mb = memory_limit_mb
        self.progress = progress
        self.stop = stop or threading.Event()
        self.detached = detached
        self.notice = notice

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run until every covered study has its budget of finished trials, or a stop."""
        with Session.open(self.path) as session:
            experiments = self._experiments(session)
            session_workload_source(session).check()  # a moved data file: before any trial
            session.claim_runner(RUNNER_STALE_AFTER, self.detached, command=self._describe())
            heartbeat = _Heartbeat(self.path)
            heartbeat.start()
            try:
                announce_foreign_code(session, self.notice)
                self._recover(session)
                scheduler = Scheduler(session, experiments)
                if self.retry_failed:
                    retried = session.retry_trials(TrialStatus.FAILED, scheduler.study_ids())
                    if retried:
                        session.log_event("runner", "trials.retried", f"{retried} failed trials")
                for experiment in experiments:
                    session.update_experiment(experiment.id, status=ExperimentStatus.RUNNING)
                with _signals_stop(self.stop):
                    if self.executor == "inline":
                        self._run_inline(session, scheduler)
                    else:
                        self._run_processes(session, scheduler)
                progress = self._progress(session, scheduler)
                for experiment in experiments:
                    studies = session.study_summaries(experiment.id)
                    if all(s.finished >= s.study.budget for s in studies):
                        session.update_experiment(experiment.id, status=ExperimentStatus.FINISHED)
                return RunResult(progress, stopped=self.stop.is_set())
            finally:
                heartbeat.done.set()
                heartbeat.join()
                session.release_runner()

    def _describe(self) -> str:
        return f"run --executor {self.executor} --workers {self.workers}"

    def _experiments(self, session: Session) -> list[Experiment]:
        if self.experiment_name is not None:
            return [session.experiment(self.experiment_name)]
        experiments = [
            e for e in session.experiments() if e.status is not ExperimentStatus.CONCLUDED
        ]
        if not experiments:
            raise BadInput(
                f"session '{self.path}' has no experiment to run; add one with "
                "'tunebook experiment add PATH SPEC.toml'"
            )
        return experiments

    def _recover(self, session: Session) -> None:
        """Trials left `running` belong to a runner that died: back to pending, metrics
        after their last checkpoint dropped (they will be produced again)."""
        for trial in session.trials(status=TrialStatus.RUNNING):
            with session.transaction():  # all or nothing: a kill here leaves it `running`
                session.release_trial(trial.id, "interrupted: the runner stopped")
                step = session.rewind_trial(trial.id)
                where = "from the start" if step is None else f"from step {step}"
                session.log_event("runner", "trial.recovered", f"trial {trial.id} resumes {where}")

    def _progress(self, session: Session, scheduler: Scheduler) -> RunProgress:
        counts = {s: 0 for s in TrialStatus}
        for trial in scheduler.trials():
            counts[trial.status] += 1
        progress = RunProgress(
            budget=scheduler.budget(),
            completed=counts[TrialStatus.COMPLETED],
            infeasible=counts[TrialStatus.INFEASIBLE],
            failed=counts[TrialStatus.FAILED],
            running=counts[TrialStatus.RUNNING],
        )
        if self.progress is not None:
            self.progress(progress)
        return progress

    # -- executors -------------------------------------------------------------------------

    def _run_inline(self, session: Session, scheduler: Scheduler) -> None:
        threads = max(1, os.cpu_count() or 1)
        while not self.stop.is_set():
            trial = scheduler.next_trial(busy=())
            if trial is None:
                return
            session.start_trial(trial.id)
            self._progress(session, scheduler)
            study = session.study(trial.study_id)
            reporter = SessionReporter(session, trial.id, study.objective_mode, self.stop)
            task = task_for(session, trial, threads)
            outcome = run_trial_task(task, reporter)
            record_outcome(session, reporter, outcome)
            self._progress(session, scheduler)

    def _run_processes(self, session: Session, scheduler: Scheduler) -> None:
        if self.stop.is_set() or scheduler.next_trial(busy=()) is None:
            return  # nothing to run: spare the workers' start-up (spawn + torch import)
        pool = _WorkerPool(self.workers, self.memory_limit_mb)
        reporters: dict[int, SessionReporter] = {}
        try:
            while True:
                if not self.stop.is_set():
                    for slot in pool.idle_slots():
                        trial = scheduler.next_trial(busy=reporters.keys())
                        if trial is None:
                            break
                        session.start_trial(trial.id)
                        study = session.study(trial.study_id)
                        reporters[trial.id] = SessionReporter(
                            session, trial.id, study.objective_mode
                        )
                        pool.submit(slot, task_for(session, trial, pool.threads))
                        self._progress(session, scheduler)
                if not reporters:
                    return
                if self.stop.is_set():
                    pool.stop.set()
                for kind, trial_id, payload in pool.messages(POLL_EVERY):
                    if kind == "calls":
                        reporters[trial_id].replay(payload)
                    elif kind == "outcome":
                        record_outcome(session, reporters.pop(trial_id), payload)
                        pool.release(trial_id)
                        self._progress(session, scheduler)
                for trial_id, exit_code in pool.dead_workers():
                    died = TrialOutcome(
                        trial_id,
                        TrialStatus.FAILED,
                        error=f"the worker process died (exit code {exit_code}"
                        + (", killed: possibly out of memory)" if exit_code == -9 else ")"),
                    )
                    record_outcome(session, reporters.pop(trial_id), died)
                    self._progress(session, scheduler)
        finally:
            pool.close()


def task_for(session: Session, trial: Trial, threads: int) -> TrialTask:
    """The self-contained task of a trial: its study's fixed values, its own params and
    seeds, the experiment's step budget and settings, and its resume state if any."""
    study = session.study(trial.study_id)
    experiment = session.experiment(study.experiment_id)
    source = session_workload_source(session)
    resume = session.resume_state(trial.id)
    return TrialTask(
        trial_id=trial.id,
        workload=source.ref,
        workload_config=source.config,
        hparams={**study.fixed, **trial.params},
        init_seed=trial.init_seed,
        data_seed=trial.data_seed,
        max_train_steps=experiment.max_train_steps,
        objective_metric=study.objective_metric,
        objective_mode=study.objective_mode,
        settings=dict(experiment.design.get("training", {})),
        resume_state=None if resume is None else resume[1],
        threads=threads,
    )


def record_outcome(session: Session, reporter: SessionReporter, outcome: TrialOutcome) -> None:
    """Write how a trial ended: finished (with its last metrics, in one transaction), or
    stopped (back to pending, to resume from its checkpoint)."""
    if outcome.status is None:
        reporter.writer.flush()
        session.release_trial(outcome.trial_id, "stopped: resumes from its checkpoint")
        session.log_event("runner", "trial.stopped", f"trial {outcome.trial_id} stopped")
        return
    session.finish_trial(
        outcome.trial_id,
        outcome.status,
        best_step=outcome.best_step,
        best_value=outcome.best_value,
        final_value=outcome.final_value,
        error=outcome.error,
        compute_seconds=outcome.compute_seconds,
        data_seconds=outcome.data_seconds,
        writer=reporter.writer,
    )
    data = {"traceback": outcome.details} if outcome.details else {}
    message = f"trial {outcome.trial_id} {outcome.status.value}"
    session.log_event("runner", f"trial.{outcome.status.value}", message, data)


class _WorkerPool:
    """N spawned worker processes, each with its own task queue and one shared result queue."""

    def __init__(self, size: int, memory_limit_mb: int | None) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.results: Any = self.context.Queue()
        self.stop: Any = self.context.Event()
        self.threads = max(1, (os.cpu_count() or 1) // size)
        self.memory_limit_mb = memory_limit_mb
        self.slots: list[tuple[Any, Any]] = [self._start() for _ in range(size)]
        self.running: dict[int, int] = {}  # trial id -> slot

    def _start(self) -> tuple[Any, Any]:
        tasks = self.context.Queue()
        process = self.context.Process(
            target=worker_main,
            args=(tasks, self.results, self.stop, self.threads, self.memory_limit_mb, os.getpid()),
            daemon=True,
        )
        with _sigint_ignored():
            process.start()
        return process, tasks

    def idle_slots(self) -> list[int]:
        """Slots with no trial assigned."""
        busy = set(self.running.values())
        return [i for i in range(len(self.slots)) if i not in busy]

    def submit(self, slot: int, task: TrialTask) -> None:
        """Send a task to the worker in `slot`."""
        self.running[task.trial_id] = slot
        self.slots[slot][1].put(task)

    def release(self, trial_id: int) -> None:
        """The trial's worker is free again."""
        self.running.pop(trial_id, None)

    def messages(self, timeout: float) -> list[tuple[str, int, Any]]:
        """Wait up to `timeout` for one message, then take every other one already there."""
        out = []
        try:
            out.append(self.results.get(timeout=timeout))
            while True:
                out.append(self.results.get_nowait())
        except queue.Empty:
            pass
        return out

    def dead_workers(self) -> list[tuple[int, int]]:
        """(trial id, exit code) for each busy worker that died; the worker is replaced."""
        dead = []
        for trial_id, slot in list(self.running.items()):
            process, _ = self.slots[slot]
            if not process.is_alive():
                dead.append((trial_id, process.exitcode))
                self.running.pop(trial_id)
                self.slots[slot] = self._start()
        return dead

    def close(self) -> None:
        """Ask every worker to exit and wait briefly; stragglers are terminated."""
        for process, tasks in self.slots:
            if process.is_alive():
                tasks.put(None)
        deadline = time.monotonic() + 10
        for process, _ in self.slots:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(1)


class _signals_stop:
    """While active, SIGINT and SIGTERM set `stop` (a graceful stop); a second SIGINT
    raises KeyboardInterrupt. Only in the main thread, where handlers can be installed."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGINT and self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start children with SIGINT ignored (they inherit it): a terminal's Ctrl-C goes to
    the whole process group, and must not kill a worker still starting up (its trial would
    end `failed` instead of going back to pending). Only the main thread can do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
