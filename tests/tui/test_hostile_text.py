"""Names, goals and errors from a session file are data on every screen: escape sequences
and bidi controls are shown escaped, `[markup]` is shown as typed, never interpreted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Input

import tunebook.tui
from tests.tui.pilot import wait_for
from tunebook.sessions import Session, TrialStatus
from tunebook.tui.app import TunebookApp
from tunebook.tui.widgets.path_input import PathInput
from tunebook.tui.widgets.text_input import TextInput

HOSTILE = "[bold red]x[/] \x1b[2J\u202eZ"
SHOWN = "[bold red]x[/] \\x1b[2J\\u202eZ"  # what safe_text turns it into


@pytest.fixture(autouse=True)
def private_user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(tmp_path / "config"))


def hostile_session(path: Path) -> tuple[Path, int]:
    """An experiment, a study and a failed trial whose texts are all hostile."""
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment(HOSTILE, f"goal {HOSTILE}", {"fixed": {}}, 10)
        study = session.add_study(experiment.id, HOSTILE, {}, "quasi-random", 1, 0, "error", "min")
        trial = session.add_trial(study.id, {"learning_rate": 0.1}, 1, 2)
        session.start_trial(trial.id)
        session.finish_trial(trial.id, TrialStatus.FAILED, error=f"boom {HOSTILE}")
    return path, trial.id



async def test_every_screen_shows_hostile_text_as_data(tmp_path: Path) -> None:
    path, trial_id = hostile_session(tmp_path / "s.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "stage_map", None) is not None)
        await pilot.pause(0.2)
        for show in (
            lambda: None,
            app.show_experiments,
            app.show_monitor,
            lambda: app.show_trial(trial_id),
        ):
            show()
            name = type(app.screen).__name__
            shown = await wait_for(  # the screen reads in a worker, then paints
                pilot, lambda: SHOWN in drawn(app) and drawn(app), what=f"{name} to draw it"
            )
            assert "\x1b" not in shown and "\u202e" not in shown, name


def drawn(app: TunebookApp) -> str:
    """The screen as a person sees it: the screenshot's text with spaces as spaces."""
    return app.export_screenshot().replace("&#160;", " ")


async def test_notifications_show_markup_as_typed(tmp_path: Path) -> None:
    path, _ = hostile_session(tmp_path / "s.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "stage_map", None) is not None)
        app.screen.notify(f"copied: {SHOWN}")  # screens notify through the app
        notes = await wait_for(
            pilot,
            lambda: [n for n in app._notifications if SHOWN in n.message],
            what="the notification",
        )
        assert not any(n.markup for n in notes)  # shown as typed, not applied


async def test_probe_screens_show_hostile_errors_and_reasons_as_data(tmp_path: Path) -> None:
    """A failed probe unit's error, a decision's stale reason and a runner command come from
    the file: the batch-size and training-length screens show them escaped."""
    from tunebook.core.project_start.registry import probe_plan
    from tunebook.sessions import DecisionKind

    path = tmp_path / "p.tunebook"
    with Session.create(path, "tabular", {}) as session:
        for name, key in (("batch-size", "b16"), ("training-length", "lr=0.01")):
            plan = probe_plan(name)
            point = {"status": "failed", "error": f"boom {HOSTILE}", "index": 0}
            config = {"learning_rates": [0.01], "steps": 20, "mode": "min", "objective": "error"}
            summary = plan.summarize(config, {key: point})
            results = {"status": "completed", "points": {key: point}, "summary": summary}
            session.add_probe(plan.kind, config, results)
        session.record_decision(DecisionKind.BATCH_SIZE, 64)
        session.mark_stale(DecisionKind.BATCH_SIZE, f"changed {HOSTILE}")
    app = TunebookApp(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "stage_map", None) is not None)
        for key in ("batch_size", "max_train_steps"):
            app.show_project_step(key)
            shown = await wait_for(
                pilot, lambda: SHOWN in drawn(app) and drawn(app), what=f"the {key} screen"
            )
            assert "\x1b" not in shown and "\u202e" not in shown, key
            app.pop_screen()


async def test_run_options_show_what_was_typed_as_data(tmp_path: Path) -> None:
    """The run-options dialog's field, its echo as `tunebook run` options and its refusal
    show escapes escaped and markup as typed."""
    path, _ = hostile_session(tmp_path / "s.tunebook")
    app = TunebookApp(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "stage_map", None) is not None)
        app.action_run_options()
        await wait_for(pilot, lambda: "as: tunebook run PATH" in drawn(app), what="the dialog")
        app.screen.query_one("#device", Input).value = HOSTILE
        await pilot.press("enter")
        error = app.screen.query_one("#options-error")
        await wait_for(pilot, lambda: "is not one of" in str(error.render()), what="the refusal")
        echo = str(app.screen.query_one("#options-command").render())
        assert echo.endswith(f"--device={SHOWN}")
        assert "[bold red]x[/]" in str(error.render())
        assert "\x1b" not in drawn(app) and "\u202e" not in drawn(app)


async def test_a_text_field_holds_control_characters_escaped(tmp_path: Path) -> None:
    """A field's value from a file (set) or a paste reaches the terminal escaped: Textual's
    own Input would draw an escape sequence as it is."""

    class Fields(App[None]):
        def compose(self) -> ComposeResult:
            yield TextInput(HOSTILE, id="set")
            yield PathInput(id="pasted", cwd=tmp_path)

    app = Fields()
    async with app.run_test() as pilot:
        assert app.query_one("#set", Input).value == SHOWN
        pasted = app.query_one("#pasted", Input)
        pasted.focus()
        pasted.post_message(events.Paste(f"{HOSTILE}\nsecond line"))
        await wait_for(pilot, lambda: pasted.value == SHOWN, what="the paste")
        assert "\x1b" not in drawn(app) and "\u202e" not in drawn(app)


def test_every_text_field_of_the_app_is_a_text_input() -> None:
    """No screen builds a bare `Input` (whose value would be drawn raw)."""
    package = Path(tunebook.tui.__file__).parent
    bare = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"(?<![\w.])Input\(", line)
    ]
    assert bare == []
