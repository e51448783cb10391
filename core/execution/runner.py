"""The runner: the one process that writes a session while its trials train.

It claims the file (a second live runner is refused), resumes what a crashed runner left
`running` from its last checkpoint, hands trials to an executor (`inline`: in this process;
`process`: N spawned workers), writes every number the trials report, and beats a heartbeat
so `tunebook status` knows it is alive. Stopping is cooperative: a stop request (Ctrl-C,
SIGTERM, or the caller's `threading.Event`) lets running trials checkpoint and go back to
`pending` (a worker that does not stop within `STOP_GRACE` seconds is killed, and its trial
goes back to pending from its last checkpoint); a SIGKILL loses nothing that was committed,
and the next run picks up from there.

Each worker sends its results over its own pipe, read by its own thread in the runner: a
worker that dies, even half-way through a message, only closes its own pipe, and the runner
ends its trial `failed` within seconds. A trial that reports nothing for `stall_timeout`
seconds (a no-progress watchdog, default `STALL_TIMEOUT`) has its worker killed and ends
`failed` with the reason.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
    TunebookError,
)
from tunebook.sessions.report import RUNNER_STALE_AFTER

EXECUTORS = ("inline", "process")
HEARTBEAT_EVERY = 2.0  # seconds
POLL_EVERY = 0.2  # seconds between checks of the workers when no message arrives
STALL_TIMEOUT = 600.0  # default seconds a trial may report nothing before it is failed
STOP_GRACE = 10.0  # seconds running trials get to checkpoint after a stop request
#: SQLite's words for a full disk (ENOSPC) and a write the OS refused (EFBIG, EIO).
STORAGE_PROBLEMS = ("database or disk is full", "disk I/O error")
DEATH_GRACE = 2.0  # seconds a dead worker's pipe gets to report its end (EOF) by itself


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


class _Heartbeat(threading.Thread):
    """Refreshes the runner row every few seconds from its own connection."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        super().__init__(name="tunebook-heartbeat", daemon=True)
        self.path = path
        self.done = threading.Event()

    def run(self) -> None:
        """Beat until done. A beat that fails (a full disk) is skipped, never printed: the
        runner's own next write meets the same error and reports it in one sentence."""
        with contextlib.suppress(sqlite3.Error, TunebookError), Session.open(self.path) as session:
            while not self.done.wait(HEARTBEAT_EVERY):
                with contextlib.suppress(sqlite3.Error, TunebookError):
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
            checkpoint) before its worker is killed and it ends `failed` (process executor;
            `math.inf` never).
    """

    def __init__(
        self,
        path: os.PathLike[str] | str,
        *,
        experiment: str | None = None,
        workers: int = 1,
        executor: str = "process",
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
        if workers < 1:
            raise BadInput(f"--workers must be at least 1, got {workers}")
        if not stall_timeout > 0:  # also refuses NaN
            raise BadInput(f"--stall-timeout must be more than 0 seconds, got {stall_timeout}")
        self.path = path
        self.experiment_name = experiment
        self.workers = workers
        self.executor = executor
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
            session_workload_source(session).check()  # a moved data file: before any trial
            session.claim_runner(RUNNER_STALE_AFTER, self.detached, command=self._describe())
            heartbeat = _Heartbeat(self.path)
            heartbeat.start()
            signals = _signals_stop(self.stop)
            try:
                announce_foreign_code(session, self.notice)
                self._recover(session)
                for trial_id in self.rerun:
                    session.reset_trial(trial_id)
                    session.log_event("runner", "trial.rerun", f"trial {trial_id} reset to rerun")
                scheduler = Scheduler(session, experiments)
                if self.retry_failed:
                    retried = session.retry_trials(TrialStatus.FAILED, scheduler.study_ids())
                    if retried:
                        session.log_event("runner", "trials.retried", f"{retried} failed trials")
                for experiment in experiments:
                    session.update_experiment(experiment.id, status=ExperimentStatus.RUNNING)
                with signals:
                    if self.executor == "inline":
                        self._run_inline(session, scheduler)
                    else:
                        self._run_processes(session, scheduler)
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
        stop_requested: float | None = None
        try:
            while True:
                if not self.stop.is_set():
                    for worker in pool.idle():
                        trial = scheduler.next_trial(busy=reporters.keys())
                        if trial is None:
                            break
                        session.start_trial(trial.id)
                        study = session.study(trial.study_id)
                        reporters[trial.id] = SessionReporter(
                            session, trial.id, study.objective_mode
                        )
                        pool.submit(worker, task_for(session, trial, pool.threads))
                        self._progress(session, scheduler)
                elif stop_requested is None:
                    pool.stop.set()
                    stop_requested = time.monotonic()
                if not reporters:
                    return
                for worker, message in pool.messages(POLL_EVERY):
                    if message is None:  # its pipe closed: the process is gone
                        self._worker_died(session, scheduler, reporters, pool, worker)
                        continue
                    kind, trial_id, payload = message
                    if kind == "calls":
                        reporters[trial_id].replay(payload)
                    elif kind == "outcome":
                        record_outcome(session, reporters.pop(trial_id), payload)
                        worker.trial_id = None
                        self._progress(session, scheduler)
                for worker in pool.dead_without_eof():
                    self._worker_died(session, scheduler, reporters, pool, worker)
                for worker, trial_id in pool.stalled(self.stall_timeout):
                    pool.kill(worker)
                    stalled = TrialOutcome(
                        trial_id,
                        TrialStatus.FAILED,
                        error=f"no progress: the trial reported nothing for "
                        f"{self.stall_timeout:g} s (--stall-timeout), so its worker was killed",
                    )
                    record_outcome(session, reporters.pop(trial_id), stalled)
                    self._progress(session, scheduler)
                if stop_requested is not None and time.monotonic() - stop_requested > STOP_GRACE:
                    for worker, trial_id in pool.busy():
                        pool.kill(worker)
                        del reporters[trial_id]
                        reason = f"stopped: its worker did not stop within {STOP_GRACE:g} s"
                        requeue(session, trial_id, reason, "trial.stopped")
                        self._progress(session, scheduler)
        finally:
            pool.close()

    def _worker_died(
        self,
        session: Session,
        scheduler: Scheduler,
        reporters: dict[int, SessionReporter],
        pool: _WorkerPool,
        worker: _Worker,
    ) -> None:
        """End the trial of a worker that died (`failed`, with its exit code); replace it."""
        trial_id = worker.trial_id
        exit_code = pool.kill(worker)
        if trial_id is None:
            return
        died = TrialOutcome(
            trial_id,
            TrialStatus.FAILED,
            error=f"the worker process died (exit code {exit_code}"
            + (", killed: possibly out of memory)" if exit_code == -9 else ")"),
        )
        record_outcome(session, reporters.pop(trial_id), died)
        self._progress(session, scheduler)


def requeue(session: Session, trial_id: int, reason: str, event: str) -> None:
    """Put a trial whose worker or runner is gone back to pending, to resume from its last
    checkpoint: the metrics it logged after that are dropped (they will be produced again)."""
    with session.transaction():  # all or nothing: a kill here leaves it `running`
        session.release_trial(trial_id, reason)
        step = session.rewind_trial(trial_id)
        where = "from the start" if step is None else f"from step {step}"
        session.log_event("runner", event, f"trial {trial_id} resumes {where}")


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


class _Worker:
    """One worker process, the queue of its tasks, and the runner thread that reads its own
    result pipe into the pool's inbox; `None` follows its last message once the pipe closes
    (the process exited or died, perhaps half-way through a message)."""

    def __init__(self, pool: _WorkerPool) -> None:
        self.tasks: Any = pool.context.Queue()
        self.tasks.cancel_join_thread()  # a task for a worker that died must not block exit
        results, sender = pool.context.Pipe(duplex=False)
        self.process: Any = pool.context.Process(
            target=worker_main,
            args=(self.tasks, sender, pool.stop, pool.threads, pool.memory_limit_mb, os.getpid()),
            daemon=True,
        )
        with _sigint_ignored():
            self.process.start()
        sender.close()  # the worker holds the only write end: its death closes the pipe
        self.results = results
        self.trial_id: int | None = None
        self.reported_at: float | None = None  # when its trial last reported (monotonic)
        self.dead_since: float | None = None
        self.retired = False
        self.reader = threading.Thread(
            target=self._read, args=(pool.inbox,), name="tunebook-results", daemon=True
        )
        self.reader.start()

    def _read(self, inbox: queue.Queue[tuple[_Worker, Any]]) -> None:
        try:
            while True:
                inbox.put((self, self.results.recv()))
        except (EOFError, OSError):  # closed, or cut off mid-message: either way, the end
            inbox.put((self, None))


class _WorkerPool:
    """N spawned worker processes, each with its own task queue and its own result pipe."""

    def __init__(self, size: int, memory_limit_mb: int | None) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.stop: Any = self.context.Event()
        self.threads = max(1, (os.cpu_count() or 1) // size)
        self.memory_limit_mb = memory_limit_mb
        self.inbox: queue.Queue[tuple[_Worker, Any]] = queue.Queue()
        self.workers = [_Worker(self) for _ in range(size)]

    def idle(self) -> list[_Worker]:
        """Workers with no trial assigned."""
        return [w for w in self.workers if w.trial_id is None]

    def busy(self) -> list[tuple[_Worker, int]]:
        """(worker, trial id) for each worker running a trial."""
        return [(w, w.trial_id) for w in self.workers if w.trial_id is not None]

    def submit(self, worker: _Worker, task: TrialTask) -> None:
        """Send a task to an idle worker."""
        worker.trial_id = task.trial_id
        worker.reported_at = None  # the stall clock starts when the worker takes the task
        worker.tasks.put(task)

    def messages(self, timeout: float) -> list[tuple[_Worker, Any]]:
        """Wait up to `timeout` for one message, then take every other one already there;
        messages of workers already replaced are dropped."""
        out = []
        try:
            out.append(self.inbox.get(timeout=timeout))
            while True:
                out.append(self.inbox.get_nowait())
        except queue.Empty:
            pass
        now = time.monotonic()
        for worker, _ in out:
            worker.reported_at = now
        return [(worker, message) for worker, message in out if not worker.retired]

    def dead_without_eof(self) -> list[_Worker]:
        """Workers dead for `DEATH_GRACE` s whose pipe still has not closed (a child process
        of theirs may hold it open): the runner must not wait for it."""
        now = time.monotonic()
        dead = []
        for worker in self.workers:
            if worker.process.is_alive():
                continue
            if worker.dead_since is None:
                worker.dead_since = now
            elif now - worker.dead_since > DEATH_GRACE:
                dead.append(worker)
        return dead

    def stalled(self, timeout: float) -> list[tuple[_Worker, int]]:
        """(worker, trial id) for each trial that has reported nothing for `timeout` s."""
        now = time.monotonic()
        return [
            (w, trial_id)
            for w, trial_id in self.busy()
            if w.reported_at is not None and now - w.reported_at > timeout
        ]

    def kill(self, worker: _Worker) -> int | None:
        """SIGKILL a worker (if still alive) and, unless the pool is stopping, put a fresh
        one in its place. Returns the worker's exit code."""
        worker.retired = True
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)
        index = self.workers.index(worker)
        if self.stop.is_set():
            del self.workers[index]
        else:
            self.workers[index] = _Worker(self)
        return worker.process.exitcode

    def close(self) -> None:
        """Ask running trials to stop and every worker to exit; wait briefly, then terminate
        stragglers (after an error, workers must not train on for nobody)."""
        self.stop.set()
        for worker in self.workers:
            if worker.process.is_alive():
                worker.tasks.put(None)
        deadline = time.monotonic() + 10
        for worker in self.workers:
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(1)
        # Free the queues' and the event's named semaphores now, while the interpreter is
        # whole: their finalizers unlink them and tell multiprocessing's resource tracker.
        # Left to interpreter teardown (an exception's traceback keeps the pool alive that
        # long), a finalizer can unlink without telling it, and the tracker then prints
        # "leaked semaphore" warnings after tunebook's own one-sentence error.
        for worker in self.workers:
            worker.tasks.close()
            del worker.tasks
        del self.stop
        gc.collect()


class _signals_stop:
    """While active, SIGINT and SIGTERM set `stop` (a graceful stop) and are remembered in
    `received`; a second SIGINT raises KeyboardInterrupt. Only in the main thread, where
    handlers can be installed."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}
        self.received: int | None = None

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGINT and self.stop.is_set():
            raise KeyboardInterrupt
        self.received = self.received or signum
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
