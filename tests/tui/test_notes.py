"""Notes from inside the app (issue 12, PB-24): `o` on the session map, the experiments
screen and the trial detail opens the note dialog; each note is stored through a real
`tunebook note` child, read back with the sessions API, and shown in the detail panes as
plain text (hostile markup and escape codes escaped, never read as markup; the note field
keeps an escape code written out, so that is what is stored)."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tests.detail_session import make_session
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    notices,
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tunebook.sessions import Session
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.experiments import ExperimentsScreen
from tunebook.tui.screens.review import NoteScreen
from tunebook.tui.screens.trial_detail import TrialDetailScreen

HOSTILE = "[bold]x[/bold]\x1b[31m"
#: What the note field makes of it: markup as typed, the escape code written out.
ESCAPED = "[bold]x[/bold]\\x1b[31m"
CHILD_WAIT = 60.0  # seconds: the `tunebook note` child starts a Python and opens the file


async def write_note(pilot: Pilot, app: TunebookApp, text: str) -> None:
    """Press `o`, type `text`, store it, and wait until the dialog closed."""
    await pilot.press("o")
    dialog = await wait_for(
        pilot, lambda: isinstance(app.screen, NoteScreen) and app.screen, what="the note dialog"
    )
    dialog.query_one("#note-input", Input).value = text
    await pilot.press("enter")
    await wait_for(
        pilot, lambda: not isinstance(app.screen, NoteScreen), timeout=CHILD_WAIT, what="stored"
    )


async def test_notes_from_the_map_the_experiments_and_a_trial(tmp_path: Path) -> None:
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        await write_note(pilot, app, "the session: data looks clean")
        app.show_experiments()
        experiments = await wait_for(
            pilot,
            lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.status and app.screen,
            what="the experiments",
        )
        experiments.query_one(DataTable).move_cursor(row=0)
        await write_note(pilot, app, f"experiment {HOSTILE}")
        detail = experiments.query_one("#experiment-detail", Static)
        await wait_for(pilot, lambda: HOSTILE[:8] in str(detail.render()), what="the note shown")
        shown = str(detail.render())
        assert "notes:" in shown and "• experiment [bold]x[/bold]\\x1b[31m" in shown
        app.show_trial(trial_id)
        trial = await wait_for(
            pilot,
            lambda: isinstance(app.screen, TrialDetailScreen) and app.screen.detail and app.screen,
            what="the trial detail",
        )
        await write_note(pilot, app, HOSTILE)
        notes = trial.query_one("#trial-notes", Static)
        await wait_for(pilot, lambda: "[bold]" in str(notes.render()), what="the trial's note")
        assert str(notes.render()) == "notes:\n• [bold]x[/bold]\\x1b[31m"
        assert not any("Error" in text for text in notices(messages))
    with Session.open(path, read_only=True) as session:
        experiment = session.experiment("opt")
        stored = [(n.target, n.text) for n in session.notes()]
    assert stored == [
        ("session", "the session: data looks clean"),
        (f"experiment:{experiment.id}", f"experiment {ESCAPED}"),
        (f"trial:{trial_id}", ESCAPED),
    ]


async def test_an_empty_note_is_refused_in_one_sentence(tmp_path: Path) -> None:
    path, _, _ = make_session(tmp_path / "s.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        await pilot.press("o")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, NoteScreen) and app.screen, what="the dialog"
        )
        await pilot.press("enter")
        refusal = "the note is empty; write what you want to remember"
        await wait_for(
            pilot, lambda: refusal in notices(messages), timeout=CHILD_WAIT, what="refused"
        )
        await wait_for(pilot, lambda: not dialog.saving, what="the dialog free again")
        assert app.screen is dialog  # kept open, the note kept
    with Session.open(path, read_only=True) as session:
        assert session.notes() == []
