"""A command's workload check, run where torch is imported already: in a process the warm
worker server forks (`warm_client`), so that `experiment add` (and `new` when a server is
up) does not spend a second and more importing torch for a check that takes milliseconds.

`call_warm(fn, *args)` returns ``fn(*args)`` computed there, or raises the `TunebookError`
it raised (the same class and sentence). `fn` runs in this process instead, as it would
without a server, where that saves nothing or could not work: torch is imported here
already; Python's standard output or error is redirected (the app's: the forked process
writes to this process's file descriptors, bypassing it); the main script cannot be run
again (read from stdin); no server answers, nor one an earlier command started within
seconds (`warm_client.check_address`); or the forked process cannot be had, dies, or its
result cannot travel back. The answer is the same either way, only its time differs. The
forked process takes this command's folder, import path and environment, and writes to
its standard output and error.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from tunebook.core.execution import warm_client
from tunebook.core.execution.pool import check_main_script
from tunebook.core.execution.worker import RunnerSide, exit_now
from tunebook.sessions import BadInput, TunebookError

T = TypeVar("T")


def call_warm(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, computed in a process forked by this setup's ready warm server, or
    here where there is none (see the module's docstring). `fn` and `args` must pickle."""
    address = None if _stays_here() else warm_client.check_address()
    if address is None:
        return fn(*args)
    sys.stdout.flush()  # what this command printed comes before what the check prints
    sys.stderr.flush()
    receive, send = multiprocessing.Pipe(duplex=False)
    warm_client.WarmPopen.address = address
    process = warm_client.WarmProcess(target=_answer, args=(send, RunnerSide.here(), fn, args))
    try:
        process.start()
    except Exception:  # the server went away or did not fork in time, or `args` do not pickle
        return fn(*args)
    finally:
        send.close()
    try:
        answer = receive.recv()
    except (EOFError, OSError):  # the process died before it answered
        answer = None
    finally:
        receive.close()
        with contextlib.suppress(OSError, ValueError):
            process.join(5)
    if answer is None:
        return fn(*args)
    kind, value = answer
    if kind == "error":
        cls, message, attributes = value
        error = cls.__new__(cls)
        Exception.__init__(error, message)
        error.__dict__.update(attributes)
        raise error
    return value


def _stays_here() -> bool:
    """Whether the check runs in this process whatever the server (the module's docstring)."""
    if "torch" in sys.modules:
        return True
    if sys.stdout is not sys.__stdout__ or sys.stderr is not sys.__stderr__:
        return True
    try:
        check_main_script()
    except BadInput:
        return True
    return False


def _answer(send: Any, side: RunnerSide, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """The forked process: compute ``fn(*args)`` and send ("value", it) or ("error", (class,
    sentence, attributes)) for a `TunebookError`; None for anything else (a bug, an
    unpicklable value), which the caller then computes itself, traceback and all."""
    side.adopt()
    answer: Any
    try:
        answer = ("value", fn(*args))
    except TunebookError as exc:
        answer = ("error", (type(exc), str(exc), dict(exc.__dict__)))
    except BaseException:
        answer = None
    try:
        send.send(answer)
    except Exception:
        with contextlib.suppress(Exception):
            send.send(None)
    exit_now()
