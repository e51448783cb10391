"""The model step (PB-1, PB-4): the workload's architecture hyperparameters as a family, with
the advice to start from its smallest sensible member. Values are edited in place (enter:
categorical and boolean values cycle, numbers are typed and checked by the workload's own
declaration) and `d` records them through `tunebook decide PATH model NAME=VALUE…`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Header, Input, Static

from tunebook.core.project_start.model import ModelFamily, parse_scalar
from tunebook.sessions import BadInput, Decision, DecisionKind, TunebookError
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.project_start.recording import RecordsDecisions
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill
from tunebook.tui.widgets.text_input import TextInput

COLUMNS = (
    ("name", "hyperparameter"),
    ("kind", "kind"),
    ("default", "default"),
    ("value", "value"),
    ("help", "help"),
)

#: What deciding the model again does (the engine's `decisions.decide`).
STALE_NOTE = (
    "Changing the model marks the batch size, initial configuration, training length and "
    "stability decided with it stale."
)

if TYPE_CHECKING:
    from tunebook.core.workloads import HParam


@dataclass(frozen=True)
class ModelView:
    """What the screen shows: the family, its declarations (to check typed values) and the
    model decision in force."""

    family: ModelFamily
    declared: dict[str, HParam]
    decision: Decision | None


def value_text(value: Any) -> str:
    """A value as `tunebook decide` reads it back (`true`/`false`, numbers as Python writes
    them, strings as they are)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decision_text(view: ModelView) -> Text:
    """Whether a model is decided, stale (and why), or not yet."""
    text = Text()
    text.append("workload ", style="dim")
    text.append(safe_text(view.family.workload), style="bold")
    text.append(f" · {view.family.task}\n", style="dim")
    decision = view.decision
    if decision is None:
        text.append("not decided yet: ", style="bold")
        text.append("the values below are the workload's defaults; d records them")
    elif decision.stale:
        text.append("! stale: ", style="bold yellow")
        text.append(safe_text(decision.stale_reason), style="yellow")
    else:
        text.append("✓ decided: ", style="bold green")
        text.append(safe_text(decision.rationale))
    return text


