"""Helpers for the trial detail and experiments screens' pilot tests: a real app on a real
session file, waiting on its state, and the notifications it posted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from tests.tui.pilot import wait_for
from tunebook.tui.app import TunebookApp


@pytest.fixture(autouse=True)
def private_user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's recent-files list and keymap live in the test's folder, never the user's."""
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(tmp_path / "config"))



def notices(messages: list[Message]) -> list[str]:
    """The texts of the notifications posted so far."""
    return [m.notification.message for m in messages if isinstance(m, Notify)]


@asynccontextmanager
async def session_app(
    path: Path, messages: list[Message], read_only: bool = False, size: tuple[int, int] = (80, 24)
) -> AsyncIterator[tuple[TunebookApp, Pilot]]:
    """The real app at `size` with the session at `path` open (its map shown), every
    message it handles recorded in `messages`."""
    app = TunebookApp(path, read_only=read_only)
    async with app.run_test(size=size, message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.session_path is not None, what="the session to open")
        await wait_for(
            pilot, lambda: type(app.screen).__name__ == "SessionMapScreen", what="the map"
        )
        yield app, pilot
