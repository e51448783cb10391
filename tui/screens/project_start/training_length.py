"""The training-length step (PB-19): a constant-rate sweep proposes `max_train_steps`.

The sweep's table (learning rate, status, best objective, at step, the step it fits the
training set), the edge and widening warnings, the proposed step budget, and two charts:
the best validation objective by learning rate (log x) and the training-objective curves
with the fit threshold."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import TabPane

from tunebook.core.project_start.probe import lr_key
from tunebook.sessions.text import safe_text
from tunebook.tui.probe_text import number
from tunebook.tui.screens.project_start.probe_screen import (
    LogXChart,
    ProbeScreen,
    ProbeView,
    probe_bindings,
    rate_table,
    series,
)
from tunebook.tui.widgets.curve_chart import PALETTE, Curve, CurveChart
from tunebook.tui.widgets.tables import Row


class TrainingLengthScreen(ProbeScreen):
    """Training length: how fast the sweep's runs fit the training set."""

    PROBE = "training-length"
    DECIDE = "training-length"
    STAGE = "max_train_steps"
    BINDINGS = probe_bindings("max_train_steps")

    def compose_charts(self) -> ComposeResult:
        with TabPane("By learning rate", id="by-rate"):
            yield LogXChart(
                "best validation objective by learning rate",
                x_label="learning rate (log)",
                id="rate-chart",
            )
        with TabPane("Training curves", id="train-curves"):
            yield CurveChart("training objective", id="train-chart")

    def table(self, view: ProbeView) -> tuple[Sequence[tuple[str, str]], list[Row]]:
        return rate_table(view, "rows", ("fit", "fits at step", "fit_step", "d"))

    def notes(self, view: ProbeView) -> Text:
        summary = view.summary
        text = Text()
        if not summary:
            return text
        text.append(f"{summary.get('steps')} steps per run; ", style="dim")
        text.append("best learning rate: ", style="bold")
        text.append(number(summary.get("best_learning_rate"), ".3g"))
        text.append("; fit threshold (training objective): ", style="bold")
        text.append(number(summary.get("fit_threshold")))
        return text

    def draw_charts(self, view: ProbeView) -> None:
        summary = view.summary
        objective = safe_text(str(summary.get("objective", "objective")))
        rows = [r for r in summary.get("rows", []) if r["best_value"] is not None]
        rate_chart = self.query_one("#rate-chart", LogXChart)
        rate_chart.show(
            [
                Curve(
                    f"best {objective}",
                    rate_chart.log_x(r["learning_rate"] for r in rows),
                    [r["best_value"] for r in rows],
                    PALETTE[0],
                )
            ],
            empty_text="no run completed yet",
            title=f"best validation {objective} by learning rate",
        )
        points = view.probe.points if view.probe is not None else {}
        curves = []
        last = 0.0
        for index, row in enumerate(summary.get("rows", [])):
            steps, values = series(points.get(lr_key(row["learning_rate"]), {}).get("train"))
            last = max([last, *steps])
            curves.append(
                Curve(f"lr {row['learning_rate']:.3g}", steps, values, PALETTE[index % 10])
            )
        threshold = summary.get("fit_threshold")
        if threshold is not None and last:
            curves.append(Curve("fit threshold", [0, last], [threshold, threshold], PALETTE[7]))
        self.query_one("#train-chart", CurveChart).show(
            curves, empty_text="no evaluation yet", title=f"training {objective}"
        )
