"""`tunebook run`: the runner from the command line, with a progress bar or detached.

`--detach` starts the same command in a new process session (it survives the terminal or
SSH connection closing) that logs to `PATH.log`; `tunebook status PATH` shows it running.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

from tunebook.core.execution.devices import AUTO, DEVICE_HELP, requested_device
from tunebook.core.execution.executors import EXECUTORS, RayOptions
from tunebook.sessions import BadInput, Session, TrialStatus
from tunebook.sessions.report import failure_groups
from tunebook.sessions.text import plural, safe_text

if TYPE_CHECKING:
    from tunebook.core.execution.control import RunRequest
    from tunebook.core.execution.runner import RunResult

STOP_WAIT = 120.0  # seconds to wait for a runner to exit after `tunebook stop`


def add_target_options(parser: argparse.ArgumentParser, default_workers: str) -> None:
    """Where trials train: workers, executor, device and Ray's options, for `tunebook run`
    and for the runs the app starts (`tunebook PATH --executor ray --address …`)."""
    parser.add_argument(
        "--workers",
        "-j",
        type=int,
        help=f"trials at once: worker processes (default {default_workers}); with --executor "
        "ray at most this many (default: as many as the cluster fits)",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="process",
        help="process: trials in worker processes (default); inline: in this process; "
        "ray: Ray tasks on a local Ray instance or a cluster (pip install 'tunebook[ray]')",
    )
    parser.add_argument(
        "--device",
        default=AUTO,
        help=f"where trials train: {DEVICE_HELP}; the workers spread over the GPUs",
    )
    ray = parser.add_argument_group("Ray (with --executor ray)")
    ray.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="join the Ray cluster whose head is here (see 'ray start --head'); "
        "default: start a local Ray instance for each run",
    )
    ray.add_argument(
        "--cpus-per-trial",
        type=float,
        metavar="N",
        help="CPUs Ray reserves for each trial, and its torch threads (default 1)",
    )
    ray.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="F",
        help="GPUs for each trial; a fraction below 1 shares a GPU (default 0)",
    )


def register(commands: argparse._SubParsersAction) -> None:
    """Add `run` to the parser."""
    run = commands.add_parser("run", help="run the pending trials of a session's experiments")
    run.add_argument("path", help="the session file")
    run.add_argument("--experiment", "-e", help="run only this experiment (default: all)")
    add_target_options(run, default_workers="1")
    run.add_argument("--retry-failed", action="store_true", help="re-run failed trials first")
    run.add_argument(
        "--rerun",
        type=int,
        action="append",
        default=[],
        metavar="TRIAL",
        help="reset this trial to pending first, so it trains again from scratch with the "
        "same hyperparameters and seeds (repeatable)",
    )
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
    stop = commands.add_parser(
        "stop", help="stop a session's runner gracefully (running trials checkpoint)"
    )
    stop.add_argument("path", help="the session file")
    stop.add_argument(
        "--timeout",
        type=float,
        default=STOP_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for the runner to exit (default {STOP_WAIT:.0f})",
    )
    stop.set_defaults(handler=cmd_stop)


def cmd_run(args: argparse.Namespace) -> int:
    """Run in the foreground with a progress bar, or start a detached runner."""
    ray = ray_options(args)
    requested_device(args.device)
    if args.detach:
        return detach(args)
    from tunebook.core.execution.runner import STALL_TIMEOUT, Runner
    from tunebook.tui.cli.engine_commands import print_notice

    runner_args = dict(
        experiment=args.experiment,
        workers=args.workers,
        executor=args.executor,
        ray=ray,
        device=args.device,
        retry_failed=args.retry_failed,
        rerun=args.rerun,
        memory_limit_mb=args.memory_limit,
        detached=args.detached_child,
        notice=print_notice,
        stall_timeout=STALL_TIMEOUT if args.stall_timeout is None else args.stall_timeout,
    )
    before = trial_marks(args.path)
    try:
        if args.detached_child:
            result = Runner(args.path, **runner_args).run()
        else:
            result = run_with_progress(args.path, runner_args)
        return report_run(args.path, result, before)
    finally:
        if args.executor == "ray":  # the command ends: so does the Ray connection it made
            from tunebook.core.execution.executors.ray_cluster import leave_ray

            leave_ray()


def target_request(args: argparse.Namespace) -> RunRequest:
    """Where the trials of a detached run train (the `add_target_options` given), checked:
    one sentence for a device spelled wrong or a Ray option without `--executor ray`."""
    from tunebook.core.execution.control import RunRequest

    ray_options(args)
    requested_device(args.device)
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {args.workers}")
    return RunRequest(
        workers=args.workers,
        executor=args.executor,
        address=args.address,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        device=args.device,
    )


class _RefusingParser(argparse.ArgumentParser):
    """argparse whose errors are BadInput (one sentence), for options given inside the app."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(message)


