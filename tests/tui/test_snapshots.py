"""Snapshot tests: each screen at 80×24 and 120×40 on fixed session contents.

Sessions are opened by a relative path from a temporary working folder, so no temporary
path reaches the screen. Update after a reviewed change with `pytest --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Select, Static

from tests.core.test_session_map import pending_session
from tests.detail_session import make_session
from tests.filled_session import fill_session
from tunebook.core.execution.control import RunRequest
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
    """Run until `ready()` holds, stop cursors blinking, then let the screen paint."""
    waited = 0.0
    while not ready():
        assert waited < timeout, "the screen did not get ready in time"
        await pilot.pause(0.05)
        waited += 0.05
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause(0.1)
    # What the pause let through is processed too: a DataTable sizes itself for rows added
    # when it is next idle, which on a loaded machine came after the screenshot (a probe
    # screen's table missing from its snapshot, once in CI).
    await pilot.pause()


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


def screen_named(pilot: Pilot, name: str) -> bool:
    return type(pilot.app.screen).__name__ == name


class TestHome:
    @pytest.mark.parametrize("size", SIZES)
    def test_first_run(self, snap_compare, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: screen_named(pilot, "HomeScreen"))

        assert snap_compare(TunebookApp(), terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES)
    def test_new_session_form(self, snap_compare, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: screen_named(pilot, "HomeScreen"))
            await pilot.press("n")
            await settle(
                pilot,
                lambda: screen_named(pilot, "NewSessionScreen")
                and pilot.app.screen.builtins is not None,
                timeout=60,  # the built-ins import torch
            )

        assert snap_compare(TunebookApp(), terminal_size=size, run_before=run_before)


class TestExperiments:
    @pytest.mark.parametrize("size", SIZES)
    def test_studies_with_every_outcome(self, snap_compare, size: tuple[int, int]) -> None:
        fill_session(Path("filled.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: map_ready(pilot))
            await pilot.press("e")
            await settle(
                pilot,
                lambda: screen_named(pilot, "ExperimentsScreen")
                and pilot.app.screen.status is not None,
            )

        app = TunebookApp(Path("filled.tunebook"))
        assert snap_compare(app, terminal_size=size, run_before=run_before)


class TestTrialDetail:
    # The gradient-norm tab is left to its pilot test: plotext picks which of its log ticks
    # to label from a layout pass that varies between runs.
    @pytest.mark.parametrize("tab", ["1", "2"], ids=["overview", "curves"])
    @pytest.mark.parametrize("size", SIZES)
    def test_tabs(self, snap_compare, size: tuple[int, int], tab: str) -> None:
        path, trial_id, _ = make_session(Path("detail.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: map_ready(pilot))
            pilot.app.show_trial(trial_id)
            await settle(
                pilot,
                lambda: screen_named(pilot, "TrialDetailScreen")
                and pilot.app.screen.detail is not None,
            )
            await pilot.press(tab)
            await pilot.pause(0.3)  # charts draw at their final size after the tab's layout

        app = TunebookApp(path)
        assert snap_compare(app, terminal_size=size, run_before=run_before)


class TestRunMonitor:
    @pytest.mark.parametrize("size", SIZES)
    def test_finished_trials_of_every_outcome(self, snap_compare, size: tuple[int, int]) -> None:
        fill_session(Path("filled.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: map_ready(pilot))
            await pilot.press("m")
            await settle(
                pilot,
                lambda: screen_named(pilot, "RunMonitorScreen")
                and pilot.app.screen.query_one("TrialTable").row_count > 0,
            )
            await pilot.pause(0.3)  # the charts draw at their final size

        app = TunebookApp(Path("filled.tunebook"))
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES)
    def test_run_options_for_a_ray_cluster(self, snap_compare, size: tuple[int, int]) -> None:
        fill_session(Path("filled.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: map_ready(pilot))
            await pilot.press("m")
            await settle(pilot, lambda: screen_named(pilot, "RunMonitorScreen"))
            await pilot.press("o")
            await settle(pilot, lambda: screen_named(pilot, "RunOptionsScreen"))
            pilot.app.screen.query_one("#executor", Select).value = "ray"
            await pilot.pause()
            pilot.app.screen.query_one("#ray-address").focus()
            await pilot.press(*"head:6379")
            command = pilot.app.screen.query_one("#options-command", Static)
            await settle(pilot, lambda: "--address=head:6379" in str(command.content))

        app = TunebookApp(Path("filled.tunebook"), run_request=RunRequest(workers=2))
        assert snap_compare(app, terminal_size=size, run_before=run_before)
