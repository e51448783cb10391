"""A path input that completes folders and `*.tunebook` files as you type.

The suggestion appears dimmed after the cursor; tab or right arrow accepts it. Folders
complete with a trailing `/` so the next tab goes inside. Listing runs in a thread (a slow
or network folder never freezes the app) and stops after `MAX_ENTRIES` entries.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual.binding import Binding
from textual.suggester import Suggester

from tunebook.sessions.text import safe_text
from tunebook.tui.widgets.text_input import TextInput

SESSION_SUFFIX = ".tunebook"
MAX_ENTRIES = 2000  # folder entries read per completion, at most


def complete_path(
    value: str, cwd: Path | None = None, suffix: str = SESSION_SUFFIX, limit: int = MAX_ENTRIES
) -> str | None:
    """`value` completed to the first folder or `*suffix` file (in name order) that starts
    with what follows its last `/`, or None. The typed text is kept as typed (`~`, relative
    paths); hidden entries show only when the name typed starts with a dot."""
    if not value or "\0" in value:
        return None
    folder_text, _, prefix = value.rpartition("/")
    if folder_text == "" and value.startswith("/"):
        folder_text = "/"
    folder = Path(os.path.expanduser(folder_text)) if folder_text else Path(".")
    if not folder.is_absolute():
        folder = (cwd or Path.cwd()) / folder
    candidates: list[tuple[str, bool]] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= limit:
                    break
                name = entry.name
                if not name.startswith(prefix):
                    continue
                if name.startswith(".") and not prefix.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir or (name.endswith(suffix) and name != prefix):
                    candidates.append((name, is_dir))
    except OSError:
        return None
    if not candidates:
        return None
    name, is_dir = min(candidates)
    return value[: len(value) - len(prefix)] + name + ("/" if is_dir else "")


class PathSuggester(Suggester):
    """Suggests folders and session files under what has been typed (see `complete_path`)."""

    def __init__(self, suffix: str = SESSION_SUFFIX, cwd: Path | None = None) -> None:
        # no cache: files appear and disappear while the app is open
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffix = suffix
        self.cwd = cwd

    async def get_suggestion(self, value: str) -> str | None:
        """The completion of `value`, listed off the event loop; none for a name holding a
        control or bidi character, which the field would show escaped, a path to nowhere."""
        suggestion = await asyncio.to_thread(complete_path, value, self.cwd, self.suffix)
        return suggestion if suggestion is None or safe_text(suggestion) == suggestion else None


class PathInput(TextInput):
    """An Input for a session file path: completion of folders and `*.tunebook` files;
    tab accepts the suggestion (and moves focus on when there is none)."""

    BINDINGS = [
        Binding(
            "tab", "accept_suggestion", "Complete", id="path.complete", show=False,
            tooltip="Accept the completion shown after the cursor",
        ),
    ]

    def __init__(
        self,
        value: str | None = None,
        placeholder: str = "path/to/session.tunebook",
        *,
        suffix: str = SESSION_SUFFIX,
        cwd: Path | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(
            value, placeholder, suggester=PathSuggester(suffix, cwd), **kwargs  # type: ignore[arg-type]
        )

    def action_accept_suggestion(self) -> None:
        """Take the suggestion, or move focus on like tab elsewhere when there is none."""
        if self._suggestion and len(self._suggestion) > len(self.value):
            self.value = self._suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
