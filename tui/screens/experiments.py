"""The experiments and their studies: the numbers of `tunebook status`, from the same
functions (`sessions.report.status_data` and its helpers), with each study's best trial one
key away (`b`, or enter). The highlighted experiment's goal and grouped failures show
below the table (PB-5, PB-9, PB-24)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Static

from tunebook.sessions import Note
from tunebook.sessions.report import (
    WITHIN_ONE_EXAMPLE,
    WITHIN_ONE_EXAMPLE_NOTE,
    FailureGroup,
    best_label,
    best_study_id,
    chosen_by,
    experiment_state,
    status_data,
)
from tunebook.sessions.text import plural, safe_text
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.screens.notes import ask_note, notes_text
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill

#: The table's columns: (key, header). The counts are those `tunebook status` prints.
COLUMNS = (
    ("name", "experiment, study"),
    ("done", "done"),
    ("infeasible", "inf"),
    ("failed", "fail"),
    ("running", "run"),
    ("pending", "pend"),
    ("best", "best (trial)"),
    ("chosen", "chosen by"),
)
EXPERIMENT_STYLE = {
    "designed": "dim",
    "running": "cyan",
    "finished": "green",
    "concluded": "bold green",
}


def study_key(study_id: int) -> str:
    """The table row key of a study."""
    return f"study-{study_id}"


def experiment_key(experiment_id: int) -> str:
    """The table row key of an experiment."""
    return f"experiment-{experiment_id}"


def experiment_row(experiment: dict[str, Any]) -> tuple[Text, ...]:
    """An experiment's row: its name and state, and its studies' counts summed."""
    studies = experiment["studies"]
    finished = sum(s["finished"] for s in studies)
    budget = sum(s["budget"] for s in studies)

    def total(status: str) -> Text:
        return Text(str(sum(s["counts"][status] for s in studies)))

    name = Text(safe_text(experiment["name"]), style="bold")
    name.append(f"  {experiment['status']}", style=EXPERIMENT_STYLE.get(experiment["status"], ""))
    best_id = best_study_id(studies)
    best = next((s for s in studies if s["id"] == best_id), None)
    return (
        name,
        Text(f"{finished}/{budget}"),
        total("infeasible"),
        total("failed"),
        total("running"),
        total("pending"),
        Text("—" if best is None else best_label(best, True), style="bold"),
        Text(plural(len(studies), "study"), style="dim"),
    )


def study_row(study: dict[str, Any], best_study: bool) -> tuple[Text, ...]:
    """A study's row: the numbers `tunebook status` prints for it, and its counts by status."""
    counts = study["counts"]

    def count(status: str, style: str = "") -> Text:
        value = counts[status]
        return Text(str(value), style=style if value else "dim")

    label = best_label(study, best_study)
    return (
        Text("  " + safe_text(study["name"])),
        Text(f"{study['finished']}/{study['budget']}"),
        count("infeasible", "yellow"),
        count("failed", "red"),
        count("running", "cyan"),
        count("pending"),
        Text(label, style="bold green" if best_study and study["best_value"] is not None else ""),
        Text(safe_text(chosen_by(study))),
    )


def experiment_text(experiment: dict[str, Any], study: dict[str, Any] | None) -> Text:
    """Below the table: the experiment's goal and state, the highlighted study's objective
    and best trial, and the experiment's failed trials grouped by error."""
    text = Text()
    text.append(safe_text(experiment["name"]), style="bold")
    text.append(f" ({experiment_state(experiment)}), max_train_steps ")
    text.append(f"{experiment['max_train_steps']}\n")
    text.append("goal: ", style="bold")
    text.append((safe_text(experiment["goal"]) or "—") + "\n")
    if study is not None:
        objective = study["objective"]
        text.append("study ", style="bold")
        text.append(safe_text(study["name"]), style="bold")
        text.append(
            f": points chosen by {safe_text(chosen_by(study))}, objective "
            f"{safe_text(objective['metric'])} ({objective['mode']}), "
        )
        if study["best_trial"] is None:
            text.append("no finished trial with a value yet\n", style="dim")
        else:
            text.append(f"best trial {study['best_trial']} (b opens it)\n")
    best_id = best_study_id(experiment["studies"])
    labels = [best_label(s, s["id"] == best_id) for s in experiment["studies"]]
    if any(label.endswith(WITHIN_ONE_EXAMPLE) for label in labels):  # as `status` says it
        text.append(WITHIN_ONE_EXAMPLE_NOTE + "\n", style="dim")
    for group in experiment["failures"]:
        text.append(FailureGroup.from_dict(group).line() + "\n", style="red")
    text.rstrip()
    return text


