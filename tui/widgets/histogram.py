"""A histogram in the terminal: counts per bin as bars (PB-31's gradient-norm histogram).

The bins come computed (`tunebook.core.trial_detail.HistogramBins`); this widget only
draws them. Log-spaced bins are drawn at their `log10` centres with readable tick labels,
as `CurveChart` draws log axes (plotext's own log scale is unusable, DESIGN.md).
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from tunebook.core.trial_detail import HistogramBins
from tunebook.tui.chart_axes import log_ticks
from tunebook.tui.widgets.curve_chart import PALETTE


def linear_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], list[str]]:
    """`count` evenly spaced ticks over `low`…`high` with short labels (3 figures)."""
    if high <= low:
        return [low], [f"{low:.3g}"]
    positions = [low + (high - low) * k / (count - 1) for k in range(count)]
    return positions, [f"{p:.3g}" for p in positions]


def count_ticks(highest: int) -> tuple[list[float], list[str]]:
    """Whole-number ticks from 0 to `highest` (at most five): bars count steps."""
    values = sorted({round(highest * k / 4) for k in range(5)})
    return [float(v) for v in values], [str(v) for v in values]


class HistogramChart(PlotextPlot):
    """Bars of a `HistogramBins`; `show(bins)` replaces them and redraws."""

    def __init__(
        self,
        title: str,
        *,
        x_label: str = "",
        color: tuple[int, int, int] = PALETTE[0],
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._title = title
        self._x_label = x_label
        self._color = color
        self._bins = HistogramBins((), (), False, 0)

    @property
    def bins(self) -> HistogramBins:
        """What the chart draws now."""
        return self._bins

    def show(self, bins: HistogramBins) -> None:
        """Draw `bins` instead of what was there."""
        self._bins = bins
        self.replot()

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def replot(self) -> None:
        """Redraw from the kept bins."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        bins = self._bins
        title = self._title + (" (log bins)" if bins.log else "")
        if bins.nonfinite:
            title += f"; {bins.nonfinite} non-finite left out"
        if not bins.counts:
            plt.title(f"{title}: no values yet")
            self.refresh()
            return
        xs = bins.centres
        plt.bar(xs, list(bins.counts), color=self._color, width=0.9)
        if bins.log:
            low, high = math.log10(bins.edges[0]), math.log10(bins.edges[-1])
            plt.xticks(*log_ticks(low, high))
        else:
            plt.xticks(*linear_ticks(bins.edges[0], bins.edges[-1]))
        plt.yticks(*count_ticks(max(bins.counts)))
        if self._x_label:
            plt.xlabel(self._x_label)
        plt.title(title)
        self.refresh()
