"""Starting and stopping a session's detached runner from another process: `tunebook run
--detach`, `tunebook stop`, and the app's start and stop.

A detached runner is `tunebook run PATH --detached-child` in its own process session, so it
survives the terminal, the SSH connection or the app that started it. It stops gracefully
on SIGTERM (running trials checkpoint and go back to pending), so stopping one is a signal
plus a wait until its process is gone. Only a runner on this host can be signalled; for
one elsewhere the error names the host and pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunebook.core.execution.devices import AUTO
from tunebook.sessions import BadInput, RunnerInfo, Session, TunebookError
from tunebook.sessions.records import process_exists
from tunebook.sessions.report import RUNNER_STALE_AFTER

DETACH_WAIT = 30.0  # seconds to wait for a detached runner to register itself


@dataclass(frozen=True)
class RunRequest:
    """What a detached runner runs: the options of `tunebook run`."""

    workers: int | None = None
    executor: str = "process"
    experiment: str | None = None
    retry_failed: bool = False
    rerun: tuple[int, ...] = ()
    memory_limit_mb: int | None = None
    stall_timeout: float | None = None
    address: str | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    device: str = AUTO

    def command(self, path: str) -> list[str]:
        """The `tunebook` arguments of the detached child."""
        return ["run", path, "--detached-child", *self.arguments()]

    def arguments(self) -> list[str]:
        """The `tunebook run` options that ask for this."""
        args = ["--executor", self.executor]
        if self.workers is not None:
            args += ["--workers", str(self.workers)]
        if self.experiment:
            args += ["--experiment", self.experiment]
        if self.retry_failed:
            args.append("--retry-failed")
        for trial_id in self.rerun:
            args += ["--rerun", str(trial_id)]
        if self.memory_limit_mb:
            args += ["--memory-limit", str(self.memory_limit_mb)]
        if self.stall_timeout is not None:
            args += ["--stall-timeout", repr(self.stall_timeout)]
        if self.address is not None:
            args.append(f"--address={self.address}")
        if self.cpus_per_trial is not None:
            args += ["--cpus-per-trial", repr(self.cpus_per_trial)]
        if self.gpus_per_trial is not None:
            args += ["--gpus-per-trial", repr(self.gpus_per_trial)]
        if self.device != AUTO:
            args += ["--device", self.device]
        return args


@dataclass(frozen=True)
class ProbeRequest:
    """What a detached probe runner measures: `tunebook probe NAME` and its options."""

    name: str
    options: tuple[tuple[str, str], ...] = ()  # (option, value) pairs, e.g. ("--steps", "500")
    workers: int = 1
    restart: bool = False

    def command(self, path: str) -> list[str]:
        """The `tunebook` arguments of the detached child."""
        args = ["probe", self.name, path, "--detached-child", "--workers", str(self.workers)]
        for option, value in self.options:
            args += [option, value]
        return args + (["--restart"] if self.restart else [])


@dataclass(frozen=True)
class StartResult:
    """A detached runner that registered itself (or finished at once: nothing to run)."""

    pid: int
    log_path: Path


def log_path_of(path: str | os.PathLike[str]) -> Path:
    """Where a detached runner of the session at `path` writes its output."""
    return Path(f"{os.fspath(path)}.log")


def start_runner(
    path: str | os.PathLike[str],
    request: RunRequest | ProbeRequest = RunRequest(),
    notice: Callable[[str], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> StartResult:
    """Start a detached runner (of trials, or of a probe) on the session and wait until it
    has claimed the file.

    `notice` receives the foreign-code line before another user's workload code runs.
    Raises BadInput when a runner is already alive, the workload's files are missing or the
    runner refuses its input (exit 2), TunebookError when it fails or does not register
    within `DETACH_WAIT` seconds. The child is reaped by a daemon thread, so a process that
    starts runners and lives on (the app) leaves no zombie behind that would look alive.
    When a runner that registered later ends in failure (`runner_failure`), that thread
    hands `on_failure` one sentence saying so: a failure this call could not see.
    """
    from tunebook.core.workload_source import announce_foreign_code, session_workload_source

    with Session.open(path, read_only=True) as session:  # the runner is the writer
        runner = session.runner()
        if runner is not None and runner.is_alive(RUNNER_STALE_AFTER):
            raise BadInput(
                f"session '{path}' is already being run by process {runner.pid} on {runner.host}"
            )
        session_workload_source(session).check()
        announce_foreign_code(session, notice)
    log_path = log_path_of(path)
    command = [sys.executable, "-m", "tunebook.tui.cli", *request.command(os.fspath(path))]
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    registered = threading.Event()  # set once this call returns the runner as started

    def reap() -> None:
        code = child.wait()
        decided.wait()  # a failure before registering is this call's to raise
        failure = runner_failure(code, log_path)
        if registered.is_set() and failure and on_failure is not None:
            on_failure(failure)

    decided = threading.Event()
    threading.Thread(target=reap, name=f"reap runner {child.pid}", daemon=True).start()
    try:
        deadline = time.monotonic() + DETACH_WAIT
        while time.monotonic() < deadline:
            code = child.poll()
            if code is not None and code != 0:
                raise (BadInput if code == 2 else TunebookError)(
                    last_line(log_path) or f"runner exited with {code}"
                )
            with Session.open(path, read_only=True) as session:
                runner = session.runner()
            if (runner is not None and runner.pid == child.pid) or code == 0:
                registered.set()
                return StartResult(child.pid, log_path)
            time.sleep(0.1)
        raise TunebookError(
            f"the detached runner did not start within {DETACH_WAIT:.0f} s; see {log_path}"
        )
    finally:
        decided.set()


def last_line(log_path: Path) -> str:
    """The last line a detached runner wrote to its log (its one-sentence error, when it
    failed), without the `tunebook: ` prefix; "" for an empty log."""
    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
    return tail[0].removeprefix("tunebook: ") if tail else ""


#: The exit codes of a runner stopped gracefully: 128 + SIGINT or SIGTERM (`tunebook stop`).
STOPPED_CODES = frozenset(128 + signum for signum in (signal.SIGINT, signal.SIGTERM))


def runner_failure(code: int, log_path: Path) -> str:
    """One sentence when a detached runner's exit `code` is a failure: the signal that
    killed it, or its error (the last line of its log); "" for a run that ended well or
    was stopped."""
    if code == 0 or code in STOPPED_CODES:
        return ""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the runner was killed by {name}"
    return f"the runner ended with an error: {last_line(log_path) or f'exit code {code}'}"


@dataclass(frozen=True)
class StopResult:
    """What `stop_runner` did: the runner it stopped (None: none was running), how long it took."""

    runner: RunnerInfo | None
    seconds: float = 0.0


def live_runner(path: str | os.PathLike[str]) -> RunnerInfo | None:
    """The session's runner if one is alive now, else None."""
    with Session.open(path, read_only=True) as session:
        runner = session.runner()
    return runner if runner is not None and runner.is_alive(RUNNER_STALE_AFTER) else None


