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

from tunebook.tui.user_files import state_dir

RECENT_FILE = "recent.json"
MAX_RECENT = 20


@dataclass(frozen=True)
class RecentSession:
    """One remembered session path and whether it is still there."""

    path: Path
    exists: bool


def recent_path() -> Path:
    """Where the list lives."""
    return state_dir() / RECENT_FILE


def load_recent(path: Path | None = None) -> list[RecentSession]:
    """The remembered sessions, newest first."""
    path = recent_path() if path is None else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [RecentSession(Path(p), Path(p).is_file()) for p in data if isinstance(p, str)]


def remember(session: Path, path: Path | None = None) -> None:
    """Put `session` first in the list (kept to `MAX_RECENT`); a failure to write is ignored
    (a read-only home must not stop anyone opening a session)."""
    path = recent_path() if path is None else path
    absolute = str(session.resolve())
    paths = [absolute] + [str(r.path) for r in load_recent(path) if str(r.path) != absolute]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
        ) as handle:
            json.dump(paths[:MAX_RECENT], handle, indent=1)
        os.replace(handle.name, path)
    except OSError:
        return
