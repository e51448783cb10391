"""`tunebook run`: the runner from the command line, with a progress bar or detached.

`--detach` starts the same command in a new process session (it survives the terminal or
SSH connection closing) that logs to `PATH.log`; `tunebook status PATH` shows it running.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tunebook.sessions import BadInput, Session, TunebookError

if TYPE_CHECKING:
    from tunebook.core.execution.runner import RunResult
from tunebook.sessions.report import RUNNER_STALE_AFTER

DETACH_WAIT = 30.0  # seconds to wait for a detached runner to register itself


def register(commands: argparse._SubParsersAction) -> None:
    """Add `run` to the parser."""
    run = commands.add_parser("run", help="run the pending trials of a session's experiments")
    run.add_argument("path", help="the session file")
    run.add_argument("--experiment", "-e", help="run only this experiment (default: all)")
    run.add_argument("--workers", "-j", type=int, default=1, help="worker processes (default 1)")
    run.add_argument(
        "--executor",
        choices=("inline", "process"),
        default="process",
        help="process: trials in worker processes (default); inline: in this process",
    )
    run.add_argument("--retry-failed", action="store_true", help="re-run failed trials first")
    run.add_argument(
        "--memory-limit",
        type=int,
        metavar="MB",
        help="per worker: the most memory a trial may allocate; beyond it the trial fails "
        "with out-of-memory instead of exhausting the machine",
    )
    run.add_argument(
        "--stall-timeout",
        type=float,
        metavar="SECONDS",
        help="fail a trial that reports no progress for this long and kill its worker "
        "(default 600)",
    )
    run.add_argument(
        "--detach",
        action="store_true",
        help="keep running in the background after this terminal closes (log: PATH.log)",
    )
    run.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run in the foreground with a progress bar, or start a detached runner."""
    if args.detach:
        return detach(args)
    from tunebook.core.execution.runner import STALL_TIMEOUT, Runner

    runner_args = dict(
        experiment=args.experiment,
        workers=args.workers,
        executor=args.executor,
        retry_failed=args.retry_failed,
        memory_limit_mb=args.memory_limit,
        detached=args.detached_child,
        stall_timeout=STALL_TIMEOUT if args.stall_timeout is None else args.stall_timeout,
    )
    if args.detached_child:
        result = Runner(args.path, **runner_args).run()
    else:
        result = run_with_progress(args.path, runner_args)
    p = result.progress
    print(
        f"{p.finished}/{p.budget} trials finished: {p.completed} completed, "
        f"{p.infeasible} infeasible, {p.failed} failed"
    )
    if result.stopped:
        print(f"stopped; the unfinished trials resume with 'tunebook run {args.path}'")
    elif p.failed:
        print(f"re-run the failed trials with 'tunebook run {args.path} --retry-failed'")
    # The shell's convention for a stop by a signal: 130 after Ctrl-C, 143 after SIGTERM.
    return 128 + result.stop_signal if result.stop_signal else 0


def run_with_progress(path: str, runner_args: dict) -> RunResult:
    """A rich progress bar with ETA and live counts while the runner works; it appears with
    the first trial, so a refused run prints its one-sentence error and nothing else."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from tunebook.core.execution.runner import Runner, RunProgress

    columns = (
        TextColumn("trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    bar = Progress(*columns, transient=False)
    task = bar.add_task("trials", total=None, counts="")

    def show(p: RunProgress) -> None:
        if not bar.live.is_started:
            bar.start()
        counts = (
            f"[green]{p.completed} ok[/] [yellow]{p.infeasible} infeasible[/] "
            f"[red]{p.failed} failed[/] {p.running} running"
        )
        bar.update(task, total=p.budget, completed=p.finished, counts=counts)

    try:
        return Runner(path, progress=show, **runner_args).run()
    finally:
        if bar.live.is_started:
            bar.stop()


def detach(args: argparse.Namespace) -> int:
    """Start `tunebook run` in its own process session and wait until it registers."""
    with Session.open(args.path) as session:
        runner = session.runner()
        if runner is not None and runner.is_alive(RUNNER_STALE_AFTER):
            raise BadInput(
                f"session '{args.path}' is already being run by process {runner.pid} on "
                f"{runner.host}"
            )
    log_path = Path(f"{args.path}.log")
    command = [sys.executable, "-m", "tunebook.tui.cli", "run", args.path, "--detached-child"]
    command += ["--workers", str(args.workers), "--executor", args.executor]
    if args.experiment:
        command += ["--experiment", args.experiment]
    if args.retry_failed:
        command.append("--retry-failed")
    if args.memory_limit:
        command += ["--memory-limit", str(args.memory_limit)]
    if args.stall_timeout is not None:
        command += ["--stall-timeout", repr(args.stall_timeout)]
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + DETACH_WAIT
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None and code != 0:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
            raise (BadInput if code == 2 else TunebookError)(
                tail[0].removeprefix("tunebook: ") if tail else f"runner exited with {code}"
            )
        with Session.open(args.path, read_only=True) as session:
            runner = session.runner()
        if (runner is not None and runner.pid == child.pid) or code == 0:
            print(
                f"runner started in the background: pid {child.pid}, log {log_path}; "
                f"follow it with 'tunebook status {args.path}'"
            )
            return 0
        time.sleep(0.1)
    raise TunebookError(
        f"the detached runner did not start within {DETACH_WAIT:.0f} s; see {log_path}"
    )
