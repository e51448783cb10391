"""Noticing that a session file changed, cheaply, from a long-lived reader (the app).

`SessionWatcher.poll()` costs one `PRAGMA data_version` and one `stat()` of the file: the
version moves whenever another connection (the runner) commits, and the stat notices the
file being deleted, replaced or truncated under us. Plain Python, no UI: the app calls it
from a thread worker and turns its answers into messages (toolong's watcher does the same).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunebook.sessions.records import RunnerInfo
from tunebook.sessions.report import RUNNER_STALE_AFTER
from tunebook.sessions.store import Session

POLL_INTERVAL = 0.25  # seconds between polls: 4 looks a second, each a few microseconds
TRUNCATED = "session file '{path}' was truncated while open"


@dataclass(frozen=True)
class FileIdentity:
    """What `stat()` says about the file: a different inode or a smaller size means it was
    replaced or truncated, not merely written to."""

    device: int
    inode: int
    size: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        """The file's identity now, or None when it is gone."""
        try:
            info = path.stat()
        except OSError:
            return None
        return cls(info.st_dev, info.st_ino, info.st_size)


def gone_problem(path: Path, seen: FileIdentity | None, now: FileIdentity | None) -> str:
    """One sentence when `path` (`now`) was deleted, or replaced by another file, since it
    was `seen`; empty otherwise."""
    if now is None:
        return f"session file '{path}' was deleted while open"
    if seen is not None and (now.device, now.inode) != (seen.device, seen.inode):
        return f"session file '{path}' was replaced by another file"
    return ""


def unreadable_problem(path: Path, seen: FileIdentity | None) -> str:
    """One sentence for a file that no longer opens since it was `seen`: deleted, replaced,
    truncated, or otherwise unreadable."""
    now = FileIdentity.of(path)
    problem = gone_problem(path, seen, now)
    if problem:
        return problem
    if seen is not None and now is not None and now.size < seen.size:
        return TRUNCATED.format(path=path)
    return f"session file '{path}' cannot be read"


@dataclass(frozen=True)
class Change:
    """One poll's finding: the file's contents moved on (`version` counts the changes seen),
    the runner started or stopped (`runner_alive`), or the file went bad (`problem`, one
    sentence)."""

    version: int = 0
    runner_alive: bool = False
    problem: str = ""


class SessionWatcher:
    """Polls one session file on its own read-only connection.

    Not thread-safe: create, poll and close it from the same thread (a SQLite connection
    belongs to the thread that opened it).
    """

    def __init__(self, path: str | os.PathLike[str], identity: FileIdentity | None = None) -> None:
        """Watch `path`; `identity` is the file as the caller last saw it (when it checked
        the file opens), so that a change between then and now is reported at the first
        poll; by default, the file as it is now."""
        self.path = Path(path)
        self._identity = identity or FileIdentity.of(self.path)
        self._session = Session.open(self.path, read_only=True)
        self._version = self._data_version()
        self._changes = 0
        self._runner = self._session.runner()
        self._runner_alive = self.runner_alive()

    def _data_version(self) -> int:
        return int(self._session.db.conn.execute("PRAGMA data_version").fetchone()[0])

    def runner_alive(self) -> bool:
        """Whether the runner last read from the file is alive now (a SIGKILLed runner on
        this host is dead at once; one elsewhere once its heartbeat is stale)."""
        return self._runner is not None and self._runner.is_alive(RUNNER_STALE_AFTER)

    @property
    def runner(self) -> RunnerInfo | None:
        """The runner row as of the last change seen."""
        return self._runner

    def poll(self) -> Change | None:
        """A `Change` when the file changed since the last poll, else None."""
        identity = FileIdentity.of(self.path)
        previous = self._identity
        problem = gone_problem(self.path, previous, identity)
        if problem or identity is None:
            return Change(problem=problem)
        if previous is not None and identity.size < previous.size:
            # SQLite files grow; a shrink is a truncation (or a VACUUM, which a runner never
            # does). Check the file still reads before calling it damaged.
            self._identity = identity
            if not self._still_readable():
                return Change(problem=TRUNCATED.format(path=self.path))
        self._identity = identity
        try:
            version = self._data_version()
            if version != self._version:
                self._runner = self._session.runner()
        except Exception as exc:  # a damaged file reads as an error, not a crash
            return Change(problem=f"session file '{self.path}' cannot be read: {exc}")
        alive = self.runner_alive()
        if version == self._version and alive == self._runner_alive:
            return None
        self._version, self._runner_alive = version, alive
        self._changes += 1
        return Change(version=self._changes, runner_alive=alive)

    def _still_readable(self) -> bool:
        """Whether the file still reads as a whole session: on a fresh connection, since
        this one's page cache may still hold pages the file no longer has; quick_check
        reports damage as a row, not an error."""
        try:
            with Session.open(self.path, read_only=True) as fresh:
                row = fresh.db.conn.execute("PRAGMA quick_check(1)").fetchone()
                fresh.runner()
        except Exception:
            return False
        return row is not None and row[0] == "ok"

    def close(self) -> None:
        """Close the watcher's connection."""
        self._session.close()

    def watch(
        self,
        on_change: Callable[[Change], None],
        stop: threading.Event,
        interval: float = POLL_INTERVAL,
    ) -> None:
        """Poll until `stop` is set, calling `on_change` for each change; a problem is
        reported once and ends the watch (the caller decides whether to reopen)."""
        while not stop.wait(interval):
            change = self.poll()
            if change is None:
                continue
            on_change(change)
            if change.problem:
                return
