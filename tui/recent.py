"""The sessions opened recently, newest first, kept in the user's state folder.

A JSON list of absolute paths, written atomically (a temporary file renamed over the old
one). A path that no longer exists stays in the list and is shown as missing; an unreadable
list reads as empty: recent files are a convenience, never an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tunebook.sessions import Session, TunebookError
from tunebook.tui.user_files import state_dir

RECENT_FILE = "recent.json"
MAX_RECENT = 20


@dataclass(frozen=True)
class RecentSession:
    """One remembered session path and whether it is still there."""

    path: Path
    exists: bool


@dataclass(frozen=True)
class RecentDetails:
    """A remembered session as Home lists it: its workload and last change, or why it
    cannot be opened (missing, or no longer a session file)."""

    path: Path
    exists: bool
    workload: str = ""
    modified: float | None = None
    problem: str = ""


def recent_path() -> Path:
    """Where the list lives."""
    return state_dir() / RECENT_FILE


def _load_paths(path: Path) -> list[str]:
    """The stored paths, newest first; anything unreadable reads as none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    paths: list[str] = []
    for entry in data:
        if isinstance(entry, str) and entry and "\0" not in entry and entry not in paths:
            paths.append(entry)
    return paths[:MAX_RECENT]


def _save_paths(paths: list[str], path: Path) -> None:
    """Write the list atomically; a failure to write is ignored (a read-only home must not
    stop anyone opening a session)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
        ) as handle:
            json.dump(paths[:MAX_RECENT], handle, indent=1)
        os.replace(handle.name, path)
    except OSError:
        return


def load_recent(path: Path | None = None) -> list[RecentSession]:
    """The remembered sessions, newest first (stats each path: call from a worker)."""
    path = recent_path() if path is None else path
    return [RecentSession(Path(p), Path(p).is_file()) for p in _load_paths(path)]


def remember(session: Path, path: Path | None = None) -> None:
    """Put `session` first in the list (kept to `MAX_RECENT`)."""
    path = recent_path() if path is None else path
    absolute = str(Path(session).resolve())
    _save_paths([absolute] + [p for p in _load_paths(path) if p != absolute], path)


def forget(session: Path, path: Path | None = None) -> bool:
    """Drop `session` from the list; False when it was not there (nothing is written)."""
    path = recent_path() if path is None else path
    paths = _load_paths(path)
    wanted = {str(session), str(Path(session).absolute())}
    kept = [p for p in paths if p not in wanted]
    if len(kept) == len(paths):
        return False
    _save_paths(kept, path)
    return True


def recent_details(path: Path | None = None) -> list[RecentDetails]:
    """Each remembered session with its workload and modification time, read read-only
    (opens every file: call from a thread worker). Never raises for a bad entry."""
    details = []
    for entry in load_recent(path):
        if not entry.exists:
            details.append(RecentDetails(entry.path, False, problem="missing"))
            continue
        try:
            modified = entry.path.stat().st_mtime
            with Session.open(entry.path, read_only=True) as session:
                workload = session.info().workload
        except (OSError, TunebookError) as exc:
            details.append(RecentDetails(entry.path, True, problem=str(exc)))
            continue
        details.append(RecentDetails(entry.path, True, workload, modified))
    return details
