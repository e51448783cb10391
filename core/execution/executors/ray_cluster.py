"""The Ray executor: each trial is a Ray task, on a local Ray instance or on a cluster.

The runner stays on this machine and stays the session file's only writer (PB-26): a trial's
task is a streaming generator that trains in a thread and yields the trial's messages
(batches of reporter calls, then its outcome), which the runner reads as they come. What a
trial needs travels with it: its task is plain data, its resume state goes through Ray's
object store (never a shared file system), a workload file (and the Python files beside it)
through the job's runtime environment; built-in workloads and installed packages load by
name (tunebook must be installed on every node).

Faults: a trial whose worker process dies ends `failed` (the trial may have caused it); one
whose node leaves the cluster goes back to pending and resumes from its last checkpoint
elsewhere. Each task polls the runner's stop board once a second and stops (saving its
resume state) when asked, or when the board is gone because the runner died.

A Ray connection tunebook made stays open for the life of the process (as the process
executor's worker server does), so a script's next run starts on workers that have torch
imported already; it is remade when a run asks for another address or another workload
file, and ends with `leave_ray` (what `tunebook run` does) or at the process's exit.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import queue
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from tunebook.core.execution.devices import device_named
from tunebook.core.execution.executors.base import (
    LAST_MESSAGES,
    Event,
    Executor,
    Lost,
    event_of,
)
from tunebook.core.execution.executors.ray_options import RayOptions
from tunebook.core.execution.executors.trial_thread import TrialThread
from tunebook.core.execution.trial_task import TrialTask, describe_error
from tunebook.core.execution.worker import warm_up
from tunebook.core.workload_source import is_file_target, split_ref
from tunebook.sessions import BadInput

CONNECT_TIMEOUT = 5.0  # seconds to reach a cluster's head before giving up
POLL_BOARD_EVERY = 1.0  # seconds between a task's looks at the stop board
BOARD_TIMEOUT = 10.0  # seconds a look may take before the runner counts as gone
NODES_EVERY = 5.0  # seconds between looks at the cluster's nodes (its room for trials)
#: Seconds between a task's yields of reporter calls: each yield is an object and a message
#: through Ray (about a millisecond of CPU on each side), so the trial's batches are merged.
YIELD_CALLS_EVERY = 0.5


def import_ray() -> Any:
    """The `ray` module, or one sentence saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise BadInput(
            "--executor ray needs Ray, which is not installed; install it with "
            "pip install 'tunebook[ray]'"
        ) from exc
    return ray


class StopBoard:
    """The runner's side of a graceful stop: tasks ask it whether to stop (a Ray actor on
    the runner's node, owned by the runner, so it dies with the runner)."""

    def __init__(self) -> None:
        self.stopping = False

    def stop(self) -> None:
        """Every running trial should save its resume state and stop."""
        self.stopping = True

    def should_stop(self) -> bool:
        """Whether trials should stop now."""
        return self.stopping


class BoardWatch:
    """A task's view of the stop board, refreshed by a thread once a second until `close`;
    set when the board says stop or cannot be reached (the runner is gone: nobody would
    read on)."""

    def __init__(self, board: Any) -> None:
        self.event = threading.Event()
        self.done = threading.Event()
        self.board = board
        threading.Thread(target=self._watch, name="tunebook-board", daemon=True).start()

    def _watch(self) -> None:
        import ray

        while not (self.done.is_set() or self.event.is_set()):
            try:
                if ray.get(self.board.should_stop.remote(), timeout=BOARD_TIMEOUT):
                    self.event.set()
            except Exception:  # the actor died with its runner, or is unreachable
                self.event.set()
            self.done.wait(POLL_BOARD_EVERY)

    def is_set(self) -> bool:
        """True once the trial should stop."""
        return self.event.is_set()

    def close(self) -> None:
        """Stop watching: the trial has ended (Ray reuses the worker for the next one)."""
        self.done.set()


