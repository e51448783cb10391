"""The warm worker server: a process that imported torch and the training loop once and
forks the workers of any tunebook command of this user that asks (`warm_client`), so that
`run`, a probe or the app's next round has its workers in milliseconds instead of after
the two seconds a fresh server spends importing (issue 13).

It speaks multiprocessing's forkserver protocol (the fds of a new process arrive over a
Unix socket, the child runs `spawn`'s main), plus the asking command's standard output and
error, which the child takes as its own. Unlike multiprocessing's server it does not end
with the process that started it: it ends once it has had no worker alive and no request
for its idle time, or once its socket was taken from it. It never opens a session file and
runs no thread, so what it forks holds no lock of anyone's.

Started by `warm_client.start`, detached in its own process session, as
``python -c 'from tunebook.core.execution.warm_server import main; main()' SETTINGS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import time
from multiprocessing import forkserver, reduction, util
from pathlib import Path

#: fds a request carries before the new process's own: its status and data pipes, the
#: "alive" fd and resource tracker fd of multiprocessing's protocol, then stdout and stderr.
HEAD_FDS = 6
#: Seconds between checks that the socket is still this server's, and of its idle time.
CHECK_EVERY = 5.0


def main() -> None:
    """Entry point: settings as JSON in argv[1] (`socket`, `idle`, `lock_fd`, `sys_path`)."""
    settings = json.loads(sys.argv[1])
    sys.path[:] = settings["sys_path"]
    os.chdir("/")
    from tunebook.core.execution.worker import exit_now, warm_up

    warm_up()
    serve(Path(settings["socket"]), float(settings["idle"]), int(settings["lock_fd"]))
    exit_now()  # nothing left to save: skip the half second of teardown with torch loaded


def serve(address: Path, idle: float, lock_fd: int) -> None:
    """Listen on `address` (published only now that the imports are done) and fork a process
    for each request until `idle` seconds passed with no request and no child alive."""
    util._close_stdin()
    temporary = address.with_name(f"{address.name}.{os.getpid()}")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(temporary))
    os.chmod(temporary, 0o600)
    listener.listen(64)
    os.replace(temporary, address)
    identity = os.stat(address).st_ino
    sig_r, sig_w = os.pipe()
    os.set_blocking(sig_r, False)
    os.set_blocking(sig_w, False)
    handlers = {signal.SIGCHLD: lambda *_: None, signal.SIGINT: signal.SIG_IGN}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    signal.set_wakeup_fd(sig_w)
    children: dict[int, int] = {}  # child pid -> the fd its exit code goes to
    busy_at = time.monotonic()  # the last request, or the last child's exit
    with listener, selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ)
        selector.register(sig_r, selectors.EVENT_READ)
        while True:
            owned = _still_ours(address, identity)
            if not children and (not owned or time.monotonic() - busy_at > idle):
                break
            left = idle - (time.monotonic() - busy_at)
            timeout = CHECK_EVERY if children else min(CHECK_EVERY, max(0.1, left))
            ready = [key.fileobj for key, _ in selector.select(timeout)]
            if sig_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(sig_r, 65536)
                _report_exits(children)
                if not children:  # the last one exited: the idle time starts now
                    busy_at = time.monotonic()
            if listener in ready:
                busy_at = time.monotonic()
                unused = [sig_r, sig_w, lock_fd, *children.values()]
                _fork_request(listener, children, unused, previous)
    if _still_ours(address, identity):
        address.unlink()


def _still_ours(address: Path, identity: int) -> bool:
    """True while `address` is the socket this server published (not removed or replaced)."""
    try:
        return os.stat(address).st_ino == identity
    except OSError:
        return False


def _report_exits(children: dict[int, int]) -> None:
    """Reap exited children and send each one's exit code to the process that asked for it."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status_w = children.pop(pid, None)
        if status_w is not None:
            with contextlib.suppress(BrokenPipeError):
                forkserver.write_signed(status_w, os.waitstatus_to_exitcode(status))
            os.close(status_w)


def _fork_request(
    listener: socket.socket,
    children: dict[int, int],
    unused: list[int],
    handlers: dict[int, object],
) -> None:
    """Take one request's fds and fork its process; a connection without them (a client
    checking that the server answers) is only closed."""
    with listener.accept()[0] as connection:
        try:
            fds = reduction.recvfds(connection, forkserver.MAXFDS_TO_SEND + HEAD_FDS)
        except (EOFError, OSError, RuntimeError):
            return
    if len(fds) < HEAD_FDS:
        for fd in fds:
            os.close(fd)
        return
    child_r, status_w, alive, tracker, stdout, stderr, *inherited = fds
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.dup2(stdout, 1)
            os.dup2(stderr, 2)
            closing = [listener.fileno(), status_w, stdout, stderr, *unused]
            code = forkserver._serve_one(child_r, [alive, tracker, *inherited], closing, handlers)
        except Exception:
            sys.excepthook(*sys.exc_info())
            sys.stderr.flush()
        finally:
            os._exit(code)
    with contextlib.suppress(BrokenPipeError):
        forkserver.write_signed(status_w, pid)
    children[pid] = status_w
    for fd in (child_r, alive, tracker, stdout, stderr, *inherited):
        os.close(fd)
