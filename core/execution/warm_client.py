"""Finding, starting and using the warm worker server (`warm_server`) of this user and
environment: `new`, `experiment add` and the app (on opening a session it may write) start
one without waiting, so that it imports torch while they check the workload or the user
looks around; a runner's worker pool waits for it and forks its workers there
(`WarmProcess`), falling back to a server of its own where it cannot have one.

One server serves every command with the same interpreter, import path, tunebook and torch
files, the environment variables torch and Python read at import (`IMPORT_ENV_PREFIXES`),
CPU affinity, cgroup, limits and priority: a worker forked from it is then what the
command's own server would have forked. Each worker takes its runner's folder, import path
and whole environment (`worker.RunnerSide`). `TUNEBOOK_WARM_SECONDS` sets how long a server
waits unused before it exits (default 900; 0 turns it off); it lives in a folder only this
user can enter (`TUNEBOOK_WARM_DIR`, else `$XDG_RUNTIME_DIR/tunebook`, else
`/tmp/tunebook-UID`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import (
    connection,
    context,
    forkserver,
    popen_forkserver,
    reduction,
    resource_tracker,
    spawn,
    util,
)
from pathlib import Path

from tunebook.sessions import BadInput

IDLE_ENV = "TUNEBOOK_WARM_SECONDS"
FOLDER_ENV = "TUNEBOOK_WARM_DIR"
DEFAULT_IDLE = 900.0
#: Seconds a pool waits for a server that is starting (its imports take about two).
READY_WAIT = 60.0
#: Seconds a command's check waits for a server an earlier command started (`check_address`).
STARTING_WAIT = 10.0
#: Seconds a ready server gets to fork a process (it takes milliseconds) before the pool
#: gives up on it; a process it forks later sees its asker gone and exits.
FORK_WAIT = 30.0
#: Variables read when torch, numpy and Python start: a server started under other values
#: would give its workers another torch.
IMPORT_ENV_PREFIXES = (
    "PYTHON", "LD_", "TORCH", "PYTORCH", "CUDA", "NVIDIA", "OMP_", "MKL_", "KMP_", "GOMP",
    "OPENBLAS", "NUMEXPR", "HIP_", "ROCM", "HSA_", "NCCL", "VIRTUAL_ENV",
)  # fmt: skip
#: The Pythons whose forkserver `warm_server` speaks (its child side is theirs).
PYTHONS = ((3, 10), (3, 13))
#: The servers this process started and has not reaped: a `Popen` collected while its
#: process runs is reported as a leak, and the server may outlive its starter by design.
_started: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class WarmServer:
    """Where the server for this process's setup lives: `socket` answers once it is ready;
    `lock` is held (flock) by it for its whole life; `log` takes its output."""

    folder: Path
    key: str
    idle: float

    @property
    def socket(self) -> Path:
        return self.folder / f"{self.key}.sock"

    @property
    def lock(self) -> Path:
        return self.folder / f"{self.key}.lock"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.key}.log"


def idle_seconds() -> float:
    """`TUNEBOOK_WARM_SECONDS`, or the default; BadInput for anything but seconds ≥ 0."""
    text = os.environ.get(IDLE_ENV, "").strip()
    if not text:
        return DEFAULT_IDLE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise BadInput(f"{IDLE_ENV} must be a number of seconds (0 turns it off), got {text!r}")
    return value


def warm_server() -> WarmServer | None:
    """The server this process would use, or None where there is none to have: turned off,
    another Python, or no private folder (one another user can enter is refused)."""
    idle = idle_seconds()
    if idle == 0 or not PYTHONS[0] <= sys.version_info[:2] <= PYTHONS[1]:
        return None
    folder = _private_folder()
    if folder is None:
        return None
    server = WarmServer(folder, setup_key(), idle)
    return server if len(str(server.socket).encode()) < 100 else None  # sun_path's limit


def _private_folder() -> Path | None:
    """The server folder, created 0700; None unless it is this user's and closed to others."""
    base = os.environ.get(FOLDER_ENV)
    if base:
        folder = Path(base)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        folder = Path(os.environ["XDG_RUNTIME_DIR"]) / "tunebook"
    else:
        folder = Path(tempfile.gettempdir()) / f"tunebook-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    private = info.st_uid == os.getuid() and not info.st_mode & 0o077
    return folder if private and os.path.isdir(folder) and not folder.is_symlink() else None


def setup_key() -> str:
    """A digest of what a forked worker inherits from its server rather than its runner."""
    parts = {
        "python": [os.path.realpath(sys.executable), sys.prefix, sys.version, server_path()],
        "files": [_package_stamp(), _file_stamp("torch")],
        "env": sorted(kv for kv in os.environ.items() if kv[0].startswith(IMPORT_ENV_PREFIXES)),
        "process": [
            os.getuid(), os.getgid(), sorted(os.getgroups()),
            sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            os.getpriority(os.PRIO_PROCESS, 0), _read("/proc/self/cgroup"),
            [line for line in _read("/proc/self/status").splitlines()
             if line.startswith("Umask")],
            [_limit(name) for name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_NOFILE",
                                       "RLIMIT_STACK", "RLIMIT_MEMLOCK")],
        ],
    }  # fmt: skip
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]


def server_path() -> list[str]:
    """The server's import path: this process's without its first entry (the folder of the
    script or of `python -m`, which differs between `tunebook`, the app's runners and a
    user's scripts), unless tunebook itself is imported from there."""
    first = Path(sys.path[0] or os.getcwd())
    return sys.path if (first / "tunebook").is_dir() else sys.path[1:]