def trial_on_ray(task: TrialTask, resume_state: bytes | None, board: Any) -> Iterator[Any]:
    """The Ray task of one trial: trains it in a thread and yields its messages, from
    ("started", id, (node id, where)) to ("outcome", …) or ("died", …). `resume_state`
    arrives through the object store (Ray resolves the reference before the call)."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    where = f"Ray node {node[:12]}, pid {os.getpid()}, {device_named(task.device)}"
    yield ("started", task.trial_id, (node, where))
    messages: queue.Queue[Any] = queue.Queue()
    watch = BoardWatch(board)
    try:
        # Parent: the node's raylet. A worker it leaves behind when it dies saves its state
        # and stops, and the trial resumes elsewhere.
        trial = replace(task, resume_state=resume_state)
        TrialThread(trial, messages, watch, parent=os.getppid()).start()
        yield from merged_calls(messages, task.trial_id, YIELD_CALLS_EVERY)
    finally:
        watch.close()


def merged_calls(messages: queue.Queue[Any], trial_id: int, every: float) -> Iterator[Any]:
    """The trial thread's messages in order until its last, its ("calls", …) batches merged
    into one at most every `every` seconds; any other message (an outcome, a death) goes
    at once, after the calls before it."""
    calls: list[Any] = []
    due = math.inf
    while True:
        try:
            message = messages.get(timeout=max(0.0, due - time.monotonic()) if calls else None)
        except queue.Empty:
            message = None
        if message is not None and message[0] == "calls":
            if not calls:
                due = time.monotonic() + every
            calls += message[2]
            if time.monotonic() < due:
                continue
        if calls:
            yield ("calls", trial_id, calls)
            calls = []
        if message is not None and message[0] != "calls":
            yield message
            if message[0] in LAST_MESSAGES:
                return


@contextlib.contextmanager
def runner_signals_kept() -> Iterator[None]:
    """Keep the runner's SIGINT and SIGTERM handlers (a graceful stop: trials checkpoint)
    across `ray.init`, which installs its own (exit at once) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in kept.items():
            signal.signal(signum, handler)


def check_address(address: str) -> None:
    """The cluster to join, refused in one sentence where this process is connected to Ray
    already (by the calling script) or nothing answers there; imports no Ray."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized() and _kept is None:
        raise BadInput(
            f"this process is connected to Ray already, so it cannot join {address} too; "
            "leave the address out to run there"
        )
    check_reachable(address)


def check_reachable(address: str) -> None:
    """One sentence, not Ray's long retry loop, when nothing answers at `HOST:PORT`."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep:
        return  # `auto`, a `ray://` client address and a bare host are Ray's to resolve
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except ValueError as exc:
        raise BadInput(f"--address {address!r} is not HOST:PORT") from exc
    except OSError as exc:
        raise BadInput(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start its head "
            f"with 'ray start --head', or check the address and port"
        ) from exc


#: What the Ray connection tunebook made and kept was made for: (the address, or None for
#: a local instance; the fingerprint of the workload files shipped); None when this process
#: has no such connection (none at all, or the calling script's own).
_kept: tuple[str | None, str] | None = None


def leave_ray() -> None:
    """End the Ray connection a run made and kept (a local instance shuts down); nothing
    when there is none, or when the connection is the calling script's."""
    global _kept
    if _kept is not None:
        _kept = None
        import ray

        ray.shutdown()


def files_fingerprint(folder: str | None) -> str:
    """A hash of the files in `folder` (names and bytes): the same for the same workload
    files, wherever they were staged; empty for no folder."""
    if folder is None:
        return ""
    digest = hashlib.sha256()
    for file in sorted(Path(folder).iterdir()):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def ship_workload(ref: str) -> tuple[str, dict[str, Any], str | None]:
    """How the workload reaches remote workers: (the reference they load, the runtime
    environment, a staging folder to delete once `ray.init` has uploaded it). A workload
    file goes with the Python files beside it (its sibling imports) as the job's working
    directory; a built-in or an installed module loads by name."""
    target, class_name = split_ref(ref)
    if not target or not is_file_target(target):
        return ref, {}, None
    source = Path(target)
    staging = tempfile.mkdtemp(prefix="tunebook-ray-")
    for sibling in source.parent.glob("*.py"):
        shutil.copy2(sibling, staging)
    return f"{source.name}:{class_name}", {"working_dir": staging}, staging


