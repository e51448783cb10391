"""The session map screen, help and the command palette, driven through Textual's pilot on
real session files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.core.test_session_map import pending_session
from tests.filled_session import fill_session
from tests.tui.pilot import wait_for
from tunebook.tui.app import TunebookApp
from tunebook.tui.commands import screen_commands
from tunebook.tui.messages import SessionOpened
from tunebook.tui.screens.help import HelpScreen
from tunebook.tui.screens.session_map import SessionMapScreen


@pytest.fixture(autouse=True)
def private_user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recent files and keymap in tmp dirs, never the user's."""
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(tmp_path / "config"))



def cells(app: TunebookApp) -> list[list[str]]:
    """The stage table as text (empty until the screen has composed and loaded)."""
    found = app.screen.query("#stages").results(DataTable)
    table = next(iter(found), None)
    if table is None:
        return []
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_map_shows_every_stage_and_starts_on_the_next_step(tmp_path: Path) -> None:
    path = pending_session(tmp_path / "s.tunebook")
    messages: list[object] = []
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        rows = cells(app)
        assert [r[1] for r in rows] == [
            "Model",
            "Optimizer",
            "Batch size",
            "Initial configuration",
            "Training length",
            "Stability",
            "Experiment 'lr'",
            "Adoption",
            "Exploitation",
            "Final test",
            "Next round",
        ]
        assert rows[6][0] == "→ next"
        assert app.screen.query_one("#stages", DataTable).cursor_row == 6
        assert any(isinstance(m, SessionOpened) and m.path == path for m in messages)
        assert app.read_only_reason == ""


async def test_the_first_experiment_opens_the_designer_with_a_suggested_question(
    tmp_path: Path,
) -> None:
    from tunebook.core.design.roles import Role
    from tunebook.sessions import Session
    from tunebook.tui.screens.designer import DesignerScreen

    path = tmp_path / "empty.tunebook"
    Session.create(path, "tabular", {}).close()
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        assert cells(app)[6][1] == "First experiment"
        app.screen.query_one("#stages", DataTable).move_cursor(row=6)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DesignerScreen) and app.screen.draft)
        draft = app.screen.draft
        scientific = [(r.name, r.values) for r in draft.hparams if r.role is Role.SCIENTIFIC]
        nuisance = [r.name for r in draft.hparams if r.role is Role.NUISANCE]
        assert scientific == [("width", [64, 128])]
        assert "learning_rate" in nuisance
        assert (draft.name, draft.goal) == ("width", "Does a larger width lower error?")
        assert app.check_action("next_step", ()) is False  # n never drops a design


async def test_a_read_only_session_disables_run_and_says_why(tmp_path: Path) -> None:
    path = pending_session(tmp_path / "s.tunebook")
    os.chmod(path, 0o444)
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        assert app.read_only_reason == f"'{path}' is not writable"
        banner = str(app.screen.query_one("ReadOnlyBanner").render())
        assert "read-only" in banner and "not writable" in banner
        assert app.screen.check_action("run", ()) is None
        await pilot.press("n")  # the next step is a run: refused with the reason
        await wait_for(pilot, lambda: bool(app._notifications))
        notes = [n.message for n in app._notifications]
        assert any("read-only" in note for note in notes)


async def test_help_lists_the_screens_keys_with_their_ids(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "filled.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one("#keys", DataTable)
        ids = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert "map.next" in ids and "app.help" in ids
        glossary = app.screen.query_one("#glossary")
        assert "abuse of terms" in glossary.source  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen))


async def test_the_palette_offers_the_current_screens_commands(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "filled.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        titles = [title for title, *_ in screen_commands(app.screen)]
        assert titles[:3] == ["Next step", "Take step", "Monitor"]
        assert "Help" in titles and "Quit" in titles


async def test_this_session_fits_the_terminal_and_a_long_summary_ends_in_an_ellipsis(
    tmp_path: Path,
) -> None:
    """At 80 columns the table does not run past the screen: "this session" takes the
    width left, and a longer summary is drawn cut with "…"; widening the terminal refits it."""
    path = pending_session(tmp_path / "s.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        table = app.screen.query_one("#stages", DataTable)
        assert table.virtual_size.width <= table.size.width
        summary = table.columns["summary"].width
        assert any(line.endswith("…") for line in drawn_lines(table))
        await pilot.resize_terminal(120, 30)
        await wait_for(pilot, lambda: table.columns["summary"].width > summary)
        await pilot.pause()
        assert not any(line.endswith("…") for line in drawn_lines(table))


def drawn_lines(table: DataTable) -> list[str]:
    """The table's rows as drawn on screen, trailing spaces left out."""
    return [table.render_line(y).text.rstrip() for y in range(1, table.row_count + 1)]


async def test_n_takes_the_step_the_file_recommends_now_not_the_one_the_map_shows(
    tmp_path: Path,
) -> None:
    """A command that has just stored something (the model decision, written here behind
    the app's back) leaves the map's recommendation behind until its watcher looks: `n`
    reads the file, so it opens the optimizer step, not the model step again."""
    from tunebook.sessions import DecisionKind, Session
    from tunebook.tui.screens.project_start.model import ModelScreen
    from tunebook.tui.screens.project_start.optimizer import OptimizerScreen

    path = tmp_path / "empty.tunebook"
    Session.create(path, "tabular", {}).close()
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen) and cells(app))
        map_screen = app.screen
        assert isinstance(map_screen, SessionMapScreen) and map_screen.stage_map is not None
        assert map_screen.stage_map.next is not None and map_screen.stage_map.next.key == "model"
        with Session.open(path) as session:
            session.record_decision(DecisionKind.MODEL, {})
        await pilot.press("n")
        step = (ModelScreen, OptimizerScreen)
        await wait_for(pilot, lambda: isinstance(app.screen, step), what="a project step")
        assert isinstance(app.screen, OptimizerScreen), type(app.screen).__name__