def stop_runner(path: str | os.PathLike[str], timeout: float) -> StopResult:
    """Ask the session's live runner to stop (SIGTERM) and wait until its process has exited.

    Raises BadInput for a runner on another host or of another user (it cannot be signalled
    from here), TunebookError if it is still running after `timeout` seconds.
    """
    runner = live_runner(path)
    if runner is None:
        return StopResult(None)
    where = f"process {runner.pid} on {runner.host}"
    if runner.host != socket.gethostname():
        raise BadInput(
            f"session '{Path(path)}' is being run by {where}, not on this host; "
            f"stop it there with 'tunebook stop {path}'"
        )
    started = time.monotonic()
    try:
        os.kill(runner.pid, signal.SIGTERM)
    except ProcessLookupError:  # it ended between the look and the signal
        return StopResult(runner, time.monotonic() - started)
    except PermissionError as exc:
        raise BadInput(
            f"session '{Path(path)}' is being run by {where} under another user; "
            "only that user can stop it"
        ) from exc
    while process_exists(runner.pid):
        if time.monotonic() - started > timeout:
            raise TunebookError(
                f"the runner ({where}) did not stop within {timeout:.0f} s; it is still "
                f"checkpointing or stuck; 'kill -9 {runner.pid}' loses at most the steps "
                "since each running trial's last checkpoint"
            )
        time.sleep(0.1)
    return StopResult(runner, time.monotonic() - started)