class RayExecutor(Executor):
    """Trials as Ray tasks: starts a local Ray instance, or joins the cluster at
    `options.address`, at construction. `workers`: at most this many trials at once
    (default: as many as the alive nodes' resources fit, looked at every few seconds)."""

    def __init__(self, options: RayOptions, workload: str, workers: int | None = None) -> None:
        self.ray = import_ray()
        if options.address is not None:
            check_address(options.address)
        self.options = options
        self.workers = workers
        self.threads = options.threads
        self.generators: dict[int, Any] = {}  # running trial id → its streaming generator
        self.nodes: dict[int, str] = {}  # started trial id → the id of the node it runs on
        self.room, self.nodes_at = 0, -math.inf
        self.dead_nodes: set[str] = set()  # ids of the nodes the cluster declared dead
        self.workload, runtime_env, staging = ship_workload(workload)
        self.connected, self.board = False, None
        try:
            self._connect(runtime_env, (options.address, files_fingerprint(staging)))
        except BaseException:
            self.close()
            raise
        finally:
            # `ray.init` uploaded it to the cluster (nodes that join later fetch it there),
            # so it goes now, not at the end: a runner killed mid-run leaves nothing in /tmp.
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def _connect(self, runtime_env: dict[str, Any], purpose: tuple[str | None, str]) -> None:
        """Start a local Ray instance or join the cluster (or reuse the connection an earlier
        run made for the same `purpose`: address and workload files), or use the connection
        the calling script made (`ray.init` before `api.run`: Ray uploads files only with a
        job, so a workload file must be in the folder the script gave as its
        `working_dir`); check that a trial fits."""
        global _kept
        ray = self.ray
        where = self.options.address or "a local Ray instance"
        if _kept is not None and (_kept != purpose or not ray.is_initialized()):
            leave_ray()  # made for another address or other files, or ended by the script
        if _kept == purpose:
            where = "the Ray instance an earlier run connected to"  # its workers are warm
        elif ray.is_initialized():
            where = "the Ray this process is connected to"
            if runtime_env and not ray.get_runtime_context().runtime_env.get("working_dir"):
                raise BadInput(
                    f"this process is connected to Ray already, without a working_dir, so "
                    f"the workload file {self.workload.split(':')[0]} cannot reach the "
                    "nodes; call ray.init(runtime_env={'working_dir': FOLDER}) with the "
                    "file's folder, or leave ray.init to tunebook"
                )
        else:
            self._init(runtime_env, where)
            _kept = purpose
        self.connected = True
        # On the runner's own node: it must not die with another node (every trial would
        # then stop at once, and again on every retry).
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.board = ray.remote(num_cpus=0)(StopBoard).options(scheduling_strategy=here).remote()
        self.remote_trial = ray.remote(trial_on_ray).options(
            num_returns="streaming",
            num_cpus=self.options.cpus_per_trial,
            num_gpus=self.options.gpus_per_trial,
            max_retries=0,
        )
        self._check_room(where)
        # As the process pool does: each slot's worker imports torch while the runner draws
        # the first points (Ray then reuses these workers for the trials).
        warm = ray.remote(warm_up).options(
            num_cpus=self.options.cpus_per_trial, num_gpus=self.options.gpus_per_trial
        )
        for _ in range(min(self.room, self.workers or self.room)):
            warm.remote()

    def _init(self, runtime_env: dict[str, Any], where: str) -> None:
        """Start a local Ray instance, or join the cluster at the address (kept until
        `leave_ray`, or a run that needs another)."""
        ray = self.ray
        with runner_signals_kept():
            try:
                ray.init(
                    address=self.options.address,
                    runtime_env=runtime_env or None,
                    include_dashboard=False,
                    logging_level=logging.ERROR,
                    configure_logging=True,
                )
            except ConnectionError as exc:
                hint = (
                    "; the cluster uses token authentication: set RAY_AUTH_MODE=token here "
                    "as on its nodes"
                    if "auth" in str(exc).lower()
                    else ""
                )
                first = (str(exc).strip().splitlines() or ["no answer"])[0][:200]
                raise BadInput(f"could not start or join {where}: {first}{hint}") from exc

    def _check_room(self, where: str) -> None:
        """How many trials the alive nodes fit; BadInput when not even one does."""
        alive = [n for n in self.ray.nodes() if n.get("Alive")]
        self.room = fit(alive, self.options)
        if self.room == 0:
            sizes = "; ".join(
                f"{n['Resources'].get('CPU', 0):g} CPUs and {n['Resources'].get('GPU', 0):g} GPUs"
                for n in alive
            )
            raise BadInput(
                f"no node of {where} has {self.options.cpus_per_trial:g} CPUs and "
                f"{self.options.gpus_per_trial:g} GPUs for a trial (its nodes: "
                f"{sizes or 'none'}); lower --cpus-per-trial or --gpus-per-trial"
            )

    # -- the contract -------------------------------------------------------------------------

    def free_slots(self) -> int:
        """Room for more trials: `workers`, or what the alive nodes fit, less those running."""
        self._look_at_nodes()
        limit = self.room if self.workers is None else self.workers
        return max(0, limit - len(self.generators))

    def submit(self, task: TrialTask) -> None:
        """Start the trial's task; its resume state goes into the object store."""
        resume = None if task.resume_state is None else self.ray.put(task.resume_state)
        task = replace(task, workload=self.workload, resume_state=None)
        self.generators[task.trial_id] = self.remote_trial.remote(task, resume, self.board)

    def events(self, timeout: float) -> list[Event]:
        """Every message the trials' generators have ready (waiting up to `timeout` for
        one); a failed generator, or a trial on a node the cluster declared dead, is `Lost`."""
        if self.generators:
            self.ray.wait(list(self.generators.values()), num_returns=1, timeout=timeout)
        else:
            time.sleep(timeout)
        out: list[Event] = []
        for trial_id, generator in list(self.generators.items()):
            try:
                while generator.next_ready():
                    message = self.ray.get(next(generator))
                    if message[0] == "started":
                        self.nodes[trial_id], where = message[2]
                        message = ("started", trial_id, where)
                    out.append(event_of(message))
                    if message[0] in LAST_MESSAGES:
                        self._forget(trial_id)
                        break
            except StopIteration:
                self._forget(trial_id)
            except self.ray.exceptions.RayError as exc:
                self._forget(trial_id)
                out.append(self._lost(trial_id, exc))
        return out + self._on_dead_nodes()

    def _look_at_nodes(self) -> None:
        """Every `NODES_EVERY` seconds: the room for trials, and which nodes died."""
        now = time.monotonic()
        if now - self.nodes_at < NODES_EVERY:
            return
        self.nodes_at = now
        nodes = self.ray.nodes()
        self.room = fit([n for n in nodes if n.get("Alive")], self.options)
        self.dead_nodes = {n["NodeID"] for n in nodes if not n.get("Alive")}

    def _on_dead_nodes(self) -> list[Event]:
        """Trials on nodes the cluster has declared dead: a node cut off (frozen, or its
        network gone) may never fail its tasks, so they are cancelled and requeued."""
        self._look_at_nodes()
        lost: list[Event] = []
        for trial_id, node in list(self.nodes.items()):
            if node in self.dead_nodes:
                self.cancel(trial_id)
                lost.append(Lost(trial_id, f"its Ray node {node[:12]} left the cluster", True))
        return lost

    def _forget(self, trial_id: int) -> None:
        self.generators.pop(trial_id, None)
        self.nodes.pop(trial_id, None)

    def _lost(self, trial_id: int, exc: Exception) -> Lost:
        """A trial whose task failed: requeued when its node died, else `failed` with what
        Ray said (a worker process that died: a crash, or the out-of-memory killer)."""
        if isinstance(exc, self.ray.exceptions.NodeDiedError):
            return Lost(trial_id, f"its Ray node left the cluster: {describe_error(exc)}", True)
        return Lost(trial_id, f"its Ray worker died: {describe_error(exc)}")

    def request_stop(self) -> None:
        """Every trial stops at its next step, saving its resume state."""
        self.board.stop.remote()

    def cancel(self, trial_id: int) -> None:
        """Kill the trial's task (its worker process) and forget it."""
        generator = self.generators.get(trial_id)
        self._forget(trial_id)
        if generator is not None:
            self.ray.cancel(generator, force=True)

    def close(self) -> None:
        """Cancel what still runs (the runner has given up on it) and end the stop board;
        the connection stays for the next run (see `leave_ray`)."""
        if self.connected:
            for trial_id in list(self.generators):
                self.cancel(trial_id)
        if self.board is not None:
            with contextlib.suppress(Exception):  # a cluster gone already took it along
                self.ray.kill(self.board)


def fit(nodes: list[dict[str, Any]], options: RayOptions) -> int:
    """How many trials these nodes' resources fit at once."""
    total = 0
    for node in nodes:
        have = node.get("Resources", {})
        fits = int(have.get("CPU", 0) // options.cpus_per_trial)
        if options.gpus_per_trial:
            fits = min(fits, int(have.get("GPU", 0) // options.gpus_per_trial))
        total += fits
    return total