def _package_stamp() -> list[object]:
    """The path, size and modification time of each source file of the layers a worker
    runs (core, sessions): an edited or reinstalled tunebook gets a server of its own."""
    import tunebook.sessions

    stamp: list[object] = []
    for layer in (Path(__file__).resolve().parents[1], Path(tunebook.sessions.__file__).parent):
        for path in sorted(layer.rglob("*.py")):
            with contextlib.suppress(OSError):
                info = path.stat()
                stamp.append((str(path), info.st_size, info.st_mtime_ns))
    return stamp


def _file_stamp(package: str) -> list[object]:
    """Where `package` is installed and when its entry file changed, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return [package, None]
    version = Path(spec.origin).with_name("version.py")
    return [spec.origin, *(p.stat().st_mtime_ns for p in (Path(spec.origin), version)
                           if p.exists())]  # fmt: skip


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _limit(name: str) -> object:
    import resource

    return resource.getrlimit(getattr(resource, name)) if hasattr(resource, name) else None


def start(server: WarmServer) -> None:
    """Start the server unless one runs or is starting (its lock is held). Never waits for
    it; the server takes over the lock, so two starters cannot both start one."""
    _started[:] = [process for process in _started if process.poll() is None]  # reap
    lock_fd = os.open(server.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        with contextlib.suppress(FileNotFoundError):
            server.socket.unlink()  # a dead server's
        settings = {
            "socket": str(server.socket),
            "idle": server.idle,
            "lock_fd": lock_fd,
            "sys_path": server_path(),
        }
        command = "from tunebook.core.execution.warm_server import main; main()"
        with open(os.open(server.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log:
            _started.append(
                subprocess.Popen(
                    [spawn.get_executable(), "-c", command, json.dumps(settings)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd="/",
                    pass_fds=(lock_fd,),
                    start_new_session=True,
                )
            )
    finally:
        os.close(lock_fd)


def start_soon() -> None:
    """Start this setup's server if there is none, without waiting: for a command about to
    import torch itself, whose user is likely to run trials next. Fails the command only for
    a bad `TUNEBOOK_WARM_SECONDS` (BadInput)."""
    server = warm_server()
    with contextlib.suppress(OSError):
        if server is not None and not answers(server.socket):
            start(server)


def ready_address(wait: float = READY_WAIT) -> str | None:
    """The socket of this setup's server, started if need be and waited for (at most `wait`
    seconds); None where there is none, or it died or did not answer in time."""
    server = warm_server()
    if server is None:
        return None
    try:
        if answers(server.socket):
            return str(server.socket)
        start(server)
        return _answering(server, wait)
    except OSError:
        return None


def check_address(wait: float = STARTING_WAIT) -> str | None:
    """The socket of this setup's server for a command's own workload check (`warm_call`):
    the server's when it answers, or once a server an earlier command started does (waited
    for, at most `wait` seconds: its imports are under way, so waiting costs less than
    importing torch beside them). None where none runs, or this process started it."""
    server = warm_server()
    if server is None:
        return None
    try:
        if answers(server.socket):
            return str(server.socket)
        if _started or not _locked(server.lock):
            return None
        return _answering(server, wait)
    except OSError:
        return None


def _answering(server: WarmServer, wait: float) -> str | None:
    """The server's socket once it answers, within `wait` seconds; None when its starting
    process died first (its log says why) or it took longer."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if answers(server.socket):
            return str(server.socket)
        if not _locked(server.lock):
            return None
        time.sleep(0.02)
    return None


def answers(address: Path) -> bool:
    """True when a server listens at `address` (it takes an empty connection as a check)."""
    if not address.exists():
        return False
    with socket.socket(socket.AF_UNIX) as client:
        try:
            client.connect(str(address))
        except OSError:
            return False
    return True


def _locked(lock: Path) -> bool:
    """True while a server (starting or running) holds `lock`."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _connect(address: str, fds: list[int]) -> tuple[int, int]:
    """Ask the server at `address` for a new process: (status_r, data_w), as
    `forkserver.connect_to_new_process`, with this process's stdout and stderr as its own."""
    resource_tracker.ensure_running()
    if len(fds) + 6 >= forkserver.MAXFDS_TO_SEND:
        raise ValueError("too many fds")
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(address)
        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        tracker = resource_tracker.getfd()
        stdio = [fd if _is_open(fd) else tracker for fd in (1, 2)]
        try:
            reduction.sendfds(client, [child_r, child_w, tracker, tracker, *stdio, *fds])
            return parent_r, parent_w
        except BaseException:
            os.close(parent_r)
            os.close(parent_w)
            raise
        finally:
            os.close(child_r)
            os.close(child_w)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class WarmPopen(popen_forkserver.Popen):
    """A forkserver process launched by the warm server at `address` (set by the pool)."""

    address = ""

    def _launch(self, process_obj: object) -> None:
        # popen_forkserver.Popen._launch, with `_connect` for forkserver's own connection.
        prep_data = spawn.get_preparation_data(process_obj._name)  # type: ignore[attr-defined]
        buffer = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buffer)
            reduction.dump(process_obj, buffer)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, data_w = _connect(self.address, self._fds)
        parent_w = os.dup(data_w)  # the child's sentinel of this process (parent_process())
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(data_w, "wb", closefd=True) as data:
            data.write(buffer.getbuffer())
        if not connection.wait([self.sentinel], FORK_WAIT):  # a stopped or hung server
            raise OSError(f"the warm server at {self.address} did not fork in {FORK_WAIT:g} s")
        self.pid = forkserver.read_signed(self.sentinel)


class WarmProcess(context.ForkServerProcess):
    """A multiprocessing Process forked by the warm server."""

    @staticmethod
    def _Popen(process_obj: object) -> WarmPopen:
        return WarmPopen(process_obj)
