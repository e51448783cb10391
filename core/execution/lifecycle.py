"""What every runner does while it holds a session: beat a heartbeat, and turn SIGINT and
SIGTERM into a graceful stop. Shared by the trial runner and the probe runner."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
from typing import Any

from tunebook.sessions import Session, TunebookError

HEARTBEAT_EVERY = 2.0  # seconds


class Heartbeat(threading.Thread):
    """Refreshes the runner row every few seconds from its own connection."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        super().__init__(name="tunebook-heartbeat", daemon=True)
        self.path = path
        self.done = threading.Event()

    def run(self) -> None:
        """Beat until done. A beat that fails (a full disk) is skipped, never printed: the
        runner's own next write meets the same error and reports it in one sentence."""
        with contextlib.suppress(sqlite3.Error, TunebookError), Session.open(self.path) as session:
            while not self.done.wait(HEARTBEAT_EVERY):
                with contextlib.suppress(sqlite3.Error, TunebookError):
                    session.heartbeat()


class signals_stop:
    """While active, SIGINT and SIGTERM set `stop` (a graceful stop) and are remembered in
    `received`; a second SIGINT raises KeyboardInterrupt. Only in the main thread, where
    handlers can be installed."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}
        self.received: int | None = None

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGINT and self.stop.is_set():
            raise KeyboardInterrupt
        self.received = self.received or signum
        self.stop.set()

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
