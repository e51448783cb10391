"""Promotion (PB-20): the next, longer round of a finished experiment.

The screen shows what `tunebook promote --dry-run` prints, from the same functions
(`core.design.promotion.plan_promotion`, `plan_rows`, `budget_text`): the best trials of
each study with their values and objective, the step budget before → after, and each
schedule's extension. `+`/`-` change the factor (×2, ×3, ×4, …); ctrl+s stores the longer
round through a child `tunebook promote` process (the app never writes the session); the
Experiments screen then runs it like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Static

from tunebook.core.design.promotion import (
    DEFAULT_FACTOR,
    DEFAULT_TOP,
    budget_text,
    plan_columns,
    plan_promotion,
    plan_rows,
    schedule_change,
)
from tunebook.sessions import BadInput
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill

if TYPE_CHECKING:
    from tunebook.core.design.promotion import Promotion
    from tunebook.sessions import Session


@dataclass(frozen=True)
class PromotionView:
    """The longer round at one factor, or why there is none (the refusal of `promote`)."""

    factor: int
    plan: Promotion | None
    problem: str


def read_promotion(session: Session, name: str, factor: int) -> PromotionView:
    """The plan for experiment `name` at `factor`; a problem sentence instead when
    `tunebook promote` would refuse it (unfinished trials, none feasible)."""
    try:
        return PromotionView(factor, plan_promotion(session, name, factor=factor), "")
    except BadInput as exc:
        return PromotionView(factor, None, str(exc))


class PromotionScreen(SessionScreen):
    """The best trials of one experiment, their longer budget and extended schedules, and
    the keys that change the factor and store the round."""

    DEFAULT_CSS = """
    PromotionScreen #promote-body { padding: 0 1; }
    PromotionScreen #promote-head, PromotionScreen #promote-budget { height: auto; }
    PromotionScreen #promote-schedule { height: auto; }
    PromotionScreen #promote-table { height: auto; max-height: 16; margin: 1 0; }
    PromotionScreen #promote-status { height: auto; color: $text-muted; }
    """

    BINDINGS = [
        Binding(
            "plus,equals_sign",
            "factor(1)",
            "Longer",
            key_display="+",
            id="promotion.longer",
            tooltip="One more times the step budget (×2 → ×3)",
        ),
        Binding(
            "minus",
            "factor(-1)",
            "Shorter",
            key_display="-",
            id="promotion.shorter",
            tooltip="One times the step budget less (at least ×2)",
        ),
        Binding(
            "ctrl+s",
            "create",
            "Store round",
            id="promotion.create",
            tooltip="Store the longer round as a new experiment (tunebook promote, PB-20)",
        ),
        Binding("escape", "back", "Back", id="promotion.back", tooltip="Back to the review"),
    ]

    #: How many times the experiment's step budget the longer round gets.
    factor: reactive[int] = reactive(int(DEFAULT_FACTOR), init=False)

    def __init__(self, experiment_name: str) -> None:
        super().__init__()
        self.experiment_name = experiment_name
        self.view: PromotionView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Vertical(id="promote-body"):
            yield Static("reading the experiment…", id="promote-head", markup=False)
            yield Static(id="promote-budget", markup=False)
            yield DataTable(id="promote-table", cursor_type="row", zebra_stripes=False)
            yield Static(id="promote-schedule", markup=False)
            yield Static(id="promote-status", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"longer round of {safe_text(self.experiment_name)} (PB-20)"
        self.query_one("#promote-table", DataTable).focus()
        super().on_mount()

    def watch_factor(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        name, factor = self.experiment_name, self.factor
        view = self.read(lambda session: read_promotion(session, name, factor))
        self.app.call_from_thread(self._show, view)

    def _show(self, view: PromotionView) -> None:
        self.view = view
        head = self.query_one("#promote-head", Static)
        budget = self.query_one("#promote-budget", Static)
        table = self.query_one("#promote-table", DataTable)
        plan = view.plan
        if plan is None:
            head.update(Text(safe_text(view.problem), style="yellow"))
            budget.update("")
            refill(table, [], [])
            self._show_schedule()
            return
        head.update(
            Text(
                f"Longer round of '{safe_text(plan.source)}' (PB-20): the best {plan.top} "
                "trials of each study again with more steps, schedules extended."
            )
        )
        budget.update(Text(f"{budget_text(plan)}; +/- change the factor", style="bold"))
        columns = [(f"c{i}", title) for i, title in enumerate(plan_columns(plan))]
        rows = [
            (str(t.trial), tuple(Text(safe_text(cell)) for cell in cells))
            for t, cells in zip(plan.trials, plan_rows(plan))
        ]
        refill(table, columns, rows)
        self._show_schedule()

    @on(DataTable.RowHighlighted, "#promote-table")
    def _show_schedule(self) -> None:
        """The highlighted trial's schedule before → after in full, whatever the width: a
        linear decay starts later by the added steps, a cosine decay stretches."""
        plan = self.view.plan if self.view is not None else None
        line = self.query_one("#promote-schedule", Static)
        table = self.query_one("#promote-table", DataTable)
        if plan is None or not plan.trials:
            line.update("")
            return
        trial = plan.trials[min(table.cursor_row, len(plan.trials) - 1)]
        change = schedule_change(trial.schedule_before, trial.schedule_after)
        line.update(Text(safe_text(f"trial {trial.trial} ({trial.study}) schedule: {change}")))

    def action_factor(self, change: int) -> None:
        """Change the factor by `change`, keeping it at least 2."""
        self.factor = max(2, self.factor + change)

    def action_create(self) -> None:
        """Store the longer round through `tunebook promote` in a child process."""
        refusal = self.tunebook.write_refusal()
        if self.view is None or self.view.plan is None:
            refusal = refusal or (self.view.problem if self.view else "still reading")
        if refusal:
            self.notify(safe_text(refusal), severity="warning")
            return
        self.query_one("#promote-status", Static).update("storing the longer round…")
        self._create(self.view.factor)

    @work(thread=True, exclusive=True, group="create", exit_on_error=False)
    def _create(self, factor: int) -> None:
        from tunebook.core.execution.control import create_promotion

        try:
            printed = create_promotion(
                self.session_path, self.experiment_name, factor=factor, top=DEFAULT_TOP
            )
        finally:
            self.app.call_from_thread(self.query_one("#promote-status", Static).update, "")
        self.stored_then_back(printed)

    def action_back(self) -> None:
        """Back to the review."""
        self.app.pop_screen()
