"""Snapshot tests: each screen at 80×24 and 120×40 on fixed session contents.

Sessions are opened by a relative path from a temporary working folder, so no temporary
path reaches the screen. Update after a reviewed change with `pytest --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.core.test_session_map import pending_session
from tests.filled_session import fill_session
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.help import HelpScreen
from tunebook.tui.screens.session_map import SessionMapScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(autouse=True)
def fixed_surroundings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private working folder and user files, so every run draws the same screen."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", "state")
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", "config")


async def settle(pilot: Pilot, ready: Callable[[], bool], timeout: float = 10) -> None:
    """Run until `ready()` holds, then let the screen paint."""
    waited = 0.0
    while not ready():
        assert waited < timeout, "the screen did not get ready in time"
        await pilot.pause(0.05)
        waited += 0.05
    await pilot.pause(0.1)


def map_ready(pilot: Pilot) -> bool:
    screen = pilot.app.screen
    tables = list(screen.query(DataTable).results(DataTable))
    return isinstance(screen, SessionMapScreen) and bool(tables) and tables[0].row_count > 0


class TestSessionMap:
    @pytest.mark.parametrize("size", SIZES)
    def test_pending_experiment(self, snap_compare, size: tuple[int, int]) -> None:
        pending_session(Path("pending.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: map_ready(pilot))

        app = TunebookApp(Path("pending.tunebook"))
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES)
    def test_finished_session(self, snap_compare, size: tuple[int, int]) -> None:
        fill_session(Path("filled.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: map_ready(pilot))

        app = TunebookApp(Path("filled.tunebook"))
        assert snap_compare(app, terminal_size=size, run_before=run_before)


class TestHelp:
    @pytest.mark.parametrize("size", SIZES)
    def test_keys_and_glossary(self, snap_compare, size: tuple[int, int]) -> None:
        fill_session(Path("filled.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: map_ready(pilot))
            await pilot.press("question_mark")
            await settle(
                pilot,
                lambda: isinstance(pilot.app.screen, HelpScreen)
                and any(t.row_count for t in pilot.app.screen.query(DataTable).results(DataTable)),
            )

        app = TunebookApp(Path("filled.tunebook"))
        assert snap_compare(app, terminal_size=size, run_before=run_before)
