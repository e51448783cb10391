"""The new-session form creates sessions exactly as `tunebook new` does: the same checks
and one-sentence errors (shown next to the form, nothing written), then opens the session."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static, TextArea

from tests.tui.home_helpers import (
    error_notifications,
    isolate_user_dirs,
    notifications,
    pilot_test,
)
from tests.tui.pilot import wait_for
from tunebook.sessions import Session, TunebookError
from tunebook.tui.app import TunebookApp
from tunebook.tui.cli import main
from tunebook.tui.screens.home import HomeScreen
from tunebook.tui.screens.new_session import (
    NewSessionScreen,
    create_from_form,
    error_sentence,
    option_lines,
)
from tunebook.tui.screens.session_map import SessionMapScreen

TINY = str(Path(__file__).resolve().parent.parent / "execution" / "workloads.py") + ":Tiny"


@pytest.fixture(autouse=True)
def _user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)


def test_option_lines_are_the_cli_arguments() -> None:
    assert option_lines("csv=data.csv\n\n  target=label  \n") == ["csv=data.csv", "target=label"]
    assert option_lines("") == []


@pytest.mark.parametrize(
    ("name", "workload", "options"),
    [
        ("exists", "tabular", ""),
        ("no-folder", "tabular", ""),
        ("new", "nope", ""),
        ("new", "tabular", "csv"),
        ("new", "tabular", "csv=/nowhere/data.csv"),
        ("new", "missing_file.py:Model", ""),
        ("new", "tabular", "=3"),
    ],
)
def test_the_form_fails_with_the_clis_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, workload: str, options: str
) -> None:
    path = {
        "exists": tmp_path / "exists.tunebook",
        "no-folder": tmp_path / "nowhere" / "s.tunebook",
        "new": tmp_path / "new.tunebook",
    }[name]
    if name == "exists":
        path.write_text("someone's notes")
    argv = ["new", str(path), "--workload", workload]
    argv += [arg for line in option_lines(options) for arg in ("-o", line)]
    assert main(argv) == 2
    cli_sentence = capsys.readouterr().err
    with pytest.raises(TunebookError) as caught:
        create_from_form(str(path), workload, options)
    assert cli_sentence == f"tunebook: {error_sentence(caught.value)}\n"
    assert path.exists() == (name == "exists")  # nothing written
    written = {p.name for p in tmp_path.glob("*.tunebook*")} | {
        p.name for p in tmp_path.glob(".*")
    }
    assert written == ({"exists.tunebook"} if name == "exists" else set())


def test_an_unexpected_error_is_one_sentence() -> None:
    assert error_sentence(ValueError("bad\nthing")) == "internal error: ValueError: bad\nthing"


def form(app: TunebookApp) -> NewSessionScreen:
    screen = app.screen
    assert isinstance(screen, NewSessionScreen)
    return screen


@pilot_test
async def test_n_creates_a_builtin_session_and_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        screen = form(app)
        assert screen.query_one("#new-path", Input).has_focus
        await wait_for(pilot, lambda: screen.builtins is not None, timeout=60)
        listed = screen.query_one("#new-builtins", OptionList)
        assert [b.name for b in screen.builtins or []] == ["tabular", "images", "lm"]
        assert "CSV" in str(listed.get_option_at_index(0).prompt)
        await pilot.press(*"mlp.tunebook", "enter")  # enter moves on to the workload list
        assert listed.has_focus and screen.chosen_workload() == "tabular"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), timeout=60)
        assert app.session_path == Path("mlp.tunebook")
        with Session.open(tmp_path / "mlp.tunebook", read_only=True) as session:
            info = session.info()
        assert info.workload == "tabular" and info.workload_facts is not None
        assert any("created mlp.tunebook for workload tabular" in n for n in notifications(app))
        assert any("split sizes: 4000 training" in n for n in notifications(app))
        await pilot.press("escape")  # back to Home, not to the form
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))


@pilot_test
async def test_a_reference_with_options_creates_that_workload(tmp_path: Path) -> None:
    path = tmp_path / "tiny.tunebook"
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        screen = form(app)
        screen.query_one("#new-path", Input).value = str(path)
        screen.query_one("#new-ref", Input).value = TINY
        # slow splits keep the one-step check busy long enough to see it
        screen.query_one("#new-options", TextArea).text = "splits_sleep=0.5\n"
        assert screen.chosen_workload() == TINY  # a reference wins over the list
        await pilot.click("#new-create")
        assert screen.creating and screen.query_one("#new-loading").display
        assert screen.query_one("#new-create").disabled
        await pilot.press("escape")  # refused while creating: the form stays
        assert isinstance(app.screen, NewSessionScreen)
        assert any("wait for the one-step check" in n for n in notifications(app))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), timeout=60)
        await wait_for(pilot, lambda: app.screen.stage_map is not None)  # settle before exit
    with Session.open(path, read_only=True) as session:
        info = session.info()
    assert info.workload.endswith("workloads.py:Tiny")
    assert info.workload_config == {"splits_sleep": 0.5}


@pilot_test
async def test_errors_show_next_to_the_form_and_nothing_is_written(tmp_path: Path) -> None:
    taken = tmp_path / "taken.tunebook"
    taken.write_text("mine")
    fresh = tmp_path / "fresh.tunebook"
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        screen = form(app)
        error = screen.query_one("#new-error", Static)
        await pilot.press("ctrl+s")  # no path yet: said at once, no worker
        assert error.display and "type a path" in str(error.render())
        screen.query_one("#new-path", Input).value = str(taken)
        screen.query_one("#new-ref", Input).value = "tabular"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "already exists" in str(error.render()))
        assert taken.read_text() == "mine"
        assert screen.focused is not None  # focus is back in the form
        screen.query_one("#new-path", Input).value = str(fresh)
        screen.query_one("#new-options", TextArea).text = "csv=/nowhere/data.csv\n"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "a csv file needs a target column" in str(error.render()))
        assert not screen.creating and not screen.query_one("#new-loading").display
        assert {p.name for p in tmp_path.glob("*.tunebook*")} == {"taken.tunebook"}
        assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp files
        assert error_notifications(app) == [] and isinstance(app.screen, NewSessionScreen)
        # the form's error sits inside 80×24
        assert error.region.bottom <= 23
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
