"""The runner: the one process that writes a session while its trials train.

It claims the file (a second live runner is refused), resumes what a crashed runner left
`running` from its last checkpoint, hands trials to an executor (`inline`: a thread of this
process; `process`: N spawned workers; `ray`: tasks on a Ray cluster; see `executors`),
writes every number the trials report, and beats a heartbeat so `tunebook status` knows it
is alive. Stopping is cooperative: a stop request (Ctrl-C, SIGTERM, or the caller's
`threading.Event`) lets running trials checkpoint and go back to `pending` (a trial that does
not stop within `STOP_GRACE` seconds is cancelled, its worker killed, and it goes back to
pending from its last checkpoint); a SIGKILL loses nothing that was committed, and the next
run picks up from there.

A trial whose worker dies ends `failed` within seconds; one whose machine leaves a Ray
cluster goes back to pending. A trial that reports nothing for `stall_timeout` seconds (a
no-progress watchdog, default `STALL_TIMEOUT`) is cancelled and ends `failed` with the
reason.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tunebook.core.execution import warm_client
from tunebook.core.execution.devices import AUTO, checked_device, requested_device
from tunebook.core.execution.executors import EXECUTORS, RayOptions, make_executor
from tunebook.core.execution.executors.base import Executor, Finished, Lost, Reported
from tunebook.core.execution.lifecycle import Heartbeat, signals_stop
from tunebook.core.execution.pool import check_main_script
from tunebook.core.execution.reporting import SessionReporter
from tunebook.core.execution.scheduler import Scheduler
from tunebook.core.execution.trial_task import TrialOutcome, TrialTask
from tunebook.core.search import quasi_random
from tunebook.core.workload_source import announce_foreign_code, session_workload_source
from tunebook.sessions import (
    BadInput,
    Experiment,
    ExperimentStatus,
    Session,
    Trial,
    TrialStatus,
    TunebookError,
)
from tunebook.sessions.report import RUNNER_STALE_AFTER

POLL_EVERY = 0.2  # seconds between checks of the workers when no message arrives
STALL_TIMEOUT = 600.0  # default seconds a trial may report nothing before it is failed
STOP_GRACE = 10.0  # seconds running trials get to checkpoint after a stop request
#: SQLite's words for a full disk (ENOSPC) and a write the OS refused (EFBIG, EIO).
STORAGE_PROBLEMS = ("database or disk is full", "disk I/O error")


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
    """How a run ended: the final counts, whether it was stopped before the end, and the
    signal that stopped it (SIGINT, SIGTERM; None when not stopped by a signal)."""

    progress: RunProgress
    stopped: bool
    stop_signal: int | None = None


ProgressCallback = Callable[[RunProgress], None]


class Runner:
    """Runs the pending and remaining trials of a session's experiments.

    Args:
        path: the session file.
        experiment: run only this experiment (name); default all unfinished ones.
        workers: trials at once: worker processes for `process` (default 1; torch threads
            are divided among them), at most this many Ray tasks for `ray` (default: as
            many as the cluster's resources fit); `inline` runs one.
        executor: `process` (default), `inline` (a thread of this process; tests,
            debugging) or `ray`.
        ray: the `ray` executor's cluster address and per-trial resources.
        device: where trials train: `auto` (default: a GPU when the worker sees one, the
            workers spread over the GPUs; under Ray, only with `gpus_per_trial`), `cpu`,
            `cuda` (refused where no GPU is visible) or `cuda:N`.
        retry_failed: put `failed` trials back to pending first.
        rerun: trial ids to reset to pending first (results, metrics and checkpoints
            cleared; hyperparameters and seeds kept), so they train again from scratch:
            the app's "rerun", done by the runner so that the app never writes.
        memory_limit_mb: per-worker cap on what a trial may allocate (process executor).
        progress: called with a `RunProgress` whenever the counts change.
        stop: set it to stop gracefully (running trials checkpoint and return to pending).
        detached: recorded in the runner row, so `status` can say the run is detached.
        notice: shown one line before any trial imports a workload file that another user
            or host set up (the session's creator differs).
        stall_timeout: seconds a trial may report nothing (no step, evaluation or
            checkpoint) before it is cancelled (its worker killed; `inline` can only ask
            it to stop) and ends `failed` (`math.inf` never).
    """

    def __init__(
        self,
        path: os.PathLike[str] | str,
        *,
        experiment: str | None = None,
        workers: int | None = None,
        executor: str = "process",
        ray: RayOptions | None = None,
        device: str = AUTO,
        retry_failed: bool = False,
        rerun: Sequence[int] = (),
        memory_limit_mb: int | None = None,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        detached: bool = False,
        notice: Callable[[str], None] | None = None,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        if executor not in EXECUTORS:
            raise BadInput(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if workers is not None and workers < 1:
            raise BadInput(f"--workers must be at least 1, got {workers}")
        if ray is not None and executor != "ray":
            raise BadInput(f"Ray options need --executor ray, not --executor {executor}")
        self.device = self._device(requested_device(device), executor, ray or RayOptions())
        if not stall_timeout > 0:  # also refuses NaN
            raise BadInput(f"--stall-timeout must be more than 0 seconds, got {stall_timeout}")
        self.path = path
        self.experiment_name = experiment
        self.workers = workers
        self.executor = executor
        self.ray = ray or RayOptions()
        self.retry_failed = retry_failed
        self.rerun = tuple(rerun)
        self.memory_limit_mb = memory_limit_mb
        self.progress = progress
        self.stop = stop or threading.Event()
        self.detached = detached
        self.notice = notice
        self.stall_timeout = stall_timeout
        self._reported: RunProgress | None = None

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run until every covered study has its budget of finished trials, or a stop."""
        try:
            return self._run()
        except sqlite3.OperationalError as exc:
            if not any(problem in str(exc) for problem in STORAGE_PROBLEMS):
                raise
            raise TunebookError(
                f"writing '{self.path}' failed ({exc}), so the run stopped; free some space "
                "(or fix the disk) and run it again: finished trials are kept, the others resume"
            ) from exc

    def _run(self) -> RunResult:
        with Session.open(self.path) as session:
            experiments = self._experiments(session)
            for trial_id in self.rerun:
                session.trial(trial_id)  # an unknown id is one sentence, before any change
            source = session_workload_source(session)
            source.check()  # a moved data file: before any trial
            if self.executor == "process":
                # A bad TUNEBOOK_WARM_SECONDS, a script workers cannot load: before registering.
                warm_client.idle_seconds()
                check_main_script()
            if self.executor == "ray" and self.ray.address is not None:
                from tunebook.core.execution.executors.ray_cluster import check_address

                # A wrong address: one sentence before the runner registers, so that a
                # detached run (from the app, or --detach) reports it rather than "started".
                check_address(self.ray.address)
            session.claim_runner(RUNNER_STALE_AFTER, self.detached, command=self._describe())
            heartbeat = Heartbeat(self.path)
            heartbeat.start()
            signals = signals_stop(self.stop)
            try:
                announce_foreign_code(session, self.notice)
                scheduler = Scheduler(session, experiments)
                # Started before any change, so that an executor that cannot start (Ray
                # unreachable) changes nothing; while it starts (the worker server imports
                # torch), a thread imports what the first draw needs.
                will_train = not self.stop.is_set() and self._will_train(scheduler)
                if will_train:
                    quasi_random.import_in_background()
                executor = self._executor(source.ref) if will_train else None
                with executor or contextlib.nullcontext():
                    self._prepare(session, scheduler)
                    if executor is not None:
                        with signals:
                            self._drive(session, scheduler, executor)
                progress = self._progress(session, scheduler)
                for experiment in experiments:
                    studies = session.study_summaries(experiment.id)
                    if all(s.finished >= s.study.budget for s in studies):
                        session.update_experiment(experiment.id, status=ExperimentStatus.FINISHED)
                return RunResult(progress, stopped=self.stop.is_set(), stop_signal=signals.received)
            finally:
                heartbeat.done.set()
                heartbeat.join()
                with contextlib.suppress(sqlite3.OperationalError):  # a full disk: it goes stale
                    session.release_runner()

    def _will_train(self, scheduler: Scheduler) -> bool:
        """Whether this run has a trial to train once prepared: a pending one, budget left,
        one to recover, rerun or retry."""
        return (
            bool(self.rerun)
            or scheduler.has_work()
            or any(
                t.status is TrialStatus.RUNNING
                or (self.retry_failed and t.status is TrialStatus.FAILED)
                for t in scheduler.trials()
            )
        )

    def _prepare(self, session: Session, scheduler: Scheduler) -> None:
        """Recover what a dead runner left running, reset the trials to rerun, retry the
        failed ones if asked, and mark the experiments running."""
        self._recover(session)
        for trial_id in self.rerun:
            session.reset_trial(trial_id)
            session.log_event("runner", "trial.rerun", f"trial {trial_id} reset to rerun")
        if self.retry_failed:
            retried = session.retry_trials(TrialStatus.FAILED, scheduler.study_ids())
            if retried:
                session.log_event("runner", "trials.retried", f"{retried} failed trials")
        for experiment in scheduler.experiments:
            session.update_experiment(experiment.id, status=ExperimentStatus.RUNNING)

    @staticmethod
    def _device(device: str, executor: str, ray: RayOptions) -> str:
        """What each trial task asks for. A GPU named for trials on this machine must be
        here (torch is imported for that check only); a Ray task sees only the GPUs it
        asked for, so without `gpus_per_trial` its trials train on the CPU."""
        if executor != "ray":
            return device if device in (AUTO, "cpu") else checked_device(device)
        if ray.gpus_per_trial:
            return device
        if device not in (AUTO, "cpu"):
            raise BadInput(
                f"--device {device} with --executor ray needs --gpus-per-trial: a Ray task "
                "sees only the GPUs it asks for"
            )
        return "cpu"

    def _describe(self) -> str:
        return (
            f"run --executor {self.executor}"
            + ("" if self.workers is None else f" --workers {self.workers}")
            + ("" if self.device == AUTO else f" --device {self.device}")
        )

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
            requeue(session, trial.id, "interrupted: the runner stopped", "trial.recovered")

    def _progress(self, session: Session, scheduler: Scheduler) -> RunProgress:
        """The current counts; the progress callback hears of them only when they changed."""
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
        if self.progress is not None and progress != self._reported:
            self.progress(progress)
        self._reported = progress
        return progress

    # -- the trials ------------------------------------------------------------------------

    def _executor(self, workload: str) -> Executor:
        return make_executor(
            self.executor, self.workers, self.memory_limit_mb, self.ray, workload=workload
        )

    def _drive(self, session: Session, scheduler: Scheduler, executor: Executor) -> None:
        reporters: dict[int, SessionReporter] = {}
        heard_at: dict[int, float] = {}  # started trials: when each last reported (monotonic)
        stop_requested: float | None = None
        while True:
            if not self.stop.is_set():
                for _ in range(executor.free_slots()):
                    trial = scheduler.next_trial(busy=reporters.keys())
                    if trial is None:
                        break
                    session.start_trial(trial.id)
                    study = session.study(trial.study_id)
                    reporters[trial.id] = SessionReporter(session, trial.id, study.objective_mode)
                    executor.submit(task_for(session, trial, executor.threads, self.device))
                    self._progress(session, scheduler)
            elif stop_requested is None:
                executor.request_stop()
                stop_requested = time.monotonic()
            if not reporters:
                return
            for event in executor.events(POLL_EVERY):
                trial_id = event.trial_id
                if trial_id not in reporters:
                    continue  # a trial already given up on (cancelled, or lost)
                heard_at[trial_id] = time.monotonic()
                if isinstance(event, Reported):
                    reporters[trial_id].replay(event.calls)
                    continue
                if isinstance(event, Finished):
                    record_outcome(session, reporters.pop(trial_id), event.outcome)
                elif isinstance(event, Lost) and event.requeue:
                    del reporters[trial_id]
                    requeue(session, trial_id, event.reason, "trial.requeued")
                elif isinstance(event, Lost):
                    lost = TrialOutcome(trial_id, TrialStatus.FAILED, error=event.reason)
                    record_outcome(session, reporters.pop(trial_id), lost)
                else:  # Started: the no-progress clock runs from now
                    log_start(session, trial_id, event.where)
                    continue
                heard_at.pop(trial_id, None)
                self._progress(session, scheduler)
            now = time.monotonic()
            for trial_id, last in list(heard_at.items()):
                if now - last > self.stall_timeout:
                    executor.cancel(trial_id)
                    del heard_at[trial_id]
                    stalled = TrialOutcome(
                        trial_id,
                        TrialStatus.FAILED,
                        error=f"no progress: the trial reported nothing for "
                        f"{self.stall_timeout:g} s (--stall-timeout), so its worker was killed",
                    )
                    record_outcome(session, reporters.pop(trial_id), stalled)
                    self._progress(session, scheduler)
            if stop_requested is not None and now - stop_requested > STOP_GRACE:
                for trial_id in list(reporters):
                    executor.cancel(trial_id)
                    del reporters[trial_id]
                    heard_at.pop(trial_id, None)
                    reason = f"stopped: its worker did not stop within {STOP_GRACE:g} s"
                    requeue(session, trial_id, reason, "trial.stopped")
                    self._progress(session, scheduler)


def log_start(session: Session, trial_id: int, where: str) -> None:
    """Log where a trial started training (its worker and device), for its detail screen."""
    if where:
        message = f"trial {trial_id} started: {where}"
        session.log_event("runner", "trial.started", message, {"trial": trial_id, "where": where})


def requeue(session: Session, trial_id: int, reason: str, event: str) -> None:
    """Put a trial whose worker or runner is gone back to pending, to resume from its last
    checkpoint: the metrics it logged after that are dropped (they will be produced again)."""
    with session.transaction():  # all or nothing: a kill here leaves it `running`
        session.release_trial(trial_id, reason)
        step = session.rewind_trial(trial_id)
        where = "from the start" if step is None else f"from step {step}"
        session.log_event("runner", event, f"trial {trial_id} resumes {where}")


def task_for(session: Session, trial: Trial, threads: int, device: str = AUTO) -> TrialTask:
    """The self-contained task of a trial: its study's fixed values, its own params and
    seeds, the experiment's step budget and settings, its resume state if any, and the
    device it asks for."""
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
        device=device,
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
