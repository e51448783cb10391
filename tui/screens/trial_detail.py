"""One trial in full: its hyperparameters with their roles (PB-8), seeds, outcome and error,
its curves (training loss, validation objective, learning rate, and the unclipped gradient
norm as a line and a histogram, PB-31), the kept checkpoints (PB-23), the reproduce
command (PB-24, `c` copies it) and a rerun (`r`). Computed by `core.trial_detail`; live:
a running trial's curves grow as the runner writes."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from tunebook.core.trial_detail import Role, TrialDetail, trial_detail
from tunebook.sessions.records import TrialStatus
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.screens.notes import ask_note, notes_text
from tunebook.tui.widgets.curve_chart import Curve, CurveChart, trial_color
from tunebook.tui.widgets.histogram import HistogramChart
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill

HPARAM_COLUMNS = (("name", "hyperparameter"), ("value", "value"), ("role", "role"))
CHECKPOINT_COLUMNS = (("kind", "kind"), ("step", "step"), ("value", "value"), ("size", "size"))

ROLE_STYLE = {
    Role.SCIENTIFIC: "bold magenta",
    Role.NUISANCE: "cyan",
    Role.FIXED: "yellow",
    Role.DEFAULT: "dim",
    Role.UNKNOWN: "dim italic",
}
STATUS_STYLE = {
    TrialStatus.PENDING: "dim",
    TrialStatus.RUNNING: "cyan",
    TrialStatus.COMPLETED: "green",
    TrialStatus.INFEASIBLE: "yellow",
    TrialStatus.FAILED: "red",
}
#: The tabs in order: (pane id, label).
TABS = (
    ("overview", "Overview"),
    ("curves", "Curves"),
    ("lr", "Learning rate"),
    ("grad", "Grad norm"),
    ("checkpoints", "Checkpoints"),
)

def number(value: float | None, digits: int = 4) -> str:
    """A number for a person: `—` when missing, `nan`/`inf` as such, else `digits` figures."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def hparam_value(value: Any) -> str:
    """A hyperparameter's value as it was given (floats short, `None` as `none`)."""
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def seconds(value: float | None) -> str:
    """`12.3 s`, `4 min 5 s`, `1 h 02 min`, or `—`."""
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def size(value: int) -> str:
    """Bytes for a person: `512 B`, `1.2 kB`, `3.4 MB`."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


def summary_text(detail: TrialDetail) -> Text:
    """The overview's head: which trial, its outcome, seeds, times, error, reproduce."""
    text = Text()
    text.append(f"trial {detail.trial_id}", style="bold")
    text.append(f"  #{detail.number} of study ")
    text.append(safe_text(detail.study), style="bold")
    text.append(", experiment ")
    text.append(safe_text(detail.experiment), style="bold")
    text.append("\n")
    text.append(detail.status.value, style=STATUS_STYLE[detail.status])
    text.append(f"  attempts {detail.attempts}  chosen by {safe_text(detail.sampler)}")
    step = "—" if detail.last_step is None else str(detail.last_step)
    text.append(f"  step {step}/{detail.max_train_steps}\n")
    objective = f"{safe_text(detail.objective_metric)} ({detail.objective_mode})"
    best = number(detail.best_value)
    if detail.best_step is not None:
        best += f" at step {detail.best_step}"
    text.append(f"best {objective}: ", style="bold")
    text.append(f"{best}  final {number(detail.final_value)}\n")
    text.append(f"seeds: init {detail.init_seed}, data {detail.data_seed}  ")
    text.append(
        f"time: compute {seconds(detail.compute_seconds)}, data {seconds(detail.data_seconds)}"
        f", elapsed {seconds(detail.elapsed)}\n"
    )
    if detail.trained_on:
        text.append(f"trained on: {safe_text(detail.trained_on)}\n")
    if detail.error:
        label = "reason: " if detail.status is TrialStatus.INFEASIBLE else "error: "
        text.append(label, style="bold red")
        text.append(safe_text(detail.error) + "\n", style="red")
    text.append("reproduce: ", style="bold")
    if detail.reproduce:
        text.append(safe_text(detail.reproduce))
        text.append("  (c copies)", style="dim")
    else:
        text.append("not recorded yet (the runner records it when the trial starts)")
    text.append("\nroles: ", style="dim")
    for role in Role:
        if role is Role.UNKNOWN:
            continue
        text.append(role.value, style=ROLE_STYLE[role])
        text.append(" ")
    if not detail.defaults_known:
        text.append("(defaults not recorded by the tunebook that made this file)", style="dim")
    return text


