"""Helpers for the run monitor's pilot tests: waiting on a live app, opening the monitor,
and making sure no runner a test started outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from textual.pilot import Pilot

from tests.tui.pilot import wait_for
from tunebook.sessions import Session
from tunebook.sessions.records import process_exists
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.run_monitor import RunMonitorScreen
from tunebook.tui.screens.session_map import SessionMapScreen


async def open_monitor(pilot: Pilot, app: TunebookApp) -> RunMonitorScreen:
    """From the session map the app opens on, push the monitor and wait for its first read."""
    await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), 20, "the map")
    app.show_monitor()
    screen = await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, RunMonitorScreen) and app.screen.data is not None and app.screen
        ),
        20,
        "the monitor's first read",
    )
    assert isinstance(screen, RunMonitorScreen)
    return screen


def kill_runner(path: Path, pids: list[int] | None = None) -> None:
    """SIGKILL the process group of the session's runner (and of `pids`), if still alive:
    a failing test must not leave a detached runner training behind."""
    found = list(pids or [])
    if path.exists():
        with Session.open(path, read_only=True) as session:
            runner = session.runner()
        if runner is not None:
            found.append(runner.pid)
    for pid in found:
        if process_exists(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
