"""The optimizer step (PB-2): the seven optimizers with their update rules, how each relates
to the playbook's, and their hyperparameters; the suggestion for this workload; which
hyperparameters to freeze at their defaults early on. `d` records the choice through
`tunebook decide PATH optimizer NAME --freeze a,b`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Static

from tunebook.core.project_start.optimizer import OptimizerInfo, Suggestion
from tunebook.sessions import Decision, DecisionKind, TunebookError
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.project_start.recording import RecordsDecisions
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill

LIST_COLUMNS = (("name", "optimizer"), ("mark", ""))
HPARAM_COLUMNS = (
    ("frozen", "frozen"),
    ("name", "hyperparameter"),
    ("default", "default"),
    ("help", "help"),
)
#: Always tuned: the initial-configuration step decides it (PB-2).
ALWAYS_TUNED = "learning_rate"


@dataclass(frozen=True)
class OptimizerView:
    """What the screen shows: every optimizer, the suggestion, the decision in force and the
    decisions made on top of it (which a different optimizer would mark stale)."""

    catalogue: tuple[OptimizerInfo, ...]
    suggestion: Suggestion
    decision: Decision | None
    built_on: tuple[str, ...]

    def decided_name(self) -> str | None:
        """The decided optimizer's name, or None."""
        value = self.decision.value if self.decision else None
        return value.get("name") if isinstance(value, dict) else None

    def decided_frozen(self) -> tuple[str, ...]:
        """The hyperparameters the decision froze."""
        value = self.decision.value if self.decision else None
        return tuple(value.get("frozen", ())) if isinstance(value, dict) else ()


