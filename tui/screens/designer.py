"""The experiment designer (PB-5 … PB-10, PB-19, PB-28): one goal, every hyperparameter of
the pipeline scientific / nuisance / fixed, the search settings, and live as the user
edits: the playbook's advice, the studies and trials, the estimated wall time, and a
preview of the first study's first quasi-random points.

The screen edits a `tunebook.core.design.draft.Draft`; every check, number and point comes
from `core` (`check`, `advise`, `plan_studies`, `estimate`, `preview`) in a thread worker,
debounced, so the UI never waits. Saving writes the TOML spec with `spec_to_toml` and adds
it through a `tunebook experiment add PATH SPEC.toml` child: the app never writes the
session, and the file reproduces the experiment from the command line.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Label, Static
from textual_plotext import PlotextPlot

from tunebook.core.design import Advice, Role, explain_role
from tunebook.core.design.draft import (
    SOURCE,
    ConditionalDim,
    Draft,
    Estimate,
    Issue,
    Preview,
    add_conditional,
    check,
    conditional_dims,
    conditional_space,
    cycle_role,
    format_scalar,
    goal_examples,
    parse_row_text,
    remove_conditional,
    row_text,
    set_conditional_text,
    space_text,
    suggest_conditional,
    to_spec,
)
from tunebook.sessions import BadInput, TunebookError
from tunebook.sessions.text import plural, safe_text
from tunebook.tui.chart_axes import log_ticks
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.widgets.histogram import linear_ticks
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill
from tunebook.tui.widgets.text_input import TextInput

COLUMNS = (("name", "hyperparameter"), ("role", "role"), ("value", "value, values or range"))
ROLE_STYLE = {Role.SCIENTIFIC: "bold magenta", Role.NUISANCE: "cyan", Role.FIXED: "dim"}
#: Seconds the designer waits after the last keystroke before checking the draft again.
DEBOUNCE = 0.25
#: Terminal columns below which the live panel is one key (`p`) away instead of beside.
WIDE = 110
#: The settings shown under the hyperparameters: key, label.
SETTINGS = (
    ("algorithm", "algorithm"),
    ("trials", "trials per study"),
    ("layout", "layout"),
    ("seed", "seed"),
    ("max_train_steps", "max_train_steps"),
    ("metric", "objective metric"),
    ("mode", "objective mode"),
    ("eval_every", "eval_every"),
    ("checkpoint_every", "checkpoint_every"),
    ("spec_path", "spec file"),
)
#: What the settings column says each setting is.
SETTING_KIND = {
    "max_train_steps": "budget",
    "metric": "objective",
    "mode": "objective",
    "eval_every": "training",
    "checkpoint_every": "training",
    "spec_path": "file",
}
#: The settings of [search]; the others are top-level keys or [objective].
SEARCH = ("algorithm", "trials", "layout", "seed")
#: Training settings written at the spec's top level when set.
CADENCE = ("eval_every", "checkpoint_every")
#: Objective directions, in the order enter cycles them.
MODES = ("min", "max")
CYCLES = {
    "algorithm": ("quasi-random", "random", "grid", "bayesian"),
    "layout": ("per-value", "combined"),
}
SETTING_HELP = {
    "algorithm": "quasi-random samples the nuisance space evenly (PB-29); enter cycles",
    "trials": "trials in each study (PB-10, PB-28: the budget decides which of Adam's to tune)",
    "layout": "per-value: one study per scientific value; combined: one study sampling them "
    "too (PB-9); enter cycles",
    "seed": "the quasi-random sequence's seed: the same seed gives the same points",
    "max_train_steps": "one step budget for every trial, from the decision (PB-19); never nuisance",
    "metric": "the validation metric a trial is judged by; the workload's objective when "
    "left out; enter cycles the metrics the workload reports",
    "mode": "whether a lower (min) or higher (max) objective is better; enter cycles",
    "eval_every": "evaluate every N steps (PB-22); left out: the training loop's default",
    "checkpoint_every": "save a resumable checkpoint every N steps; left out: the default",
    "spec_path": "where saving writes the TOML spec, which 'tunebook experiment add' reads",
}
#: The prefix of the row key of a conditional dimension (PB-8).
COND = "cond"


def cond_key(dim: ConditionalDim) -> str:
    """The table row key of a conditional dimension."""
    return f"{COND}:" + json.dumps([dim.scientific, dim.value, dim.name])


def dim_of(key: str) -> ConditionalDim:
    """The conditional dimension of a row key made by `cond_key`."""
    return ConditionalDim(*json.loads(key.partition(":")[2]))


_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Loaded:
    """What the load worker found: the draft, the names a spec may use, the objective, and
    the metrics the workload reports (the objective's first)."""

    draft: Draft
    known: frozenset[str]
    metric: str
    folder: Path
    metrics: tuple[str, ...] = ()
    mode: str = "min"


@dataclass(frozen=True)
class Live:
    """What the check worker computed for one version of the draft."""

    generation: int
    issues: tuple[Issue, ...]
    estimate: Estimate | None = None
    advice: tuple[Advice, ...] = ()
    preview: Preview | None = None


def spec_file_name(name: str) -> str:
    """A file name for experiment `name`'s spec: letters, digits, ``_ . -`` kept."""
    stem = _FILE_NAME.sub("-", name).strip("-.") or "experiment"
    return f"{stem}.toml"


def grouped(advice: tuple[Advice, ...]) -> list[tuple[Advice, int]]:
    """Each kind of warning once (its first message) with how many more of it there are:
    a warning per study would fill the panel."""
    firsts: dict[str, Advice] = {}
    counts: dict[str, int] = {}
    for item in advice:
        firsts.setdefault(item.code, item)
        counts[item.code] = counts.get(item.code, 0) + 1
    return [(item, counts[code] - 1) for code, item in firsts.items()]


class PreviewPlot(PlotextPlot):
    """The first study's first points on its two widest nuisance dimensions (PB-9)."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._preview: Preview | None = None

    def show(self, preview: Preview | None) -> None:
        """Draw `preview` (nothing to draw: say so in the title)."""
        self._preview = preview
        self.replot()

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def replot(self) -> None:
        """Redraw from the kept preview; log axes as log10 values with readable ticks."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        preview = self._preview
        if preview is None or not preview.names or not preview.points:
            plt.title(
                "preview: once the errors are fixed"
                if preview is None
                else "preview: no numeric nuisance dimension to draw"
            )
            self.refresh()
            return
        axes = []
        for index in range(len(preview.names)):
            values = [point[index] for point in preview.points]
            if preview.log[index]:
                values = [math.log10(v) for v in values if v > 0]
            axes.append(values)
        xs, ys = axes[0], axes[1] if len(axes) > 1 else [0.0] * len(axes[0])
        plt.scatter(xs, ys, marker="dot")
        for index, ticks in ((0, plt.xticks), (1, plt.yticks)):
            if index < len(axes) and axes[index]:
                # Ticks of our own on both scales: plotext's own labels of a linear axis
                # can round one way or the other from one draw to the next.
                # Few enough on y that no two share a row of a short chart.
                low, high = min(axes[index]), max(axes[index])
                if preview.log[index]:
                    positions, labels = log_ticks(low, high)
                    if index and len(positions) > 3:  # decades only, or ends
                        kept = [i for i, p in enumerate(positions) if abs(p - round(p)) < 1e-9]
                        kept = kept if len(kept) >= 2 else [0, len(positions) - 1]
                        positions, labels = [positions[i] for i in kept], [labels[i] for i in kept]
                    ticks(positions, labels)
                else:
                    ticks(*linear_ticks(low, high, 3 if index else 5))
        plt.title(f"first {len(preview.points)} points of the first study")
        self.refresh()


class AddedScreen(ModalScreen[None]):
    """What `tunebook experiment add` printed for the saved experiment."""

    DEFAULT_CSS = """
    AddedScreen { align: center middle; }
    AddedScreen #added-dialog {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: thick $success; background: $surface; padding: 1 2;
    }
    AddedScreen #added-output { height: auto; }
    AddedScreen #added-hint { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding(
            "enter,escape",
            "close",
            "Experiments",
            id="designer.added.close",
            tooltip="Back to the experiments",
        ),
    ]

    def __init__(self, output: str) -> None:
        super().__init__()
        self._output = output

    def compose(self) -> ComposeResult:
        with Vertical(id="added-dialog"):
            yield Label("Experiment added", id="added-title")
            yield Static(safe_text(self._output), id="added-output", markup=False)
            yield Static("enter: back to the experiments", id="added-hint", markup=False)

    def action_close(self) -> None:
        """Back to the experiments."""
        self.dismiss(None)


class DesignerScreen(SessionScreen):
    """Design an experiment: the goal, every hyperparameter's role and values, the search;
    `ctrl+s` writes the TOML spec and adds it through `tunebook experiment add`."""

    #: The app's next-step key does not leave the designer: unsaved edits would be lost.
    GUIDED = False

    DEFAULT_CSS = """
    DesignerScreen #designer-body { height: 1fr; }
    DesignerScreen #designer-main { width: 1fr; padding: 0 1; }
    DesignerScreen #designer-live {
        width: 52; padding: 0 1; border-left: solid $primary;
    }
    DesignerScreen.-narrow #designer-live { display: none; }
    DesignerScreen.-narrow.-live #designer-main { display: none; }
    DesignerScreen.-narrow.-live #designer-live { display: block; width: 1fr; border-left: none; }
    DesignerScreen .designer-field { height: 1; }
    DesignerScreen .designer-label { width: 6; color: $text-muted; }
    DesignerScreen #designer-name { width: 1fr; }
    DesignerScreen #designer-goal { width: 1fr; }
    DesignerScreen #designer-examples { height: auto; max-height: 2; color: $text-muted; }
    DesignerScreen #designer-table { height: 1fr; margin-top: 1; }
    DesignerScreen #designer-hint { height: auto; max-height: 3; color: $text-muted; }
    DesignerScreen #designer-edit { display: none; }
    DesignerScreen #designer-edit.-editing { display: block; }
    DesignerScreen #designer-error { height: auto; max-height: 4; color: $error; }
    DesignerScreen #designer-status { height: auto; border-top: solid $primary; }
    DesignerScreen #designer-summary { height: auto; }
    DesignerScreen #designer-advice { height: auto; max-height: 12; color: $warning; }
    DesignerScreen #designer-preview { height: 1fr; min-height: 8; }
    DesignerScreen #designer-coverage { height: auto; }
    """

    BINDINGS = [
        Binding(
            "r",
            "cycle_role",
            "Role",
            id="designer.role",
            tooltip="Make the highlighted hyperparameter scientific, nuisance or fixed",
        ),
        Binding(
            "e",
            "edit",
            "Edit",
            id="designer.edit",
            tooltip="Edit the highlighted value, values or range (or enter)",
        ),
        Binding(
            "w",
            "add_conditional",
            "When…",
            id="designer.when",
            tooltip="Add a nuisance hyperparameter searched only when this scientific one "
            "takes one value (PB-8), e.g. nesterov: momentum",
        ),
        Binding(
            "x",
            "remove_conditional",
            "Remove",
            id="designer.remove_when",
            tooltip="Remove the highlighted conditional nuisance hyperparameter",
        ),
        Binding(
            "ctrl+s",
            "save",
            "Save",
            id="designer.save",
            tooltip="Write the TOML spec and add the experiment (tunebook experiment add)",
        ),
        Binding(
            "p",
            "toggle_live",
            "Preview",
            id="designer.preview",
            tooltip="Show the advice, the estimate and the preview (narrow terminals)",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            id="designer.back",
            tooltip="Cancel the edit, or go back",
        ),
    ]

    def __init__(self, from_experiment: str | None = None) -> None:
        super().__init__()
        #: "New experiment from this one": the experiment whose design is copied.
        self.from_experiment = from_experiment
        self.loaded: Loaded | None = None
        #: The draft being edited (None until loaded).
        self.draft: Draft | None = None
        #: The row key being edited, and its text before the edit (escape restores it).
        self.editing: str | None = None
        self._before = ""
        #: The last check's result, and the generation of the draft it checked.
        self.live: Live | None = None
        self.generation = 0
        #: The spec path, once typed (else the session folder and the experiment's name).
        self.spec_path_typed: Path | None = None
        #: Spec files this screen wrote (it overwrites only its own).
        self.written: set[Path] = set()
        #: A save waiting for the check of the current draft.
        self.saving = False
        self._timer: Timer | None = None

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Horizontal(id="designer-body"):
            with Vertical(id="designer-main"):
                with Horizontal(classes="designer-field"):
                    yield Label("name", classes="designer-label")
                    yield TextInput(
                        placeholder="a short name, e.g. depth", id="designer-name", compact=True
                    )
                with Horizontal(classes="designer-field"):
                    yield Label("goal", classes="designer-label")
                    yield TextInput(
                        placeholder="one narrow question (PB-7)", id="designer-goal", compact=True
                    )
                yield Static("", id="designer-examples", markup=False)
                yield DataTable(id="designer-table", cursor_type="row", zebra_stripes=False)
                yield Static("loading the workload…", id="designer-hint", markup=False)
                yield TextInput(id="designer-edit", compact=True)
                yield Static("", id="designer-error", markup=False)
                yield Static("", id="designer-status", markup=False)
            with Vertical(id="designer-live"):
                yield Static("", id="designer-summary", markup=False)
                yield Static("", id="designer-advice", markup=False)
                yield PreviewPlot(id="designer-preview")
                yield Static("", id="designer-coverage", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "new experiment" + (
            f" from {safe_text(self.from_experiment)}" if self.from_experiment else ""
        )
        self._fit(self.app.size.width)
        super().on_mount()

    def on_resize(self) -> None:
        self._fit(self.app.size.width)

    def _fit(self, width: int) -> None:
        self.set_class(width < WIDE, "-narrow")

    # -- loading ------------------------------------------------------------------------------

    def reload(self) -> None:
        """Load the draft once; later changes of the session re-check it (the estimate
        follows new probes), never replace the user's edits."""
        if self.draft is None:
            self._load()
        else:
            self.schedule_check()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        from tunebook.core.design.draft import (
            draft_from_experiment,
            draft_from_session,
            reported_metrics,
        )
        from tunebook.core.design.first_question import suggest_first_question
        from tunebook.core.execution.trial_config import known_hparams
        from tunebook.core.experiments import session_workload

        source = self.from_experiment

        def load(session: Any) -> Loaded:
            workload = session_workload(session)  # imports torch: never on the UI thread
            draft = draft_from_session(session, workload)
            if source is not None:
                draft = draft_from_experiment(session.experiment(source), draft)
            elif not session.experiments():
                draft = suggest_first_question(draft, workload.objective.metric)
            return Loaded(
                draft,
                frozenset(known_hparams(workload)),
                workload.objective.metric,
                Path(session.path).parent,
                reported_metrics(workload),
                workload.objective.mode,
            )

        try:
            loaded = self.read(load)
        except TunebookError as exc:
            message = safe_text(f"cannot design an experiment: {exc}")
            self.app.call_from_thread(self.query_one("#designer-hint", Static).update, message)
            raise
        self.app.call_from_thread(self._show_loaded, loaded)

    def _show_loaded(self, loaded: Loaded) -> None:
        if self.draft is not None:
            return  # a second load (the session changed while the first ran): keep the edits
        self.loaded, self.draft = loaded, loaded.draft
        examples = goal_examples(loaded.draft, loaded.metric)
        self.query_one("#designer-examples", Static).update(
            "narrow goals, e.g. " + " · ".join(safe_text(e) for e in examples[:2])
        )
        self.query_one("#designer-name", Input).value = loaded.draft.name
        self.query_one("#designer-goal", Input).value = loaded.draft.goal
        self._fill()
        self.query_one("#designer-table", DataTable).focus()
        self.schedule_check()

    # -- the table ----------------------------------------------------------------------------

    def row_keys(self) -> list[str]:
        """The table's row keys in order: hyperparameters, conditional sets, settings."""
        if self.draft is None:
            return []
        keys = []
        placed: set[str] = set()
        for row in self.draft.hparams:
            keys.append(f"hparam:{row.name}")
            if row.role is Role.SCIENTIFIC:
                keys += [cond_key(dim) for dim in conditional_dims(self.draft, row.name)]
                placed.add(row.name)
        # Sets hanging on a name that is no longer scientific: shown, so their error is.
        keys += [
            cond_key(dim) for dim in conditional_dims(self.draft) if dim.scientific not in placed
        ]
        return keys + [f"setting:{key}" for key, _ in SETTINGS]

    def spec_path(self) -> Path:
        """Where saving writes the spec: as typed, else the session folder and the name."""
        if self.spec_path_typed is not None:
            return self.spec_path_typed
        folder = self.loaded.folder if self.loaded is not None else Path(".")
        name = self.draft.name if self.draft is not None else ""
        return folder / spec_file_name(name)

    def setting_text(self, key: str) -> str:
        """A search setting as shown and edited."""
        assert self.draft is not None
        if key == "spec_path":
            return str(self.spec_path())
        if key == "max_train_steps":
            value = self.draft.max_train_steps
            return "" if value is None else str(value)
        if key in ("metric", "mode"):
            return "" if self.draft.objective is None else str(self.draft.objective.get(key, ""))
        if key in CADENCE:
            value = self.draft.settings.get(key)
            return "" if value is None else format_scalar(value)
        value = self.draft.search.get(key)
        return "" if value is None else format_scalar(value)

    def issues_of(self, key: str) -> list[Issue]:
        """The current issues that name the row `key` (a row key of the table)."""
        if self.live is None or self.draft is None:
            return []
        kind, _, name = key.partition(":")
        if kind == "add":
            return []
        if kind == "hparam":
            spec_key = self.draft.row(name).key
            return [i for i in self.live.issues if i.key == spec_key]
        if kind == COND:
            own = dim_of(key).key
            return [
                i
                for i in self.live.issues
                if i.key == own or (i.key.startswith("nuisance.when.") and own.startswith(i.key))
            ]
        if name in SEARCH:
            return [i for i in self.live.issues if i.key == "search"]
        if name in ("metric", "mode"):
            return [i for i in self.live.issues if i.key == "objective"]
        return [i for i in self.live.issues if i.key == name]

    def _cells(self, key: str) -> tuple[Text, ...]:
        assert self.draft is not None
        kind, _, name = key.partition(":")
        bad = bool(self.issues_of(key))
        label = Text("✗ ", style="bold red") if bad else Text()
        if kind == "hparam":
            row = self.draft.row(name)
            label.append(safe_text(name), style="bold" if row.role is not Role.FIXED else "")
            shown = row_text(row)
            if row.role is Role.FIXED and row.value is None:
                default = "not set" if row.default is None else format_scalar(row.default)
                shown = f"(left out: {default})"
            return (
                label,
                Text(row.role.value, style=ROLE_STYLE[row.role]),
                Text(safe_text(shown), style="red" if bad else ""),
            )
        if kind == COND:
            dim = dim_of(key)
            label = Text("  ") + label
            label.append(f"when {safe_text(dim.scientific)} = {safe_text(dim.value)}: ", "italic")
            label.append(safe_text(dim.name), style="bold")
            return (
                label,
                Text("nuisance", style=ROLE_STYLE[Role.NUISANCE]),
                Text(
                    safe_text(space_text(conditional_space(self.draft, dim))),
                    style="red" if bad else "",
                ),
            )
        shown = self.setting_text(name)
        if not shown and name in ("metric", "mode") and self.loaded is not None:
            default = self.loaded.metric if name == "metric" else self.loaded.mode
            shown = f"(left out: {default})"
        elif not shown and name in CADENCE:
            shown = "(left out: the default)"
        return (
            label.append(dict(SETTINGS)[name], style="italic"),
            Text(SETTING_KIND.get(name, "search"), style="green"),
            Text(safe_text(shown), style="red" if bad else ""),
        )

    def _fill(self) -> None:
        if self.draft is None:
            return
        rows = [(key, self._cells(key)) for key in self.row_keys()]
        refill(self.query_one("#designer-table", DataTable), COLUMNS, rows)
        self._show_hint()

    def highlighted(self) -> str | None:
        """The row key under the cursor."""
        keys = self.row_keys()
        row = self.query_one("#designer-table", DataTable).cursor_row
        return keys[row] if 0 <= row < len(keys) else None

    def _show_hint(self) -> None:
        """The highlighted row's reason and help, and its errors under the field."""
        key = self.editing or self.highlighted()
        if self.draft is None or key is None:
            return
        kind, _, name = key.partition(":")
        text = Text()
        if kind == "hparam":
            row = self.draft.row(name)
            text.append(safe_text(row.reason or f"{name}: {row.role.value}"))
            if row.help:
                text.append(f"\n{safe_text(row.help)}", style="italic")
        elif kind == COND:
            dim = dim_of(key)
            text.append(
                safe_text(
                    f"{dim.name}: nuisance only in the studies where {dim.scientific} = "
                    f"{dim.value} (PB-8: a different hyperparameter there, with its own range)"
                )
            )
            text.append("\nenter edits the range · w adds another · x removes it", "italic")
        elif kind == "add":
            text.append(
                safe_text(f"a nuisance hyperparameter searched only for one value of {name} (PB-8)")
            )
        else:
            text.append(SETTING_HELP[name])
        if kind == "add":
            text.append(
                "\ntype: VALUE: HYPERPARAMETER (e.g. nesterov: momentum); enter adds it with "
                "its default range, escape cancels",
                style="bold",
            )
        elif self.editing is not None:
            text.append(
                "\ntype: a value · values a, b, c · a range low .. high [log] [int]; "
                "enter keeps it, escape restores it",
                style="bold",
            )
        self.query_one("#designer-hint", Static).update(text)
        self._show_errors()

    def _show_errors(self) -> None:
        """Errors of the highlighted (or edited) row, then those of name, goal and search."""
        key = self.editing or self.highlighted()
        lines = [i.message for i in self.issues_of(key)] if key else []
        if self.live is not None:
            shown = {i.message for i in self.issues_of(key)} if key else set()
            lines += [
                i.message
                for i in self.live.issues
                if i.message not in shown and i.key in ("name", "goal", "")
            ]
        self.query_one("#designer-error", Static).update(
            "\n".join(f"✗ {safe_text(line)}" for line in lines)
        )

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_hint()
        self.refresh_bindings()

    def scientific_here(self) -> str | None:
        """The scientific hyperparameter of the highlighted row (itself, or the one its
        conditional dimension hangs on); None elsewhere."""
        key = self.highlighted()
        if self.draft is None or key is None:
            return None
        kind, _, name = key.partition(":")
        if kind == COND:
            name = dim_of(key).scientific
        elif kind != "hparam":
            return None
        row = next((r for r in self.draft.hparams if r.name == name), None)
        return name if row is not None and row.role is Role.SCIENTIFIC else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`w` on a scientific row or its conditional rows, `x` on a conditional row only."""
        if action == "add_conditional":
            return self.scientific_here() is not None
        if action == "remove_conditional":
            key = self.highlighted()
            return key is not None and key.startswith(f"{COND}:")
        return True

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_edit()

    # -- editing ------------------------------------------------------------------------------

    def action_cycle_role(self) -> None:
        """scientific → nuisance → fixed for the highlighted hyperparameter."""
        key = self.highlighted()
        if self.draft is None or key is None or self.editing is not None:
            return
        kind, _, name = key.partition(":")
        if kind != "hparam":
            self.notify("only hyperparameters have a role", severity="warning")
            return
        row = self.draft.row(name)
        role = cycle_role(row, self.draft.max_train_steps)
        rule = explain_role(name).split(" — ", 1)[-1]
        row.reason = f"{name}: {role.value} — your choice (the rule of thumb: {rule})"
        self.changed()

    def action_edit(self) -> None:
        """Cycle a setting with a few choices; open the field for anything typed."""
        key = self.highlighted()
        if self.draft is None or key is None:
            return
        kind, _, name = key.partition(":")
        if kind == "setting" and name in ("metric", "mode"):
            self._cycle_objective(name)
            return
        if kind == "setting" and name in CYCLES:
            choices = CYCLES[name]
            current = self.draft.search.get(name)
            index = choices.index(current) if current in choices else -1
            self.draft.search[name] = choices[(index + 1) % len(choices)]
            self.changed()
            return
        if kind == "hparam":
            text = row_text(self.draft.row(name))
        elif kind == COND:
            text = space_text(conditional_space(self.draft, dim_of(key)))
        else:
            text = self.setting_text(name)
        self._open_field(key, text, name)

    def _open_field(self, key: str, text: str, placeholder: str) -> None:
        """Open the edit field on row `key` with `text` (escape restores it)."""
        self.editing, self._before = key, text
        field = self.query_one("#designer-edit", Input)
        field.value = text
        field.placeholder = placeholder
        field.add_class("-editing")
        field.focus()
        self._show_hint()

    def _cycle_objective(self, name: str) -> None:
        """The next metric the workload reports, or the other direction; the [objective]
        table is written from the first change on (left out, the workload's applies)."""
        assert self.draft is not None and self.loaded is not None
        objective = dict(self.draft.objective or {})
        objective.setdefault("metric", self.loaded.metric)
        objective.setdefault("mode", self.loaded.mode)
        choices = (self.loaded.metrics or (self.loaded.metric,)) if name == "metric" else MODES
        current = objective[name]
        index = choices.index(current) if current in choices else -1
        objective[name] = choices[(index + 1) % len(choices)]
        self.draft.objective = objective
        self.changed()

    def action_add_conditional(self) -> None:
        """Open the field for ``VALUE: NAME``, offering a likely one (PB-8)."""
        scientific = self.scientific_here()
        if self.draft is None or scientific is None or self.editing is not None:
            return
        suggestion = suggest_conditional(self.draft, scientific)
        self._open_field(f"add:{scientific}", suggestion, "VALUE: HYPERPARAMETER")

    def _add(self, scientific: str, text: str) -> bool:
        """Add the typed conditional dimension and highlight it; False (and why, in one
        sentence) when it cannot be added."""
        assert self.draft is not None
        value, _, name = text.rpartition(":")
        try:
            dim = add_conditional(self.draft, scientific, value, name)
        except BadInput as exc:
            self.notify(safe_text(str(exc)), title="Not added", severity="warning")
            return False
        self.changed()
        self.query_one("#designer-table", DataTable).move_cursor(
            row=self.row_keys().index(cond_key(dim))
        )
        return True

    def action_remove_conditional(self) -> None:
        """Remove the highlighted conditional dimension."""
        key = self.highlighted()
        if self.draft is None or key is None or not key.startswith(f"{COND}:"):
            return
        if self.editing is not None:
            return
        table = self.query_one("#designer-table", DataTable)
        row = table.cursor_row
        remove_conditional(self.draft, dim_of(key))
        self.changed()
        table.move_cursor(row=row - 1)  # the row above: its scientific row or a sibling

    def _apply(self, key: str, text: str) -> None:
        """Put typed text into the draft (never refused: the check says what is wrong)."""
        assert self.draft is not None
        kind, _, name = key.partition(":")
        if kind == "hparam":
            parse_row_text(self.draft.row(name), text)
        elif kind == COND:
            set_conditional_text(self.draft, dim_of(key), text)
        elif name == "spec_path":
            self.spec_path_typed = Path(text.strip()) if text.strip() else None
        elif name == "max_train_steps":
            value = parse_typed(text)
            self.draft.max_train_steps = None if value == "" else value
        elif name in CADENCE:
            value = parse_typed(text)
            if value == "":
                self.draft.settings.pop(name, None)
            else:
                self.draft.settings[name] = value
        else:
            value = parse_typed(text)
            if value == "":
                self.draft.search.pop(name, None)
            else:
                self.draft.search[name] = value

    @on(Input.Changed, "#designer-edit")
    def _typed(self, event: Input.Changed) -> None:
        if self.editing is not None and not self.editing.startswith("add:"):
            self._apply(self.editing, event.value)
            self.changed()

    @on(Input.Submitted, "#designer-edit")
    def _submitted(self, event: Input.Submitted) -> None:
        editing = self.editing
        if editing is not None and editing.startswith("add:"):
            self._close_edit()
            if not self._add(editing.partition(":")[2], event.value):
                self._open_field(editing, event.value, "VALUE: HYPERPARAMETER")
            return
        self._close_edit()

    def _close_edit(self) -> None:
        self.editing = None
        self.query_one("#designer-edit", Input).remove_class("-editing")
        self.query_one("#designer-table", DataTable).focus()
        self._show_hint()

    @on(Input.Changed, "#designer-name")
    def _named(self, event: Input.Changed) -> None:
        if self.draft is not None:
            self.draft.name = event.value
            self.changed()

    @on(Input.Changed, "#designer-goal")
    def _goal(self, event: Input.Changed) -> None:
        if self.draft is not None:
            self.draft.goal = event.value
            self.changed()

    @on(Input.Submitted, "#designer-name, #designer-goal")
    def _field_done(self, _event: Input.Submitted) -> None:
        self.query_one("#designer-table", DataTable).focus()

    def action_back(self) -> None:
        """Restore the field being edited, leave the name or goal, or go back."""
        if self.editing is not None and self.editing.startswith("add:"):
            self._close_edit()
        elif self.editing is not None:
            self._apply(self.editing, self._before)
            self._close_edit()
            self.changed()
        elif isinstance(self.focused, Input):
            self.query_one("#designer-table", DataTable).focus()
        else:
            self.dismiss()

    def action_toggle_live(self) -> None:
        """On a narrow terminal, show the live panel instead of the table (and back)."""
        self.toggle_class("-live")

    # -- the live check -----------------------------------------------------------------------

    def changed(self) -> None:
        """The draft changed: redraw the table now, check it after a pause in typing."""
        self.generation += 1
        self._fill()
        self.refresh_bindings()
        self.schedule_check()

    def schedule_check(self) -> None:
        """Check the draft `DEBOUNCE` seconds from now (a newer change restarts the wait)."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self._start_check)

    def _start_check(self) -> None:
        if self.draft is not None and self.loaded is not None:
            self._check(copy.deepcopy(self.draft), self.loaded.known, self.generation)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def _check(self, draft: Draft, known: frozenset[str], generation: int) -> None:
        from tunebook.core.design import advise, design_from_dict, plan_studies
        from tunebook.core.design.draft import estimate, preview

        issues = tuple(check(draft, known))
        if any(issue.key not in ("name", "goal") for issue in issues):
            self.app.call_from_thread(self._show_live, Live(generation, issues))
            return
        # Only the name or goal missing: the advice, estimate and preview are shown already.
        spec = {"name": "unnamed", "goal": "no goal yet", **to_spec(draft)}
        try:
            design = design_from_dict(spec, SOURCE, known)
            plans = plan_studies(design)
            cost = self.read(lambda session: estimate(session, design, plans))
            live = Live(
                generation,
                issues,
                cost,
                tuple(advise(design, optimizer=draft.optimizer)),
                preview(design, plans),
            )
        except BadInput as exc:
            live = Live(generation, (Issue("", str(exc)),))
        self.app.call_from_thread(self._show_live, live)

    def _show_live(self, live: Live) -> None:
        if live.generation != self.generation:
            return  # a newer change is being checked
        self.live = live
        self._fill()
        count = len(live.issues)
        status = Text()
        if count:
            status.append(f"✗ {plural(count, 'error')}: saving is refused until fixed", "bold red")
        if live.estimate is not None:
            status.append(" · " if count else "")
            status.append(safe_text(live.estimate.brief()))
            if live.advice:
                status.append(f" · {plural(len(live.advice), 'warning')}", "yellow")
        if self.has_class("-narrow"):
            status.append("  (p: advice and preview)", "dim")
        self.query_one("#designer-status", Static).update(status)
        self._show_summary(live)
        if self.saving:
            self.saving = False
            self.action_save()

    def _show_summary(self, live: Live) -> None:
        summary = Text()
        if live.issues:
            summary.append(f"{plural(len(live.issues), 'error')} to fix:\n", "bold red")
            for issue in live.issues:
                summary.append(f"✗ {safe_text(issue.message)}\n", "red")
        if live.estimate is not None:
            summary.append(safe_text(live.estimate.text()) + "\n")
        advice = Text()
        for item, more in grouped(live.advice):
            advice.append(f"! {item.playbook_id}: ", "bold")
            advice.append(safe_text(item.message))
            advice.append(f" (and {more} more like it)\n" if more else "\n", "dim")
        if live.estimate is not None and not live.advice:
            advice.append("no warnings from the playbook's checks\n", "green")
        self.query_one("#designer-summary", Static).update(summary)
        self.query_one("#designer-advice", Static).update(advice)
        self.query_one("#designer-preview", PreviewPlot).show(live.preview)
        covered = Text()
        if live.preview is not None and live.preview.names:
            covered.append(
                " · ".join(
                    f"{arrow} {safe_text(name)}{' (log)' if log else ''}"
                    for arrow, name, log in zip("→↑", live.preview.names, live.preview.log)
                )
                + "\n",
                "dim",
            )
        for name, cover in (live.preview.coverage if live.preview else {}).items():
            counts = ", ".join(f"{value}: {count}" for value, count in cover.counts.items())
            covered.append(f"coverage of {safe_text(name)}: ", "bold")
            covered.append(f"{safe_text(counts)} (max/min {cover.ratio:.2f})\n")
        self.query_one("#designer-coverage", Static).update(covered)

    # -- saving -------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Refused while an error stands; else write the spec and add the experiment in a
        `tunebook experiment add` child."""
        if self.draft is None or self.loaded is None:
            return
        refusal = self.tunebook.write_refusal()
        if refusal:
            self.notify(safe_text(refusal), title="Cannot save", severity="warning")
            return
        if self.editing is not None:
            self._close_edit()
        if self.live is None or self.live.generation != self.generation:
            self.saving = True  # save once the current draft is checked
            self._start_check()
            return
        if self.live.issues:
            first = self.live.issues[0].message
            self.notify(
                safe_text(f"cannot save: {plural(len(self.live.issues), 'error')}; {first}"),
                title="Not saved",
                severity="error",
            )
            return
        self._save(copy.deepcopy(self.draft), self.spec_path())

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def _save(self, draft: Draft, spec_path: Path) -> None:
        from tunebook.core.design import spec_to_toml
        from tunebook.core.execution.control import add_experiment_spec

        if spec_path.exists() and spec_path not in self.written:
            raise BadInput(
                f"'{spec_path}' exists already; choose another spec file (enter on the "
                "spec file row) or another name"
            )
        spec_path.write_text(spec_to_toml(to_spec(draft)), encoding="utf-8")
        self.written.add(spec_path)
        self.app.call_from_thread(self.notify, f"adding {draft.name} from {spec_path}…")
        output = add_experiment_spec(self.session_path, spec_path)
        self.app.call_from_thread(self._added, output)

    def _added(self, output: str) -> None:
        from tunebook.tui.screens.experiments import ExperimentsScreen

        stack = self.app.screen_stack
        below = stack[-2] if len(stack) > 1 else None

        def back(_result: None) -> None:
            self.dismiss()
            if not isinstance(below, ExperimentsScreen):
                self.tunebook.show_experiments()

        self.app.push_screen(AddedScreen(output), back)


def parse_typed(text: str) -> Any:
    """A typed setting: an integer when it is one, else the text as typed ("" when empty),
    so that the spec's check words what is wrong."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text
