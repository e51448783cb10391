"""Stopping a session's runner from another process: `tunebook stop`, and the app to come.

The runner stops gracefully on SIGTERM (running trials checkpoint and go back to pending),
so stopping one is a signal plus a wait until its process is gone. Only a runner on this
host can be signalled; for one elsewhere the error names the host and pid.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tunebook.sessions import BadInput, RunnerInfo, Session, TunebookError
from tunebook.sessions.records import process_exists
from tunebook.sessions.report import RUNNER_STALE_AFTER


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