def default_text(value: Any) -> str:
    """A default as the engine's `--freeze` help shows it (`true`/`false`, numbers short)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def status_text(view: OptimizerView) -> Text:
    """The decision in force (or stale, and why) and the suggestion with its reason."""
    text = Text()
    decision, name = view.decision, view.decided_name()
    if decision is None:
        text.append("not decided yet", style="bold")
        text.append(" (the suggestion is selected)\n")
    else:
        frozen = ", ".join(view.decided_frozen()) or "none"
        style = "yellow" if decision.stale else "green"
        text.append("! stale: " if decision.stale else "✓ decided: ", style=f"bold {style}")
        text.append(f"{safe_text(str(name))} (frozen: {safe_text(frozen)})")
        if decision.stale:
            text.append(f" — {safe_text(decision.stale_reason)}", style=style)
        text.append("\n")
    suggestion = view.suggestion
    text.append("suggested: ", style="bold")
    text.append(suggestion.name, style="bold magenta")
    text.append(f" — {suggestion.reason}", style="dim")
    return text


def info_text(info: OptimizerInfo) -> Text:
    """The optimizer's update rule and how it relates to the playbook's."""
    text = Text()
    text.append("update rule: ", style="bold")
    text.append(info.rule + "\n")
    text.append("playbook: ", style="bold")
    text.append(info.playbook, style="dim")
    return text


class OptimizerScreen(RecordsDecisions):
    """The seven optimizers; the highlighted one is chosen, f freezes a hyperparameter,
    d decides."""

    DEFAULT_CSS = """
    OptimizerScreen #optimizer-status { height: auto; padding: 0 1; }
    OptimizerScreen #optimizer-main { height: 1fr; border-top: solid $primary; }
    OptimizerScreen #optimizer-list { width: 16; height: auto; max-height: 1fr; }
    OptimizerScreen #optimizer-right { width: 1fr; height: 1fr; padding: 0 0 0 1; }
    OptimizerScreen #optimizer-hparams { height: auto; overflow-x: hidden; }
    OptimizerScreen #optimizer-info { height: auto; margin-top: 1; }
    OptimizerScreen #optimizer-note { height: auto; padding: 0 1; border-top: solid $primary; }
    """

    BINDINGS = [
        Binding(
            "f",
            "freeze",
            "Freeze",
            id="optimizer.freeze",
            tooltip="Freeze (or tune) the highlighted hyperparameter; tab moves to the table",
        ),
        Binding(
            "d",
            "decide",
            "Decide",
            id="optimizer.decide",
            tooltip="Record the highlighted optimizer and its frozen hyperparameters",
        ),
        Binding(
            "s",
            "suggested",
            "Suggested",
            id="optimizer.suggested",
            tooltip="Highlight the optimizer suggested for this workload",
        ),
        Binding("escape", "back", "Back", id="optimizer.back", tooltip="Back to the session map"),
    ]

    def __init__(self) -> None:
        super().__init__()
        #: The loaded catalogue and decision, or None until the first read.
        self.view: OptimizerView | None = None
        #: The hyperparameters frozen on the screen, by optimizer name.
        self.frozen: dict[str, set[str]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Vertical():
            yield Static("loading the optimizers…", id="optimizer-status", markup=False)
            with Horizontal(id="optimizer-main"):
                yield DataTable(id="optimizer-list", cursor_type="row", zebra_stripes=False)
                with VerticalScroll(id="optimizer-right", can_focus=False):
                    yield DataTable(id="optimizer-hparams", cursor_type="row", zebra_stripes=False)
                    yield Static(id="optimizer-info", markup=False)
            yield Static(id="optimizer-note", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "optimizer (PB-2)"
        self.query_one("#optimizer-list", DataTable).focus()
        super().on_mount()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        from tunebook.core.experiments import session_workload
        from tunebook.core.project_start.decisions import DECISION_TITLES, DEPENDS_ON
        from tunebook.core.project_start.optimizer import optimizer_catalogue, suggest_optimizer

        def load(session: Any) -> OptimizerView:
            workload = session_workload(session)  # imports torch: never on the UI thread
            built_on = []
            for kind, depends in DEPENDS_ON.items():
                later = session.decision(kind)
                if DecisionKind.OPTIMIZER in depends and later is not None and not later.stale:
                    built_on.append(DECISION_TITLES[kind])
            return OptimizerView(
                optimizer_catalogue(),
                suggest_optimizer(workload),
                session.decision(DecisionKind.OPTIMIZER),
                tuple(built_on),
            )

        try:
            view = self.read(load)
        except TunebookError as exc:
            message = f"cannot show the optimizers: {exc}"
            self.app.call_from_thread(
                self.query_one("#optimizer-status", Static).update, safe_text(message)
            )
            raise
        self.app.call_from_thread(self._show, view)

    def _show(self, view: OptimizerView) -> None:
        first = self.view is None
        self.view = view
        if first:
            self._reset_frozen()
        self.query_one("#optimizer-status", Static).update(status_text(view))
        decided = view.decided_name()
        rows = []
        for info in view.catalogue:
            marks = ("✓" if info.name == decided else "") + (
                "★" if info.name == view.suggestion.name else ""
            )
            cells = (Text(info.name), Text(marks, style="magenta"))
            rows.append((info.name, cells))
        table = self.query_one("#optimizer-list", DataTable)
        refill(table, LIST_COLUMNS, rows, widths={"name": 9, "mark": 2})
        if first:
            self._select(decided or view.suggestion.name)
        self._show_selected()

    def _reset_frozen(self) -> None:
        """Frozen as decided for the decided optimizer, as suggested for the suggestion."""
        view = self.view
        if view is None:
            return
        self.frozen = {info.name: set() for info in view.catalogue}
        self.frozen[view.suggestion.name] = set(view.suggestion.frozen)
        decided = view.decided_name()
        if decided in self.frozen:
            self.frozen[decided] = set(view.decided_frozen())

    def _select(self, name: str) -> None:
        if self.view is None:
            return
        names = [info.name for info in self.view.catalogue]
        if name in names:
            self.query_one("#optimizer-list", DataTable).move_cursor(row=names.index(name))

    # -- the selected optimizer ---------------------------------------------------------------

    def selected(self) -> OptimizerInfo | None:
        """The highlighted optimizer: the one `d` records."""
        if self.view is None:
            return None
        row = self.query_one("#optimizer-list", DataTable).cursor_row
        catalogue = self.view.catalogue
        return catalogue[row] if 0 <= row < len(catalogue) else None

    def _show_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        frozen = self.frozen.get(info.name, set())
        rows = []
        for hparam in info.hparams:
            if hparam.name == ALWAYS_TUNED:
                mark = Text("tuned", style="dim")
            else:
                mark = Text("■ yes", style="bold cyan") if hparam.name in frozen else Text("□")
            cells = (
                mark,
                Text(hparam.name),
                Text(default_text(hparam.default), justify="right"),
                Text(hparam.help, style="dim"),
            )
            rows.append((hparam.name, cells))
        refill(self.query_one("#optimizer-hparams", DataTable), HPARAM_COLUMNS, rows)
        self.query_one("#optimizer-info", Static).update(info_text(info))
        self._show_note(info)

    def _show_note(self, info: OptimizerInfo) -> None:
        """What `d` would record, and what deciding another optimizer does to later ones."""
        view = self.view
        if view is None:
            return
        text = Text()
        frozen = [h.name for h in info.hparams if h.name in self.frozen.get(info.name, set())]
        text.append("d records: ", style="bold")
        text.append(f"{info.name}, frozen: {', '.join(frozen) or 'none'}\n")
        text.append(
            "Changing the optimizer (or the model) marks the batch size, initial configuration, "
            "training length and stability decided with it stale.",
            style="dim",
        )
        if view.built_on and info.name != view.decided_name():
            text.append(f" Deciding {info.name} marks stale: ", style="yellow")
            text.append(", ".join(view.built_on), style="bold yellow")
        self.query_one("#optimizer-note", Static).update(text)

    @on(DataTable.RowHighlighted, "#optimizer-list")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_selected()

    @on(DataTable.RowSelected, "#optimizer-hparams")
    def _toggle_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_freeze()

    # -- actions ------------------------------------------------------------------------------

    def action_freeze(self) -> None:
        """Freeze the highlighted hyperparameter at its default for now, or tune it again."""
        info = self.selected()
        if info is None:
            return
        row = self.query_one("#optimizer-hparams", DataTable).cursor_row
        if not 0 <= row < len(info.hparams):
            return
        name = info.hparams[row].name
        if name == ALWAYS_TUNED:
            self.notify(
                "the learning rate cannot be frozen: it is always tuned (PB-2)",
                severity="warning",
            )
            return
        self.frozen.setdefault(info.name, set()).symmetric_difference_update({name})
        self._show_selected()

    def action_suggested(self) -> None:
        """Highlight the suggested optimizer."""
        if self.view is not None:
            self._select(self.view.suggestion.name)

    def action_back(self) -> None:
        """Back to the session map."""
        self.dismiss()

    def action_decide(self) -> None:
        """Record the highlighted optimizer and its frozen hyperparameters, in a
        `tunebook decide` child."""
        info = self.selected()
        if info is None:
            return
        frozen = [h.name for h in info.hparams if h.name in self.frozen.get(info.name, set())]
        arguments = ["optimizer", info.name]
        if frozen:
            arguments += ["--freeze", ",".join(frozen)]
        self.record("optimizer", arguments)
