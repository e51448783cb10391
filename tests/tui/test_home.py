"""Home: the recent list (missing files dimmed, enter opens, d forgets), the open input with
its completion of folders and `*.tunebook` files, and the layout at 80×24."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from tests.filled_session import fill_session
from tests.tui.home_helpers import (
    error_notifications,
    isolate_user_dirs,
    notifications,
    pilot_test,
)
from tests.tui.pilot import wait_for
from tunebook.tui.app import TunebookApp
from tunebook.tui.recent import load_recent, remember
from tunebook.tui.screens.home import HomeScreen, short_folder
from tunebook.tui.screens.session_map import SessionMapScreen
from tunebook.tui.widgets.path_input import complete_path


@pytest.fixture(autouse=True)
def _user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)


# -- completion (pure) ------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "models").mkdir(parents=True)
    (root / "mlp.tunebook").write_text("")
    (root / "mlp.txt").write_text("")
    (root / "notes.md").write_text("")
    (root / ".hidden").mkdir()
    (root / "models" / "cnn.tunebook").write_text("")
    return root


def test_completion_offers_folders_and_session_files_only(tree: Path) -> None:
    assert complete_path(f"{tree}/ml") == f"{tree}/mlp.tunebook"
    assert complete_path(f"{tree}/mo") == f"{tree}/models/"
    assert complete_path(f"{tree}/models") == f"{tree}/models/"
    assert complete_path(f"{tree}/models/") == f"{tree}/models/cnn.tunebook"
    assert complete_path(f"{tree}/no") is None  # notes.md is not a session file
    assert complete_path(f"{tree}/mlp.tunebook") is None  # already complete


def test_completion_lists_in_name_order_and_hides_dot_entries(tree: Path) -> None:
    assert complete_path(f"{tree}/") == f"{tree}/mlp.tunebook"
    assert complete_path(f"{tree}/.h") == f"{tree}/.hidden/"


def test_completion_keeps_relative_and_home_paths_as_typed(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert complete_path("models/c", cwd=tree) == "models/cnn.tunebook"
    assert complete_path("m", cwd=tree) == "mlp.tunebook"
    monkeypatch.setenv("HOME", str(tree))
    assert complete_path("~/models/", cwd=Path("/")) == "~/models/cnn.tunebook"


def test_completion_of_a_missing_folder_or_nothing_is_none(tree: Path) -> None:
    assert complete_path("") is None
    assert complete_path(f"{tree}/nowhere/x") is None
    assert complete_path(f"{tree}/mlp.tunebook/x") is None  # a file is no folder


def test_completion_reads_at_most_the_cap(tmp_path: Path) -> None:
    for i in range(50):
        (tmp_path / f"s{i:02}.tunebook").write_text("")
    listed = sorted(e.name for e in os.scandir(tmp_path))
    first_five = {e.name for e in list(os.scandir(tmp_path))[:5]}
    suggestion = complete_path(f"{tmp_path}/s", limit=5)
    assert suggestion is not None and Path(suggestion).name in first_five
    assert Path(complete_path(f"{tmp_path}/s") or "").name == listed[0]


def test_short_folder_uses_tilde_and_keeps_the_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ada")
    assert short_folder(Path("/home/ada/work/mlp"), 40) == "~/work/mlp"
    assert short_folder(Path("/data/projects/very/long/folder"), 12) == "…long/folder"
    assert short_folder(Path("/data/\x1b[31mred"), 40) == "/data/\\x1b[31mred"


# -- the screen -------------------------------------------------------------------------------


def recent_table(app: TunebookApp) -> DataTable:
    return app.screen.query_one("#recent", DataTable)


def cell_texts(table: DataTable, row: int) -> list[str]:
    return [str(cell) for cell in table.get_row_at(row)]


@pilot_test
async def test_home_lists_recent_sessions_and_marks_the_missing(tmp_path: Path) -> None:
    session = fill_session(tmp_path / "good.tunebook")
    remember(tmp_path / "gone.tunebook")
    remember(session)
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.recent is not None)
        assert isinstance(app.screen, HomeScreen)
        table = recent_table(app)
        assert table.row_count == 2
        assert cell_texts(table, 0)[:2] == ["good.tunebook", "tabular"]
        assert cell_texts(table, 1)[:2] == ["gone.tunebook", "missing"]
        assert "dim" in str(table.get_row_at(1)[0].spans[0].style)
        assert not table.get_row_at(0)[0].spans
        # enter on the missing one: a warning, still Home
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: any("is missing" in n for n in notifications(app)))
        assert isinstance(app.screen, HomeScreen) and error_notifications(app) == []
        # enter on the good one opens it
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen))
        assert app.session_path == session.resolve() or app.session_path == session
        # escape goes back Home, which re-reads the list
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert app.session_path is None


@pilot_test
async def test_d_forgets_the_highlighted_entry(tmp_path: Path) -> None:
    first, second = tmp_path / "a.tunebook", tmp_path / "b.tunebook"
    remember(first)
    remember(second)
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.recent is not None)
        await pilot.press("down", "d")
        await wait_for(pilot, lambda: recent_table(app).row_count == 1)
        assert [r.path for r in load_recent()] == [second.resolve()]
        assert cell_texts(recent_table(app), 0)[0] == "b.tunebook"
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.recent == [])
        assert not recent_table(app).display
        assert app.screen.query_one("#recent-empty").display
        assert load_recent() == []


@pilot_test
async def test_first_run_says_what_to_do(tmp_path: Path) -> None:
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.recent == [])
        shown = app.screen.query_one("#recent-empty")
        assert shown.display and "n creates one" in str(shown.render())
        welcome = str(app.screen.query_one("#home-welcome").render())
        assert "Deep Learning Tuning Playbook" in welcome
        # the whole screen fits 80×24: the open input is above the footer
        open_input = app.screen.query_one("#open-path", Input)
        assert open_input.region.bottom <= 23 and open_input.region.height == 3
        assert app.screen.check_action("forget", ()) is None  # nothing to forget


@pilot_test
async def test_o_opens_a_typed_path_with_tab_completion(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    session = fill_session(tmp_path / "project" / "mlp-depth.tunebook")
    remember(tmp_path / "other.tunebook")  # a recent list to move focus to
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.recent is not None)
        await pilot.press("o")
        field = app.screen.query_one("#open-path", Input)
        assert field.has_focus
        field.value = str(tmp_path / "proj")
        field.cursor_position = len(field.value)
        await wait_for(pilot, lambda: field._suggestion == str(tmp_path / "project") + "/")
        await pilot.press("tab")
        assert field.value == str(tmp_path / "project") + "/" and field.has_focus
        await wait_for(pilot, lambda: field._suggestion == str(session))
        await pilot.press("right")  # right accepts too
        assert field.value == str(session)
        await pilot.press("tab")  # nothing to complete: focus moves on
        assert recent_table(app).has_focus
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen))
        assert load_recent()[0].path == session.resolve()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.txt", "just some text\n" * 20, "not a tunebook session file"),
        ("missing.tunebook", None, "does not exist"),
        ("folder", "dir", "is a directory"),
    ],
)
@pilot_test
async def test_opening_a_bad_path_is_one_sentence_and_stays_home(
    tmp_path: Path, name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.recent is not None)
        await pilot.press("o")
        app.screen.query_one("#open-path", Input).value = str(path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: error_notifications(app))
        [message] = error_notifications(app)
        assert expected in message and str(path) in message
        assert "\n" not in message and "Traceback" not in message
        assert isinstance(app.screen, HomeScreen) and app.session_path is None
        assert load_recent() == []  # a path that failed to open is not remembered
