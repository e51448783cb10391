"""The runner's worker processes, forked from a server that imported torch once (the warm
server this user's commands share, else one of the runner's own), each with its own task
queue and result pipe.

A worker takes trial tasks (a study's trials) or unit tasks (one measurement of a project-start
probe) and streams what they report back to the runner, the session file's only writer. A
worker that dies, even half-way through a message, only closes its own pipe; the pool
notices, and replaces it.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from tunebook.core.execution import warm_client
from tunebook.core.execution.trial_task import TrialTask, UnitTask
from tunebook.core.execution.worker import RunnerSide, worker_main
from tunebook.sessions.errors import BadInput

DEATH_GRACE = 2.0  # seconds a dead worker's pipe gets to report its end (EOF) by itself
SERVER_MODULE = "tunebook.core.execution.worker_server"  # what the server imports first
SERVER_MARK = "TUNEBOOK_WORKER_SERVER"  # in the server's environment when this module starts it


def worker_context() -> Any:
    """The multiprocessing context of workers: each forks from one server process that
    imported what trials need (multiprocessing's forkserver, preloading `worker_server`), so
    a worker, a replacement after a crash included, is ready in milliseconds rather than
    after its own imports."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([SERVER_MODULE])
    return context


def check_main_script() -> None:
    """Refuse, in one sentence, a main script that workers cannot load: multiprocessing runs
    the file `__main__` came from again in each worker (so that what it defines exists
    there), and a script read from stdin (`python - < script.py`) has no such file, so every
    worker, and every trial with it, would fail."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return  # python -m: workers import the module by name
    path = getattr(main, "__file__", None)
    if path is None:
        return  # python -c or an interactive session: nothing to run again
    if not os.path.isfile(os.path.join(multiprocessing.process.ORIGINAL_DIR or "", path)):
        raise BadInput(
            f"worker processes run the script that started them again, and its file {path!r} "
            "does not exist: save the script to a file and run that file"
        )


def start_worker_server() -> None:
    """Start this process's worker server unless it runs already; it ends with this
    process. Started with SIGINT ignored (a terminal's Ctrl-C is the runner's to handle),
    which the workers it forks inherit."""
    worker_context()
    os.environ[SERVER_MARK] = "1"
    try:
        with _sigint_ignored():
            multiprocessing.forkserver.ensure_running()
    finally:
        del os.environ[SERVER_MARK]


class Worker:
    """One worker process, the queue of its tasks, and the runner thread that reads its own
    result pipe into the pool's inbox; `None` follows its last message once the pipe closes
    (the process exited or died, perhaps half-way through a message)."""

    def __init__(self, pool: WorkerPool, slot: int) -> None:
        self.tasks: Any = pool.context.Queue()
        self.tasks.cancel_join_thread()  # a task for a worker that died must not block exit
        results, sender = pool.context.Pipe(duplex=False)
        args = (
            self.tasks,
            sender,
            pool.stop,
            pool.threads,
            pool.memory_limit_mb,
            RunnerSide.here(),
            slot,
        )
        self.process: Any = None
        if pool.warm:
            try:
                self.process = _started(warm_client.WarmProcess(target=worker_main, args=args))
            except OSError:  # the warm server went away: the pool's own server from now on
                pool.warm = False
        if self.process is None:
            start_worker_server()
            self.process = _started(pool.context.Process(target=worker_main, args=args))
        sender.close()  # the worker holds the only write end: its death closes the pipe
        self.results = results
        self.task_id: Any = None  # the task it runs (a trial id, a probe unit's key)
        self.dead_since: float | None = None
        self.retired = False
        self.reader = threading.Thread(
            target=self._read, args=(pool.inbox,), name="tunebook-results", daemon=True
        )
        self.reader.start()

    def _read(self, inbox: queue.Queue[tuple[Worker, Any]]) -> None:
        try:
            while True:
                inbox.put((self, self.results.recv()))
        except (EOFError, OSError):  # closed, or cut off mid-message: either way, the end
            inbox.put((self, None))


class WorkerPool:
    """N worker processes, each with its own task queue and its own result pipe."""

    def __init__(self, size: int, memory_limit_mb: int | None) -> None:
        check_main_script()
        self.context = worker_context()
        address = warm_client.ready_address()
        warm_client.WarmPopen.address = address or ""
        self.warm = address is not None
        self.stop: Any = self.context.Event()
        self.threads = max(1, (os.cpu_count() or 1) // size)
        self.memory_limit_mb = memory_limit_mb
        self.inbox: queue.Queue[tuple[Worker, Any]] = queue.Queue()
        self.workers = [Worker(self, slot) for slot in range(size)]

    def idle(self) -> list[Worker]:
        """Workers with no task assigned."""
        return [w for w in self.workers if w.task_id is None]

    def busy(self) -> list[tuple[Worker, int]]:
        """(worker, task id) for each worker running a task."""
        return [(w, w.task_id) for w in self.workers if w.task_id is not None]

    def submit(self, worker: Worker, task: TrialTask | UnitTask) -> None:
        """Send a task to an idle worker."""
        worker.task_id = task.task_id
        worker.tasks.put(task)

    def messages(self, timeout: float) -> list[tuple[Worker, Any]]:
        """Wait up to `timeout` for one message, then take every other one already there;
        messages of workers already replaced are dropped."""
        out = take_waiting(self.inbox, timeout)
        return [(worker, message) for worker, message in out if not worker.retired]

    def dead_without_eof(self) -> list[Worker]:
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

    def kill(self, worker: Worker) -> int | None:
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
            self.workers[index] = Worker(self, index)
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


def _started(process: Any) -> Any:
    """`process`, started as a daemon process with SIGINT ignored (see `_sigint_ignored`)."""
    process.daemon = True
    with _sigint_ignored():
        process.start()
    return process


def take_waiting(inbox: queue.Queue[Any], timeout: float) -> list[Any]:
    """Wait up to `timeout` for one item of `inbox`, then take every other one there."""
    out = []
    try:
        out.append(inbox.get(timeout=timeout))
        while True:
            out.append(inbox.get_nowait())
    except queue.Empty:
        pass
    return out


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start children with SIGINT ignored (the worker server inherits it, and the workers it
    forks inherit it from the server): a terminal's Ctrl-C
    goes to the whole process group, and must not kill a worker still starting up (its trial
    would end `failed` instead of going back to pending). Only the main thread can do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