def request_from_options(options: list[str]) -> RunRequest:
    """The run request that `tunebook run`'s target options `options` ask for (the app's
    run-options dialog), checked exactly as the command line checks them."""
    parser = _RefusingParser(prog="tunebook", add_help=False)
    add_target_options(parser, default_workers="half the cores")
    return target_request(parser.parse_args(options))


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The Ray options given, checked; one sentence when they come without `--executor ray`,
    or with an option Ray does not take."""
    given = {
        "--address": args.address,
        "--cpus-per-trial": args.cpus_per_trial,
        "--gpus-per-trial": args.gpus_per_trial,
    }
    if args.executor != "ray":
        for option, value in given.items():
            if value is not None:
                raise BadInput(f"{option} is for --executor ray, not --executor {args.executor}")
        return None
    if getattr(args, "memory_limit", None) is not None:
        raise BadInput(
            "--memory-limit is for --executor process; under Ray, its own memory monitor "
            "stops a trial that exhausts a node"
        )
    return RayOptions(
        address=args.address,
        cpus_per_trial=1.0 if args.cpus_per_trial is None else args.cpus_per_trial,
        gpus_per_trial=0.0 if args.gpus_per_trial is None else args.gpus_per_trial,
    )


def trial_marks(path: str) -> dict[int, tuple[int, float | None]]:
    """Each trial's (attempts, finished_at): a trial whose mark changed ran in between."""
    with Session.open(path, read_only=True) as session:
        return {t.id: (t.attempts, t.finished_at) for t in session.trials()}


def report_run(path: str, result: RunResult, before: dict[int, tuple[int, float | None]]) -> int:
    """Print what this run did (its own finished trials and their errors, grouped), then the
    totals of the experiments it covered; 1 when every trial this run finished failed."""
    with Session.open(path, read_only=True) as session:
        this_run = [
            t
            for t in session.trials()
            if t.status.is_finished() and before.get(t.id) != (t.attempts, t.finished_at)
        ]
    counts = Counter(t.status for t in this_run)
    print(
        f"this run finished {plural(len(this_run), 'trial')}: "
        f"{counts[TrialStatus.COMPLETED]} completed, {counts[TrialStatus.INFEASIBLE]} "
        f"infeasible, {counts[TrialStatus.FAILED]} failed"
    )
    for group in failure_groups(this_run):
        print(group.line())
    p = result.progress
    print(
        f"the experiments run have {p.finished}/{p.budget} trials finished: {p.completed} "
        f"completed, {p.infeasible} infeasible, {p.failed} failed"
    )
    shown = safe_text(path)
    if result.stopped:
        print(f"stopped; the unfinished trials resume with 'tunebook run {shown}'")
    elif p.failed:
        print(f"re-run the failed trials with 'tunebook run {shown} --retry-failed'")
    if result.stop_signal:  # the shell's convention: 130 after Ctrl-C, 143 after SIGTERM
        return 128 + result.stop_signal
    if this_run and counts[TrialStatus.FAILED] == len(this_run):
        sys.stderr.write(
            f"tunebook: every trial this run finished failed ({len(this_run)}); "
            "see the errors above\n"
        )
        return 1  # a failure while running (the CLI's exit-code contract)
    return 0


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
    from tunebook.core.execution.control import start_runner
    from tunebook.tui.cli.engine_commands import print_notice

    request = replace(
        target_request(args),
        experiment=args.experiment,
        retry_failed=args.retry_failed,
        rerun=tuple(args.rerun),
        memory_limit_mb=args.memory_limit,
        stall_timeout=args.stall_timeout,
    )
    started = start_runner(args.path, request, notice=print_notice)
    print(
        f"runner started in the background: pid {started.pid}, log {started.log_path}; "
        f"follow it with 'tunebook status {args.path}'"
    )
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the session's runner (detached or in another terminal) and wait for it to exit."""
    from tunebook.core.execution.control import stop_runner

    result = stop_runner(args.path, timeout=args.timeout)
    shown = safe_text(args.path)
    if result.runner is None:
        print(f"no runner is running on {shown}; nothing to stop")
    else:
        print(
            f"stopped the runner (pid {result.runner.pid}) in {result.seconds:.1f} s; "
            f"its unfinished trials resume with 'tunebook run {shown}'"
        )
    return 0
