"""The worker process: takes trial tasks (or probe units), runs them, streams the numbers back.

Workers fork from a server process (`pool.worker_context`) that imported torch and the
training loop once and never opened a session file (no inherited locks or SQLite handles);
they take the runner's folder, import path and environment (`RunnerSide`), and never open
the session file either: the runner writes everything. A worker divides the machine's
cores with its siblings (`threads`) and may run under an address-space cap
(`memory_limit_mb`) so a runaway trial fails with out-of-memory instead of taking the
machine down.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import resource
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, NoReturn

from tunebook.core.execution.devices import device_named
from tunebook.core.execution.reporting import BatchReporter
from tunebook.core.execution.trial_task import TrialTask, UnitTask, run_trial_task


def address_space_bytes() -> int:
    """This process's current virtual size (Linux), 0 where /proc is not available."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:
        return 0


def limit_memory(memory_limit_mb: int | None) -> None:
    """Let trials allocate at most `memory_limit_mb` beyond what the worker already maps
    (PyTorch alone maps a lot of address space); None leaves it unlimited."""
    if memory_limit_mb is None:
        return
    limit = address_space_bytes() + memory_limit_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


@dataclass(frozen=True)
class RunnerSide:
    """What a worker needs of the runner that asked for it. Multiprocessing gives a forked
    worker the runner's folder and import path, but not its environment: the server's is
    that of the command that started it (the runner, or for the warm server any earlier
    command of the same setup)."""

    pid: int
    environ: dict[str, str]

    @classmethod
    def here(cls) -> RunnerSide:
        """This process's side, to hand to a worker."""
        return cls(os.getpid(), dict(os.environ))

    def adopt(self) -> None:
        """Give this worker process the runner's environment."""
        os.environ.clear()
        os.environ.update(self.environ)

    def alive(self) -> bool:
        """True while the runner's process exists (a pid of another user is not ours)."""
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True


class StopOrRunnerGone:
    """The pool's stop event, also set once the runner is gone: its end of the pipe that
    started this worker closed (`multiprocessing.parent_process`, whichever server forked
    the worker), so a worker whose runner was SIGKILLed stops instead of training for
    nobody. The pipe is looked at most every `CHECK_EVERY` seconds: `is_set` runs each step.
    """

    CHECK_EVERY = 0.2

    def __init__(self, stop: Any) -> None:
        self.stop = stop
        self.runner = multiprocessing.parent_process()
        self._checked_at = -self.CHECK_EVERY
        self._gone = False

    def runner_gone(self) -> bool:
        """True once the runner's process has ended."""
        if not self._gone and time.monotonic() - self._checked_at >= self.CHECK_EVERY:
            self._checked_at = time.monotonic()
            self._gone = self.runner is not None and not self.runner.is_alive()
        return self._gone

    def is_set(self) -> bool:
        """True when the runner asked trials to stop, or is gone."""
        return self.stop.is_set() or self.runner_gone()


def warm_up() -> None:
    """Import what every trial needs before the first task arrives (the worker server does,
    once for all its workers; a Ray worker does while the runner draws the first points):
    the training loop, and torch._dynamo, which torch imports when a process builds its
    first optimizer (about a second), so the first trial's time is its own."""
    import torch._dynamo  # noqa: F401

    import tunebook.core.execution.trial_config  # noqa: F401


def exit_now() -> NoReturn:
    """End the worker at once: every message went through the pipe already, and it has no
    file of its own, so the interpreter's teardown (half a second with torch loaded, paid
    at the end of every run) has nothing to save."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def worker_main(
    tasks: Any,
    results: Any,
    stop: Any,
    threads: int,
    memory_limit_mb: int | None,
    runner: RunnerSide,
    slot: int,
) -> None:
    """Run tasks from `tasks` until a None arrives or the runner is gone; every message goes
    to `results`, this worker's own pipe to the runner: ("started", id, where: its pid and
    a trial's device) when it takes a task, then ("calls", …) batches and one ("outcome",
    …). Ctrl-C is the runner's to handle: it asks trials to stop via `stop`. The worker
    ends once the runner is gone (`StopOrRunnerGone`).
    `slot`, the worker's place in the pool, picks its GPU where there are several."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch = StopOrRunnerGone(stop)
    if not runner.alive() or watch.runner_gone():  # killed before the worker started
        exit_now()
    runner.adopt()
    import torch  # here, not at module level: the runner imports this module for the target

    torch.set_num_threads(threads)
    warm_up()
    limit_memory(memory_limit_mb)
    try:
        while not watch.runner_gone():
            try:
                task: TrialTask | UnitTask | None = tasks.get(timeout=1.0)
            except queue.Empty:
                continue
            if task is None:
                exit_now()
            if isinstance(task, UnitTask):
                results.send(("started", task.task_id, None))
                results.send(("outcome", task.key, task.run(watch)))
                continue
            where = f"pid {os.getpid()}, {device_named(task.device, slot)}"
            results.send(("started", task.trial_id, where))
            reporter = BatchReporter(task.trial_id, results, watch)
            outcome = run_trial_task(task, reporter, slot)
            reporter.send()
            results.send(("outcome", task.trial_id, outcome))
    except (BrokenPipeError, ConnectionResetError):
        return  # the runner is gone or gave up on this worker: nobody reads our results
