"""Notes from inside the app (PB-24): the session map, the experiments screen and the trial
detail open the same small dialog (the conclude screen's `NoteScreen`), which stores the
note through a `tunebook note` child in a thread worker (the app never writes the session),
and the detail panes show the notes already kept, as data, never as markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from tunebook.sessions import Note
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.base import TunebookScreen


def ask_note(
    screen: TunebookScreen, where: str, experiment: str | None = None, trial: int | None = None
) -> None:
    """Ask for a note on the session (or experiment `experiment`, or trial `trial`, which
    `where` names for the user) and store it; refused in one sentence when the session
    cannot be written."""
    from tunebook.core.execution.control import add_note
    from tunebook.tui.screens.review import NoteScreen

    app = screen.tunebook
    refusal = app.write_refusal()
    if refusal:
        screen.notify(safe_text(f"cannot add a note: {refusal}"), severity="warning")
        return
    path = app.session_path
    assert path is not None  # write_refusal says so when no session is open
    body = Text(
        "Kept in the session file with the time, shown in the detail panes and in "
        "'tunebook export --format md'.",
        style="dim",
    )

    def save(text: str) -> str:
        return add_note(path, text, experiment=experiment, trial=trial)

    def stored(message: str | None) -> None:
        if message:
            screen.notify(safe_text(message), title="Note stored")

    app.push_screen(
        NoteScreen(f"Note on {safe_text(where)}", body, "Store", save, "what to remember"),
        stored,
    )


def notes_text(notes: Sequence[Note], title: str = "notes") -> Text:
    """The notes kept on one target, oldest first, each a line of plain text; empty when
    there are none."""
    text = Text()
    if notes:
        text.append(f"{title}:\n", style="bold")
    for note in notes:
        text.append("• " + safe_text(note.text) + "\n")
    text.rstrip()
    return text