class ExperimentsScreen(SessionScreen):
    """Every experiment, its studies under it; `b` (or enter) opens the highlighted study's
    best trial (on an experiment, its best study's)."""

    BINDINGS = [
        Binding(
            "b", "best_trial", "Best trial", id="experiments.best",
            tooltip="Open the highlighted study's best trial",
        ),
        Binding(
            "enter", "best_trial", "Best trial", id="experiments.open", show=False,
            tooltip="Open the highlighted study's best trial",
        ),
        Binding(
            "v", "review", "Review", id="experiments.review",
            tooltip="Review the highlighted experiment: its checklist and plots",
        ),
        Binding(
            "d", "new_experiment", "Design new", id="experiments.new",
            tooltip="Design a new experiment over the session's decisions",
        ),
        Binding(
            "D", "new_from_this", "Design from this", id="experiments.new_from",
            tooltip="Design a new experiment from the highlighted one: its design, a new goal",
        ),
        Binding(
            "o", "note", "Note", id="experiments.note",
            tooltip="Attach a note to the highlighted experiment",
        ),
        Binding(
            "escape", "back", "Back", id="experiments.back", tooltip="Back to the previous screen"
        ),
    ]

    #: `status_data` as last read; None until the first read.
    status: reactive[dict[str, Any] | None] = reactive(None, init=False)
    #: The notes kept on each experiment, by experiment id, as last read.
    notes: dict[int, list[Note]]

    def __init__(self) -> None:
        super().__init__()
        self.notes = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Vertical(id="experiments-body"):
            yield DataTable(id="experiments", cursor_type="row", zebra_stripes=False)
            yield Static(id="experiment-detail", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "experiments and studies"
        table = self.query_one("#experiments", DataTable)
        refill(table, COLUMNS, [])
        table.focus()
        super().on_mount()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        data, notes = self.read(lambda session: (status_data(session), session.notes()))
        by_experiment: dict[int, list[Note]] = {}
        for note in notes:
            kind, _, target = note.target.partition(":")
            if kind == "experiment" and target.isdigit():
                by_experiment.setdefault(int(target), []).append(note)
        self.app.call_from_thread(self._loaded, data, by_experiment)

    def _loaded(self, data: dict[str, Any], notes: dict[int, list[Note]]) -> None:
        self.notes = notes
        if self.status == data:  # the same status (a reactive would not redraw): new notes
            self._show_detail()
        self.status = data

    def rows(self) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """The table's rows in order: (experiment, None) then (experiment, study) per study."""
        if self.status is None:
            return []
        out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for experiment in self.status["experiments"]:
            out.append((experiment, None))
            out.extend((experiment, study) for study in experiment["studies"])
        return out

    def watch_status(self, data: dict[str, Any] | None) -> None:
        if data is None:
            return
        table = self.query_one("#experiments", DataTable)
        first_paint = table.row_count == 0
        table_rows = []
        for experiment in data["experiments"]:
            table_rows.append((experiment_key(experiment["id"]), experiment_row(experiment)))
            best_id = best_study_id(experiment["studies"])
            for study in experiment["studies"]:
                cells = study_row(study, study["id"] == best_id)
                table_rows.append((study_key(study["id"]), cells))
        refill(table, COLUMNS, table_rows)
        rows = self.rows()
        if first_paint and len(rows) > 1 and rows[1][1] is not None:
            table.move_cursor(row=1)  # first paint: on the first study
        self._show_detail()

    def _highlighted(self) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        rows = self.rows()
        row = self.query_one("#experiments", DataTable).cursor_row
        return rows[row] if 0 <= row < len(rows) else None

    def _show_detail(self) -> None:
        detail = self.query_one("#experiment-detail", Static)
        highlighted = self._highlighted()
        if highlighted is None:
            detail.update(
                "no experiments yet: n designs one (or 'tunebook experiment add PATH SPEC.toml')"
            )
            return
        text = experiment_text(*highlighted)
        noted = notes_text(self.notes.get(highlighted[0]["id"], ()))
        detail.update(text + Text("\n") + noted if noted else text)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_best_trial()

    def best_trial(self) -> int | None:
        """The best trial of the highlighted study (of the best study on an experiment row)."""
        highlighted = self._highlighted()
        if highlighted is None:
            return None
        experiment, study = highlighted
        if study is None:
            best_id = best_study_id(experiment["studies"])
            study = next((s for s in experiment["studies"] if s["id"] == best_id), None)
        return None if study is None else study["best_trial"]

    def action_best_trial(self) -> None:
        """Open the highlighted study's best trial."""
        trial_id = self.best_trial()
        if trial_id is None:
            self.notify("no finished trial with a value here yet", severity="warning")
            return
        self.tunebook.show_trial(trial_id)

    def action_review(self) -> None:
        """Review the highlighted experiment (PB-11 … PB-16)."""
        highlighted = self._highlighted()
        if highlighted is None:
            self.notify("no experiment to review yet", severity="warning")
            return
        self.tunebook.show_review(highlighted[0]["name"])

    def action_new_experiment(self) -> None:
        """The designer, pre-filled from the session's decisions (PB-5 … PB-10)."""
        self.tunebook.show_designer()

    def action_new_from_this(self) -> None:
        """The designer with the highlighted experiment's design, goal and name cleared."""
        highlighted = self._highlighted()
        if highlighted is None:
            self.notify("no experiment to copy yet", severity="warning")
            return
        self.tunebook.show_designer(highlighted[0]["name"])

    def action_note(self) -> None:
        """Attach a note to the highlighted experiment (PB-24)."""
        highlighted = self._highlighted()
        if highlighted is None:
            self.notify("no experiment to note yet", severity="warning")
            return
        name = highlighted[0]["name"]
        ask_note(self, f"experiment {name}", experiment=name)

    def action_back(self) -> None:
        """Back to the screen that opened this one."""
        self.dismiss()