class ModelScreen(RecordsDecisions):
    """The model family's hyperparameters; enter edits the highlighted one, d decides."""

    DEFAULT_CSS = """
    ModelScreen #model-body { height: 1fr; padding: 0 1; }
    ModelScreen #model-decision { height: auto; }
    ModelScreen #model-advice { height: auto; color: $text-muted; margin: 1 0; }
    ModelScreen #model-table { height: auto; max-height: 1fr; overflow-x: hidden; }
    ModelScreen #model-hint { height: auto; border-top: solid $primary; }
    ModelScreen #model-edit { display: none; }
    ModelScreen #model-edit.-editing { display: block; }
    ModelScreen #model-error { height: auto; color: $error; }
    """

    BINDINGS = [
        Binding(
            "e",
            "edit",
            "Edit",
            id="model.edit",
            tooltip="Change the highlighted value (or enter): cycle a choice, or type a number",
        ),
        Binding(
            "d",
            "decide",
            "Decide",
            id="model.decide",
            tooltip="Record these values as the model decision (tunebook decide … model)",
        ),
        Binding(
            "u",
            "undo",
            "Undo edits",
            id="model.undo",
            tooltip="Forget the edits not recorded yet",
        ),
        Binding("escape", "back", "Back", id="model.back", tooltip="Cancel the edit, or go back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        #: The loaded family, or None until the first read.
        self.view: ModelView | None = None
        #: Values edited on the screen and not recorded yet, by name.
        self.edits: dict[str, Any] = {}
        #: The hyperparameter the input is editing, or None.
        self.editing: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Vertical(id="model-body"):
            yield Static("loading the workload…", id="model-decision", markup=False)
            yield Static(id="model-advice", markup=False)
            yield DataTable(id="model-table", cursor_type="row", zebra_stripes=False)
            yield Static(id="model-hint", markup=False)
            yield TextInput(id="model-edit")
            yield Static(id="model-error", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "model (PB-1, PB-4)"
        self.query_one("#model-table", DataTable).focus()
        self._show_hint()
        super().on_mount()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        from tunebook.core.experiments import session_workload
        from tunebook.core.project_start.model import model_family

        def load(session: Any) -> ModelView:
            workload = session_workload(session)  # imports torch: never on the UI thread
            return ModelView(
                model_family(session, workload),
                {h.name: h for h in workload.hparams},
                session.decision(DecisionKind.MODEL),
            )

        try:
            view = self.read(load)
        except TunebookError as exc:
            message = f"cannot show the model: {exc}"
            self.app.call_from_thread(
                self.query_one("#model-decision", Static).update, safe_text(message)
            )
            raise
        self.app.call_from_thread(self._show, view)

    def _show(self, view: ModelView) -> None:
        self.view = view
        self.edits = {k: v for k, v in self.edits.items() if k in view.declared}
        self.query_one("#model-decision", Static).update(decision_text(view))
        self.query_one("#model-advice", Static).update(
            safe_text(view.family.advice) + " " + STALE_NOTE
        )
        self._fill()

    # -- the table ----------------------------------------------------------------------------

    def chosen(self) -> dict[str, Any]:
        """Every value as it would be recorded now: the edits over the current values."""
        if self.view is None:
            return {}
        return {**self.view.family.values, **self.edits}

    def _fill(self) -> None:
        if self.view is None:
            return
        chosen = self.chosen()
        rows = []
        for hparam in self.view.family.hparams:
            edited = hparam.name in self.edits and self.edits[hparam.name] != hparam.value
            shown = value_text(chosen[hparam.name]) + (" •" if edited else "")
            cells = (
                Text(safe_text(hparam.name), style="bold" if edited else ""),
                Text(hparam.kind, style="dim"),
                Text(safe_text(value_text(hparam.default))),
                Text(safe_text(shown), style="bold yellow" if edited else ""),
                Text(safe_text(hparam.help), style="dim"),
            )
            rows.append((hparam.name, cells))
        refill(self.query_one("#model-table", DataTable), COLUMNS, rows)
        self._show_hint()

    def _highlighted(self) -> HParam | None:
        if self.view is None:
            return None
        row = self.query_one("#model-table", DataTable).cursor_row
        names = list(self.view.declared)
        return self.view.declared[names[row]] if 0 <= row < len(names) else None

    def _show_hint(self) -> None:
        """The highlighted hyperparameter in full, and what is edited but not recorded."""
        hparam = self._highlighted()
        text = Text()
        if hparam is not None:
            text.append(safe_text(hparam.name), style="bold")
            text.append(f" ({hparam.kind}")
            if hparam.choices:
                text.append(": " + safe_text(", ".join(value_text(c) for c in hparam.choices)))
            text.append(f"): {safe_text(hparam.help) or 'no help given'}\n")
        changed = [
            f"{name} {value_text(self.view.family.values[name])} → {value_text(value)}"
            for name, value in self.edits.items()
            if self.view is not None and self.view.family.values[name] != value
        ]
        if self.editing is not None:
            text.append("type a value: enter takes it, escape cancels", style="bold")
        elif changed:
            text.append("edited, not recorded: ", style="bold yellow")
            text.append(safe_text(", ".join(changed)) + " (d records, u forgets)")
        else:
            text.append("e or enter edits the highlighted value; d records the values shown", "dim")
        self.query_one("#model-hint", Static).update(text)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_hint()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_edit()

    # -- editing ------------------------------------------------------------------------------

    def action_edit(self) -> None:
        """Cycle a categorical or boolean value; open the input for a number."""
        hparam = self._highlighted()
        if hparam is None:
            return
        current = self.chosen()[hparam.name]
        if hparam.kind in ("categorical", "bool"):
            choices = list(hparam.choices or ()) if hparam.kind == "categorical" else [False, True]
            index = choices.index(current) if current in choices else -1
            self.edits[hparam.name] = choices[(index + 1) % len(choices)]
            self._fill()
            return
        self.editing = hparam.name
        field = self.query_one("#model-edit", Input)
        field.placeholder = f"{hparam.name} ({hparam.kind})"
        field.value = value_text(current)
        field.add_class("-editing")
        field.focus()
        self.query_one("#model-error", Static).update("")
        self._show_hint()

    @on(Input.Submitted, "#model-edit")
    def _typed(self, event: Input.Submitted) -> None:
        """Take the typed number if the workload's declaration accepts it; else say why and
        keep the input open."""
        if self.view is None or self.editing is None:
            return
        hparam = self.view.declared[self.editing]
        try:
            value = hparam.coerce(parse_scalar(event.value))
        except BadInput as exc:
            self.query_one("#model-error", Static).update(f"refused: {safe_text(str(exc))}")
            return
        self.edits[hparam.name] = value
        self._close_edit()
        self._fill()

    def _close_edit(self) -> None:
        self.editing = None
        self.query_one("#model-edit", Input).remove_class("-editing")
        self.query_one("#model-error", Static).update("")
        self.query_one("#model-table", DataTable).focus()

    def action_undo(self) -> None:
        """Forget the edits not recorded yet."""
        self.edits.clear()
        self._close_edit()
        self._fill()

    def action_back(self) -> None:
        """Cancel the edit in progress, or go back to the session map."""
        if self.editing is not None:
            self._close_edit()
        else:
            self.dismiss()

    # -- deciding -----------------------------------------------------------------------------

    def action_decide(self) -> None:
        """Record the values shown as the model decision, in a `tunebook decide` child."""
        if self.view is None:
            return
        if self.editing is not None:
            self.notify(
                "finish the edit first (enter takes it, escape cancels)", severity="warning"
            )
            return
        self.record("model", ["model", *(f"{k}={value_text(v)}" for k, v in self.chosen().items())])

    def decided(self) -> None:
        """The edits are stored now."""
        self.edits.clear()
