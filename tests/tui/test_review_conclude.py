"""`c` on the review: the experiment's evidence previewed, the note typed, the conclusion
stored by core on a writable session (logged as from the app) and shown in the review's head;
refused in one sentence on a read-only session and, by core, while trials are unfinished."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.widgets import Input, Static

from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    notices,
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tests.tui.test_review_screen import open_review, ranked_experiment
from tunebook.core.analysis.conclusion import evidence_for
from tunebook.core.analysis.study import load_experiment
from tunebook.sessions import ExperimentStatus, Session
from tunebook.tui.screens.review import NoteScreen, ReviewScreen


async def open_note(pilot, app) -> NoteScreen:  # type: ignore[no-untyped-def]
    """Press `c` and wait for the note screen."""
    await pilot.press("c")
    return await wait_for(
        pilot, lambda: isinstance(app.screen, NoteScreen) and app.screen, what="the note screen"
    )


async def test_c_concludes_with_the_note_and_the_evidence(tmp_path: Path) -> None:
    path = ranked_experiment(tmp_path / "r.tunebook")
    with Session.open(path, read_only=True) as session:
        evidence = evidence_for(session, load_experiment(session, "width")).text("error")
    async with session_app(path, [], size=(120, 40)) as (app, pilot):
        review = await open_review(app, pilot)
        assert not review.query_one("#review-conclusion").display
        note = await open_note(pilot, app)
        body = str(note.query_one("#note-body", Static).render())
        assert f"evidence: {evidence}" in body and "goal: Does width help?" in body
        await pilot.press(*"wider [b]is[/b] better")  # typed text stays text
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is review, what="the review again")

        with Session.open(path, read_only=True) as session:
            experiment = session.experiment("width")
            (event,) = [e for e in session.events() if e.kind == "experiment.concluded"]
        assert experiment.status is ExperimentStatus.CONCLUDED
        assert experiment.conclusion == f"wider [b]is[/b] better Evidence: {evidence}"
        assert event.actor == "app"
        line = review.query_one("#review-conclusion", Static)
        await wait_for(pilot, lambda: "wider [b]is[/b] better" in str(line.render()))
        assert line.display and "concluded" in str(review.query_one("#review-head").render())


async def test_conclude_is_refused_while_trials_are_unfinished(tmp_path: Path) -> None:
    path = ranked_experiment(tmp_path / "r.tunebook")
    with Session.open(path) as session:
        session.add_trial(session.studies()[0].id, {"learning_rate": 0.05}, 1, 2)
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        await open_review(app, pilot)
        note = await open_note(pilot, app)
        note.query_one("#note-input", Input).value = "too early"
        await pilot.press("enter")
        refusal = "experiment 'width' has 1 unfinished trials"
        await wait_for(pilot, lambda: any(refusal in m for m in notices(messages)))
        assert app.screen is note and not note.saving  # the note is kept to try again
        assert note.query_one("#note-input", Input).value == "too early"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
    with Session.open(path, read_only=True) as session:
        assert session.experiment("width").status is not ExperimentStatus.CONCLUDED


async def test_conclude_is_refused_on_a_read_only_session(tmp_path: Path) -> None:
    path = ranked_experiment(tmp_path / "r.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages, read_only=True) as (app, pilot):
        review = await open_review(app, pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: any("cannot conclude" in m for m in notices(messages)))
        assert "read-only" in notices(messages)[-1] and app.screen is review