CHILD_WAIT = 120.0  # seconds a writing child may take (it imports torch to check values)


def record_decision(path: str | os.PathLike[str], arguments: list[str]) -> str:
    """Record a project-start decision by running `tunebook decide PATH ARGUMENTS…` in a
    child process: the app itself never writes the session. Returns what it printed; raises
    BadInput (exit 2) or TunebookError with the child's one-sentence error."""
    return _run_child(["decide", os.fspath(path), *arguments], "recording the decision")


def create_exploitation(
    path: str | os.PathLike[str], experiment: str, trials: int | None = None
) -> str:
    """Store the Bayesian study over experiment `experiment`'s refined space (PB-18) by
    running `tunebook exploit PATH EXPERIMENT [--trials N]` in a child process, as
    `record_decision` does; returns what it printed."""
    arguments = ["exploit", os.fspath(path), experiment]
    if trials is not None:
        arguments += ["--trials", str(trials)]
    return _run_child(arguments, "creating the exploitation study")


def create_promotion(
    path: str | os.PathLike[str],
    experiment: str,
    factor: float | None = None,
    steps: int | None = None,
    top: int | None = None,
) -> str:
    """Store the longer round of experiment `experiment` (PB-20) by running
    `tunebook promote PATH EXPERIMENT [--factor F | --steps N] [--top K]` in a child
    process, as `record_decision` does; returns what it printed."""
    arguments = ["promote", os.fspath(path), experiment]
    if factor is not None:
        arguments += ["--factor", repr(float(factor))]
    if steps is not None:
        arguments += ["--steps", str(steps)]
    if top is not None:
        arguments += ["--top", str(top)]
    return _run_child(arguments, "creating the longer round")


def add_experiment_spec(path: str | os.PathLike[str], spec_path: str | os.PathLike[str]) -> str:
    """Add the experiment of a TOML spec by running `tunebook experiment add PATH SPEC` in a
    child process, as `record_decision` does (the app's designer saves through the CLI's
    own code path); returns what it printed: the studies, the advice, the estimate."""
    arguments = ["experiment", "add", os.fspath(path), os.fspath(spec_path)]
    return _run_child(arguments, "adding the experiment")


def add_note(
    path: str | os.PathLike[str],
    text: str,
    experiment: str | None = None,
    trial: int | None = None,
) -> str:
    """Attach a note to the session, experiment `experiment` or trial `trial` (PB-24) by
    running `tunebook note PATH TEXT [--experiment NAME | --trial N]` in a child process,
    as `record_decision` does; returns what it printed (``note 3 on trial 12``)."""
    arguments = ["note"]
    if experiment is not None:
        arguments.append(f"--experiment={experiment}")  # one token: a name may start with -
    if trial is not None:
        arguments.append(f"--trial={trial}")
    arguments += ["--", os.fspath(path), text]  # a note may start with - too
    return _run_child(arguments, "storing the note")


def _run_child(arguments: list[str], what: str) -> str:
    """Run `tunebook ARGUMENTS…` to completion; its output, or its one-sentence error as
    BadInput (exit 2) or TunebookError."""
    command = [sys.executable, "-m", "tunebook.tui.cli", *arguments]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CHILD_WAIT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise TunebookError(f"{what} took more than {CHILD_WAIT:.0f} s") from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        message = lines[-1].removeprefix("tunebook: ") if lines else f"exit {done.returncode}"
        raise (BadInput if done.returncode == 2 else TunebookError)(message)
    return done.stdout.strip()
