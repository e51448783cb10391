"""Faults while the app is open: a session file that goes bad is reported in one sentence
and the app stays up; a failing worker is a notification, not a traceback."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.filled_session import fill_session
from tests.tui.pilot import wait_for
from tests.tui.test_session_map_screen import cells
from tunebook.tui import app as app_module
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.session_map import SessionMapScreen


@pytest.fixture(autouse=True)
def private_user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(tmp_path / "config"))


def deleted(path: Path) -> None:
    path.unlink()


def replaced(path: Path) -> None:
    other = fill_session(path.with_name("other.tunebook"))
    os.replace(other, path)


def truncated(path: Path) -> None:
    os.truncate(path, 4096)


@pytest.mark.parametrize(
    ("damage", "words"),
    [(deleted, "was deleted while open"), (replaced, "was replaced"), (truncated, "truncated")],
)
async def test_a_file_gone_bad_is_reported_and_the_app_stays_up(
    tmp_path: Path, damage, words: str
) -> None:
    path = fill_session(tmp_path / "s.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        damage(path)
        await wait_for(pilot, lambda: bool(app.session_problem))
        assert words in app.session_problem
        assert str(path) in app.session_problem
        # notify() posts a message: the notification follows on the next turn of the loop
        await wait_for(pilot, lambda: any(words in n.message for n in app._notifications))
        assert isinstance(app.screen, SessionMapScreen)  # still up, still showing the map
        assert app.write_refusal() == app.session_problem  # nothing writes to a bad file
        await pilot.press("r")  # refused, not crashed
        await pilot.pause(0.1)
        assert app.is_running


@pytest.mark.parametrize(
    ("damage", "words"),
    [(deleted, "was deleted while open"), (replaced, "was replaced"), (truncated, "truncated")],
)
async def test_a_file_gone_bad_before_its_watcher_starts_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage, words: str
) -> None:
    # On a loaded machine the map can show before the watcher's thread has looked at the
    # file; damage in between is measured against the file as the app opened it.
    release = threading.Event()

    class LateWatcher(app_module.SessionWatcher):
        def __init__(self, *args, **kwargs) -> None:
            release.wait(30)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(app_module, "SessionWatcher", LateWatcher)
    path = fill_session(tmp_path / "s.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        damage(path)
        release.set()
        await wait_for(pilot, lambda: bool(app.session_problem))
        assert words in app.session_problem
        assert isinstance(app.screen, SessionMapScreen)


async def test_a_bad_file_to_open_is_one_sentence_and_home_stays(tmp_path: Path) -> None:
    path = tmp_path / "notes.tunebook"
    path.write_text("not a database\n" * 100)
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: bool(app._notifications))
        message = next(iter(app._notifications)).message
        assert str(path) in message and "\n" not in message
        assert app.session_path is None
        assert type(app.screen).__name__ == "HomeScreen"
