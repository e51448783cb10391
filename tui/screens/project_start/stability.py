"""The stability step (PB-30, PB-31): is training stable at twice the best learning rate?

The 2× run's verdict (stable or unstable, from which step, early or mid-training, why),
the warmup sweep that follows an unstable run, the clipping threshold with the share of
the 2× run's steps it would clip (over half: lower the rate instead), and charts: the
training loss of the 2× run beside the sweep's rates above the best, and the 2× run's
gradient norm by step and as a histogram."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import TabPane

from tunebook.core.project_start.stability import CLIP_WARNING_SHARE
from tunebook.core.trial_detail import histogram
from tunebook.sessions.text import safe_text
from tunebook.tui.probe_text import number
from tunebook.tui.screens.project_start.probe_screen import (
    ProbeScreen,
    ProbeView,
    cells,
    numbered,
    probe_bindings,
)
from tunebook.tui.widgets.curve_chart import PALETTE, Curve, CurveChart
from tunebook.tui.widgets.histogram import HistogramChart
from tunebook.tui.widgets.tables import Row

COLUMNS = (("warmup", "warmup steps"), ("stable", "stable"), ("at", "unstable at"))


class StabilityScreen(ProbeScreen):
    """Stability: the 2× run, the warmup sweep and the clipping threshold."""

    PROBE = "stability"
    DECIDE = "stability"
    STAGE = "stability"
    BINDINGS = probe_bindings("stability")

    def compose_charts(self) -> ComposeResult:
        with TabPane("Loss", id="loss"):
            yield CurveChart("training loss", log_y=True, id="loss-chart")
        with TabPane("Grad norm", id="grad"):
            yield CurveChart("gradient norm of the 2× run", log_y=True, id="grad-chart")
            yield HistogramChart("gradient norm histogram", x_label="norm", id="grad-histogram")

    def lead(self, view: ProbeView) -> Text:
        summary = view.summary
        text = Text()
        if not summary or view.probe is None or "2x" not in view.probe.points:
            return text
        rate = f"2× the best learning rate ({summary['rate']:.3g})"
        if summary["unstable"]:
            text.append(rate + " is ")
            text.append("unstable", style="bold red")
            if summary.get("unstable_at") is not None:
                text.append(f" from step {summary['unstable_at']}")
            if summary.get("phase"):
                text.append(f" ({summary['phase']})")
            text.append(f": {safe_text(str(summary.get('why')))}")
        else:
            text.append(rate + " trains ")
            text.append("stably", style="bold green")
        if summary.get("warmups"):
            text.append("\nwarmup sweep at 2× the best rate:", style="bold")
        return text

    def table(self, view: ProbeView) -> tuple[Sequence[tuple[str, str]], list[Row]]:
        rows: list[Row] = [
            (
                str(w["warmup_steps"]),
                cells(
                    str(w["warmup_steps"]),
                    "yes" if w["stable"] else "no",
                    number(w["unstable_at"], "d"),
                ),
            )
            for w in view.summary.get("warmups", [])
        ]
        return COLUMNS, rows

    def notes(self, view: ProbeView) -> Text:
        summary = view.summary
        text = Text()
        threshold = summary.get("clip_threshold")
        if threshold is None:
            return text
        text.append("clipping threshold: ", style="bold")
        text.append(
            f"{threshold:.3g} (the 90th percentile of {safe_text(summary['clip_source'])}'s "
            "gradient norms)"
        )
        share = summary.get("clipped_share")
        if share is not None:
            style = "bold yellow" if share > CLIP_WARNING_SHARE else ""
            text.append(f"; it would clip {share:.0%} of the 2× run's steps", style=style)
        return text

    def draw_charts(self, view: ProbeView) -> None:
        summary = view.summary
        steps, loss = numbered(summary.get("loss"))
        curves = [Curve("2× best", steps, loss, PALETTE[3])]
        for index, above in enumerate(summary.get("above_best", [])):
            steps, values = numbered(above.get("loss"))
            label = f"lr {above['learning_rate']:.3g}"
            curves.append(Curve(label, steps, values, PALETTE[(index + 4) % 10]))
        for index, warmup in enumerate(summary.get("warmups", [])):
            steps, values = numbered(warmup.get("loss"))
            label = f"warmup {warmup['warmup_steps']}"
            curves.append(Curve(label, steps, values, PALETTE[(index + 1) % 3]))
        self.query_one("#loss-chart", CurveChart).show(curves, empty_text="no run yet")
        norms = summary.get("grad_norm") or []
        steps, values = numbered(norms)
        self.query_one("#grad-chart", CurveChart).show(
            [Curve("2× best", steps, values, PALETTE[3])], empty_text="no run yet"
        )
        self.query_one("#grad-histogram", HistogramChart).show(histogram(norms))