def grad_text(detail: TrialDetail) -> Text:
    """The gradient norm's numbers (PB-31) and the clipping hint they give (PB-30)."""
    summary = detail.grad_summary
    text = Text()
    if summary.median is None:
        text.append("no unclipped gradient norm logged yet", style="dim")
        return text
    text.append("unclipped gradient norm: ", style="bold")
    text.append(
        f"median {number(summary.median)}, 90th percentile {number(summary.p90)} "
        f"(a clipping threshold to try), max {number(summary.maximum)}"
    )
    if summary.clipped_share is not None:
        share = summary.clipped_share
        text.append(f"; clipped on {share:.0%} of steps")
        if share > 0.5:
            text.append(" — over half: lower the learning rate (PB-30)", style="yellow")
    return text


class TrialDetailScreen(SessionScreen):
    """One trial, in tabs; `c` copies its reproduce command, `r` reruns it, escape goes back."""

    BINDINGS = [
        Binding(
            "c", "copy_reproduce", "Copy", id="detail.copy",
            tooltip="Copy the command that re-runs this trial headlessly",
        ),
        Binding(
            "r", "rerun", "Rerun", id="detail.rerun",
            tooltip="Train this trial again from scratch in a detached runner",
        ),
        Binding(
            "t", "next_tab", "Next tab", id="detail.next_tab",
            tooltip="Overview, curves, learning rate, gradient norm, checkpoints",
        ),
        Binding("o", "note", "Note", id="trial.note", tooltip="Attach a note to this trial"),
        Binding("escape", "back", "Back", id="detail.back", tooltip="Back to the previous screen"),
        *(
            Binding(
                str(index), f"show_tab('{pane}')", label, id=f"detail.tab_{pane}", show=False,
                tooltip=f"Show the {label.lower()} tab",
            )
            for index, (pane, label) in enumerate(TABS, 1)
        ),
    ]

    #: The trial as last read; None until the first read.
    detail: reactive[TrialDetail | None] = reactive(None, init=False)

    def __init__(self, trial_id: int) -> None:
        super().__init__()
        self.trial_id = trial_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with TabbedContent(id="detail-tabs"):
            with TabPane("Overview", id="overview"), VerticalScroll(id="overview-body"):
                yield Static(f"trial {self.trial_id}: loading…", id="summary", markup=False)
                yield Static("", id="trial-notes", markup=False)
                yield DataTable(id="hparams", cursor_type="row", zebra_stripes=False)
            with TabPane("Curves", id="curves"):
                yield CurveChart("training loss", log_y=True, id="loss-chart")
                yield CurveChart("validation objective", id="validation-chart")
            with TabPane("Learning rate", id="lr"):
                yield CurveChart("learning rate", id="lr-chart")
            with TabPane("Grad norm", id="grad"):
                yield Static(id="grad-summary", markup=False)
                yield CurveChart("unclipped gradient norm", log_y=True, id="grad-chart")
                yield HistogramChart(
                    "gradient norm histogram", x_label="norm", id="grad-histogram"
                )
            with TabPane("Checkpoints", id="checkpoints"):
                yield DataTable(id="checkpoint-table", cursor_type="row", zebra_stripes=False)
                yield Static(id="checkpoint-note", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"trial {self.trial_id}"
        super().on_mount()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        trial_id = self.trial_id
        computed, notes = self.read(
            lambda session: (trial_detail(session, trial_id), session.notes(f"trial:{trial_id}"))
        )
        self.app.call_from_thread(self._show_notes, notes_text(notes))
        self.app.call_from_thread(setattr, self, "detail", computed)

    def _show_notes(self, text: Text) -> None:
        """The trial's notes under its summary (no line when it has none)."""
        notes = self.query_one("#trial-notes", Static)
        notes.update(text)
        notes.display = bool(text)

    def watch_detail(self, detail: TrialDetail | None) -> None:
        if detail is None:
            return
        self.query_one("#summary", Static).update(summary_text(detail))
        self._fill_hparams(detail)
        color = trial_color(detail.trial_id)
        label = f"trial {detail.trial_id}"
        loss = detail.train_loss
        self.query_one("#loss-chart", CurveChart).show(
            [Curve(label, loss.steps, loss.values, color)]
        )
        validation = detail.validation
        self.query_one("#validation-chart", CurveChart).show(
            [Curve(f"{safe_text(validation.name)} ({detail.objective_mode})",
                   validation.steps, validation.values, color)],
            empty_text="no evaluation yet",
        )
        lr = detail.learning_rate
        self.query_one("#lr-chart", CurveChart).show([Curve(label, lr.steps, lr.values, color)])
        grad = detail.grad_norm
        self.query_one("#grad-summary", Static).update(grad_text(detail))
        self.query_one("#grad-chart", CurveChart).show(
            [Curve(label, grad.steps, grad.values, color)]
        )
        self.query_one("#grad-histogram", HistogramChart).show(detail.grad_histogram)
        self._fill_checkpoints(detail)

    def _fill_hparams(self, detail: TrialDetail) -> None:
        rows = []
        for hparam in detail.hparams:
            style = ROLE_STYLE[hparam.role]
            cells = (
                Text(safe_text(hparam.name), style=style),
                Text(safe_text(hparam_value(hparam.value))),
                Text(hparam.role.value, style=style),
            )
            rows.append((hparam.name, cells))
        refill(self.query_one("#hparams", DataTable), HPARAM_COLUMNS, rows)

    def _fill_checkpoints(self, detail: TrialDetail) -> None:
        rows = [
            (
                None,
                (
                    Text(checkpoint.kind.value),
                    Text(str(checkpoint.step), justify="right"),
                    Text(number(checkpoint.value), justify="right"),
                    Text(size(checkpoint.size), justify="right"),
                ),
            )
            for checkpoint in detail.checkpoints
        ]
        refill(self.query_one("#checkpoint-table", DataTable), CHECKPOINT_COLUMNS, rows)
        note = self.query_one("#checkpoint-note", Static)
        if detail.checkpoints:
            note.update(
                f"best: the best {detail.objective_metric} checkpoints seen during training, "
                "best first (PB-23); resume: the latest training state of an unfinished trial"
            )
        else:
            note.update("no checkpoints kept (yet)")

    # -- actions ------------------------------------------------------------------------------

    def action_copy_reproduce(self) -> None:
        """Copy the reproduce command to the clipboard (PB-24)."""
        if self.detail is None or not self.detail.reproduce:
            self.notify("this trial has no reproduce command recorded yet", severity="warning")
            return
        self.app.copy_to_clipboard(self.detail.reproduce)
        self.notify(f"copied: {safe_text(self.detail.reproduce)}", markup=False)

    def action_next_tab(self) -> None:
        """Show the next tab (after the last, the first)."""
        tabs = self.query_one("#detail-tabs", TabbedContent)
        panes = [pane for pane, _ in TABS]
        index = panes.index(tabs.active) if tabs.active in panes else -1
        tabs.active = panes[(index + 1) % len(panes)]

    def action_show_tab(self, pane: str) -> None:
        """Show one tab by its pane id."""
        self.query_one("#detail-tabs", TabbedContent).active = pane

    def action_note(self) -> None:
        """Attach a note to this trial (PB-24)."""
        ask_note(self, f"trial {self.trial_id}", trial=self.trial_id)

    def action_back(self) -> None:
        """Back to the screen that opened this one."""
        self.dismiss()

    def action_rerun(self) -> None:
        """Reset the trial to pending and start a detached runner (`tunebook trial rerun`'s
        effect, without training in the app), after confirming when a result is discarded."""
        from tunebook.tui.screens.confirm import ConfirmScreen

        refusal = self.tunebook.write_refusal()
        if not refusal and self.tunebook.runner_alive:
            refusal = "a runner is running on this session; stop it first (x on the run monitor)"
        if refusal:
            self.notify(f"cannot rerun: {safe_text(refusal)}", severity="warning", markup=False)
            return
        detail = self.detail
        if detail is None:
            return
        trial_id = detail.trial_id
        if not (detail.status.is_finished() or detail.last_step is not None):
            self._rerun(trial_id)  # nothing to discard
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._rerun(trial_id)

        outcome = detail.status.value
        if detail.best_value is not None:
            outcome += f", best {number(detail.best_value)} at step {detail.best_step}"
        self.app.push_screen(
            ConfirmScreen(
                f"Rerun trial {trial_id}?",
                f"Its result ({outcome}), metrics and checkpoints are discarded; it trains "
                "again from scratch with the same hyperparameters and seeds, in a detached "
                "runner that also runs the session's other pending trials.",
                confirm="Rerun",
            ),
            confirmed,
        )

    def _rerun(self, trial_id: int) -> None:
        """The detached runner resets the trial and trains it again (`run --rerun`)."""
        if self.tunebook.start_run(rerun=(trial_id,)):
            self.notify(f"trial {trial_id} is reset and trained again by a new run")
