"""The batch-size step (PB-3, PB-21): throughput by batch size up to the memory ceiling.

The table (batch, examples/s, gain over the previous size, s/step, spread, data wait,
peak MB), the ceiling and why, where doubling stops nearly doubling throughput, the
input-bound sizes, why there is no gradient accumulation, and examples/s against batch
size on a log2 axis, growing as sizes are measured."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import TabPane

from tunebook.sessions.text import safe_text
from tunebook.tui.probe_text import batch_size_cells
from tunebook.tui.screens.project_start.probe_screen import (
    LogXChart,
    ProbeScreen,
    ProbeView,
    cells,
    probe_bindings,
)
from tunebook.tui.widgets.curve_chart import PALETTE, Curve
from tunebook.tui.widgets.tables import Row

COLUMNS = (
    ("batch", "batch"),
    ("eps", "examples/s"),
    ("gain", "gain"),
    ("step", "s/step"),
    ("spread", "spread"),
    ("data", "data wait"),
    ("peak", "peak MB"),
)


class BatchSizeScreen(ProbeScreen):
    """Batch size: the largest size that still buys speed."""

    PROBE = "batch-size"
    DECIDE = "batch-size"
    STAGE = "batch_size"
    BINDINGS = probe_bindings("batch_size")

    def compose_charts(self) -> ComposeResult:
        with TabPane("Throughput", id="throughput"):
            yield LogXChart(
                "examples/s by batch size",
                base=2,
                x_label="batch size (log)",
                id="throughput-chart",
            )

    def table(self, view: ProbeView) -> tuple[Sequence[tuple[str, str]], list[Row]]:
        rows: list[Row] = [
            (str(r["batch_size"]), cells(*batch_size_cells(r)))
            for r in view.summary.get("rows", [])
        ]
        return COLUMNS, rows

    def lead(self, view: ProbeView) -> Text:
        summary = view.summary
        if not summary:
            return Text()
        budget = summary.get("memory_budget_mb")
        text = Text(f"on {safe_text(str(summary.get('device')))}", style="dim")
        if budget is not None:
            text.append(f", memory budget {budget:,.0f} MB", style="dim")
        return text

    def notes(self, view: ProbeView) -> Text:
        summary = view.summary
        text = Text()
        if not summary:
            return text
        ceiling = summary.get("ceiling")
        if ceiling:
            text.append("ceiling: ", style="bold")
            reason = ceiling.get("reason") or ceiling["status"].replace("_", " ")
            text.append(f"batch size {ceiling['batch_size']}: {safe_text(reason)}\n")
        if summary.get("saturates_at"):
            text.append("doubling stops nearly doubling throughput at ", style="bold")
            text.append(f"{summary['saturates_at']}\n")
        bound = summary.get("input_bound") or []
        text.append("input-bound: ", style="bold")
        if bound:
            text.append(f"yes, at {', '.join(map(str, bound))}\n", style="yellow")
        else:
            text.append("no (waiting for data is a small share of each step)\n")
        text.append(safe_text(summary.get("no_accumulation", "")), style="dim")
        return text

    def draw_charts(self, view: ProbeView) -> None:
        chart = self.query_one("#throughput-chart", LogXChart)
        rows = view.summary.get("rows", [])
        sizes = chart.log_x(r["batch_size"] for r in rows)
        chart.show(
            [Curve("examples/s", sizes, [r["examples_per_second"] for r in rows], PALETTE[0])],
            empty_text="no batch size measured yet",
        )
