"""The run monitor: start, stop and watch a run of the session's pending trials (PB-9).

A trial table (study, scientific and nuisance values, status, step / max, training loss,
best validation objective, elapsed), the whole session's progress with an ETA and live
counts, and the training-loss and validation-objective curves of the selected trial and
of the running ones, one stable colour per trial. Failed trials show their error and
infeasible ones their step and reason (PB-11) under the table. Every number comes from
`core.monitor`; reads happen in thread workers when the file changes (the app's watcher).
The run itself is the detached runner that `tunebook run --detach` starts: leaving this
screen or quitting the app leaves it running, and reopening the session shows it again.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import get_current_worker

from tunebook.core.monitor import (
    MonitorData,
    TrialCurves,
    curve_ids,
    default_selection,
    format_duration,
    log_scale_fits,
    monitor_data,
    trial_curves,
)
from tunebook.sessions import Session
from tunebook.sessions.records import TrialStatus
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.widgets.curve_chart import Curve, CurveChart, trial_color
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.text_input import TextInput
from tunebook.tui.widgets.trial_table import STATUS_STYLE, TrialTable

#: Seconds the cursor must rest on a trial before its curves are read.
CURVE_DELAY = 0.15
#: At most one read of the file per this many seconds while a runner writes to it: the
#: app must not take CPU from the trials (issue 9's benchmark: ≥ 0.97× trials/min).
RELOAD_INTERVAL = 1.0
#: The running trials' curves are read and redrawn at most this often (a chart redraw
#: costs tens of milliseconds); moving the cursor redraws at once.
CHART_INTERVAL = 3.0
#: Cells in the progress bar drawn at the start of the progress line.
BAR_CELLS = 12


def progress_bar(fraction: float, cells: int = BAR_CELLS) -> Text:
    """`━━━━━━━╺━━━━ 58%`: a text bar, cheap to redraw (no widget of its own)."""
    filled = round(max(0.0, min(1.0, fraction)) * cells)
    text = Text()
    text.append("━" * filled, style="bold green")
    text.append("━" * (cells - filled), style="dim")
    text.append(f" {fraction:4.0%} ")
    return text


def progress_text(data: MonitorData, runner_alive: bool, refusal: str) -> Text:
    """`12/40 finished · 26 pending · 2 running · 1 failed · ETA 3m05s · runner alive`,
    or after the counts why no run can start (read-only, a bad file)."""
    progress = data.progress
    text = progress_bar(progress.fraction)
    text.append(f"{progress.finished}/{progress.total} finished", style="bold")
    for status in TrialStatus:
        count = progress.counts.get(status.value, 0)
        if count and status is not TrialStatus.COMPLETED:
            text.append(" · ")
            text.append(f"{count} {status.value}", style=STATUS_STYLE[status])
    if progress.eta_seconds is not None and progress.eta_seconds > 0:
        text.append(f" · ETA {format_duration(progress.eta_seconds)}")
    text.append(" · ")
    if runner_alive:
        text.append("runner alive", style="cyan")
    elif refusal:
        text.append(f"no run: {safe_text(refusal)}", style="yellow")
    else:
        text.append("no runner", style="dim")
    return text


def chart_curves(curves: tuple[TrialCurves, ...], validation: bool) -> list[Curve]:
    """The charts' curves: one per trial, labelled `#id`, in the trial's colour."""
    return [
        Curve(
            f"#{c.trial_id}",
            (c.validation if validation else c.train).steps,
            (c.validation if validation else c.train).values,
            trial_color(c.trial_id),
        )
        for c in curves
    ]


def validation_title(curves: tuple[TrialCurves, ...]) -> str:
    """`validation error` when the drawn trials share one objective metric."""
    metrics = {c.objective_metric for c in curves}
    return f"validation {safe_text(metrics.pop())}" if len(metrics) == 1 else "validation objective"


class RunMonitorScreen(SessionScreen):
    """Trials, progress and live curves of the open session's run."""

    BINDINGS = [
        Binding(
            "s",
            "start",
            "Start",
            id="monitor.start",
            tooltip="Start a detached runner on the pending trials",
        ),
        Binding(
            "x",
            "stop",
            "Stop",
            id="monitor.stop",
            tooltip="Stop the runner gracefully (trials checkpoint and resume later)",
        ),
        Binding(
            "o",
            "run_options",
            "Options",
            id="monitor.options",
            tooltip="Where the runs started here train: executor, workers, device, Ray",
        ),
        Binding(
            "enter", "trial", "Trial", id="monitor.trial", tooltip="The highlighted trial in full"
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="monitor.filter",
            tooltip="Show only trials whose status or study matches a text",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            id="monitor.back",
            tooltip="Back (clears the filter first); a run keeps running",
        ),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self) -> None:
        super().__init__()
        #: What the table shows, as last read (None before the first read).
        self.data: MonitorData | None = None
        #: The curves drawn now.
        self.curves: tuple[TrialCurves, ...] = ()
        #: The filter's text ("" shows every trial).
        self.filter_text = ""
        self._curve_timer: Timer | None = None
        self._reload_timer: Timer | None = None
        self._chart_timer: Timer | None = None
        self._last_load = -RELOAD_INTERVAL
        self._last_curves = -CHART_INTERVAL
        self._action_state: tuple[bool, str, bool] | None = None
        self._lines: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        yield Static(id="monitor-counts", markup=False)
        with Horizontal(id="monitor-body"):
            with Vertical(id="monitor-trials"):
                yield TextInput(
                    placeholder="filter: a status (run, fail…) or study text", id="monitor-filter"
                )
                yield TrialTable(id="monitor-table")
                yield Static(id="monitor-problem", markup=False)
            with Horizontal(id="monitor-charts"):
                yield CurveChart("training loss", log_y=True, id="monitor-train")
                yield CurveChart("validation objective", id="monitor-validation")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(TrialTable).focus()
        self.watch(self.app, "runner_alive", self._runner_changed, init=False)
        super().on_mount()

    # -- reading ----------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the rows (and, every `CHART_INTERVAL`, the drawn trials' curves) again in a
        thread worker, at most once per `RELOAD_INTERVAL`: later changes wait for the next."""
        wait = self._last_load + RELOAD_INTERVAL - time.monotonic()
        if wait > 0:
            if self._reload_timer is None:
                self._reload_timer = self.set_timer(wait, self._reload_now)
            return
        self._reload_now()

    def _reload_now(self) -> None:
        self._reload_timer = None
        self._last_load = now = time.monotonic()
        with_curves = now - self._last_curves >= CHART_INTERVAL
        if with_curves:
            self._last_curves = now
        elif self._chart_timer is None:  # a trailing redraw, so the last change is drawn
            wait = self._last_curves + CHART_INTERVAL - now
            self._chart_timer = self.set_timer(wait, self._refresh_charts)
        self._load(self.query_one(TrialTable).selected_id, with_curves, self.data)

    def _refresh_charts(self) -> None:
        self._chart_timer = None
        self._last_curves = time.monotonic()
        if self.data is not None:
            self._load_curves(self.data, self.query_one(TrialTable).selected_id)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self, selected: int | None, with_curves: bool, previous: MonitorData | None) -> None:
        def read(session: Session) -> tuple[MonitorData, tuple[TrialCurves, ...] | None]:
            data = monitor_data(session, previous=previous)
            if not with_curves:
                return data, None
            ids = curve_ids(data, default_selection(data) if selected is None else selected)
            return data, trial_curves(session, ids, objective_metrics(data))

        data, curves = self.read(read)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, data, curves)

    @work(thread=True, exclusive=True, group="curves", exit_on_error=False)
    def _load_curves(self, data: MonitorData, selected: int | None) -> None:
        ids = curve_ids(data, selected)
        curves = self.read(lambda session: trial_curves(session, ids, objective_metrics(data)))
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_curves, curves)

    # -- showing ----------------------------------------------------------------------------

    def _show(self, data: MonitorData, curves: tuple[TrialCurves, ...] | None) -> None:
        self.data = data
        table = self.query_one(TrialTable)
        before = table.selected_id
        table.show(data, self.filter_text)
        self._show_progress()
        if (curves is None and table.selected_id != before) or (
            curves is not None and table.selected_id not in {c.trial_id for c in curves}
        ):  # the cursor landed on a trial not drawn (e.g. filtered out): draw its curves
            self._load_curves(data, table.selected_id)
        elif curves is not None:
            self._show_curves(curves)
        self._show_problem()
        self._refresh_actions()

    def _refresh_actions(self) -> None:
        """Re-check which actions are available, only when what decides it changed (a
        footer refresh rebuilds its keys: too costly for every read)."""
        state = (self.tunebook.runner_alive, self.tunebook.write_refusal(), self._all_finished())
        if state != self._action_state:
            self._action_state = state
            self.refresh_bindings()

    def _set_line(self, widget_id: str, text: Text) -> None:
        """Change a one-line widget's text without a layout pass, when it differs."""
        if self._lines.get(widget_id) != text:
            self._lines[widget_id] = text
            self.query_one(f"#{widget_id}", Static).update(text, layout=False)

    def _show_progress(self) -> None:
        if self.data is None:
            return
        text = progress_text(self.data, self.tunebook.runner_alive, self.tunebook.write_refusal())
        self._set_line("monitor-counts", text)

    def _show_curves(self, curves: tuple[TrialCurves, ...]) -> None:
        self.curves = curves
        empty = "no trial selected" if not curves else "no points yet"
        self.query_one("#monitor-train", CurveChart).show(
            chart_curves(curves, validation=False), empty, log_y=log_scale_fits(curves)
        )
        self.query_one("#monitor-validation", CurveChart).show(
            chart_curves(curves, validation=True), empty, title=validation_title(curves)
        )

    def _show_problem(self) -> None:
        problem = self.query_one("#monitor-problem", Static)
        row = None
        if self.data is not None:
            selected = self.query_one(TrialTable).selected_id
            row = None if selected is None else self.data.row(selected)
        line = row.problem() if row is not None else ""
        if not line and self.data is not None and not self.data.rows:
            line = "no trials yet: s starts a run of the pending trials"
        style = "red" if row and row.error else "dim"
        self._set_line(
            "monitor-problem", Text(safe_text(line), style=style, no_wrap=True, overflow="ellipsis")
        )
        if problem.has_class("-empty") != (not line):
            problem.set_class(not line, "-empty")

    def _runner_changed(self, _alive: bool) -> None:
        self._show_progress()
        self._refresh_actions()

    # -- events -----------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_problem()
        if self.data is None:
            return
        selected = self.query_one(TrialTable).selected_id
        if self.curves and self.curves[0].trial_id == selected:
            return
        if self._curve_timer is not None:
            self._curve_timer.stop()
        data = self.data
        self._curve_timer = self.set_timer(
            CURVE_DELAY, lambda: self._load_curves(data, self.query_one(TrialTable).selected_id)
        )

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_trial()

    @on(Input.Changed, "#monitor-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        if self.data is not None:
            self.query_one(TrialTable).show(self.data, self.filter_text)
            self._show_problem()

    @on(Input.Submitted, "#monitor-filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        self.query_one(TrialTable).focus()

    # -- actions ----------------------------------------------------------------------------

    def action_start(self) -> None:
        """Start a detached runner on the pending trials."""
        self.tunebook.action_start_run()

    def action_stop(self) -> None:
        """Stop the runner, after a confirmation."""
        self.tunebook.action_stop_run()

    def action_run_options(self) -> None:
        """Change where the runs started from the app train."""
        self.tunebook.action_run_options()

    def action_trial(self) -> None:
        """Open the highlighted trial."""
        selected = self.query_one(TrialTable).selected_id
        if selected is not None:
            self.tunebook.show_trial(selected)

    def action_filter(self) -> None:
        """Show the filter and type into it."""
        field = self.query_one("#monitor-filter", Input)
        field.add_class("-shown")
        field.focus()

    def action_back(self) -> None:
        """Clear the filter if one is set, else go back; a run keeps running."""
        field = self.query_one("#monitor-filter", Input)
        if field.has_class("-shown"):
            field.value = ""
            field.remove_class("-shown")
            self.query_one(TrialTable).focus()
            return
        self.dismiss()

    def _all_finished(self) -> bool:
        """Every planned trial has finished: a run would have nothing to do."""
        progress = self.data.progress if self.data is not None else None
        return progress is not None and progress.total > 0 and progress.finished >= progress.total

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start" and (
            self.tunebook.write_refusal() or self.tunebook.runner_alive or self._all_finished()
        ):
            return None  # dimmed: the reason is in the progress line (or all is finished)
        if action == "stop" and not self.tunebook.runner_alive:
            return None
        return True


def objective_metrics(data: MonitorData) -> dict[int, str]:
    """Each trial's study objective metric, keyed by trial id."""
    return {row.trial_id: row.objective_metric for row in data.rows}
