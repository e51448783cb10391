"""Training curves in the terminal: several trials' series overlaid, one stable colour each.

A `textual-plotext` plot that keeps its curves and redraws them (`clear_data(); plot();
refresh()`). Log axes are drawn as `log10` values on a linear axis with readable tick
labels: plotext 5's `yscale("log")` rewrites stored data on every redraw and crashes on
resize (DESIGN.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

from tunebook.tui.chart_axes import log_ticks, lone_x_range

#: Distinct colours that read on dark and light themes; a trial keeps its colour everywhere.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def trial_color(trial_id: int) -> tuple[int, int, int]:
    """The colour of trial `trial_id` in every chart and table of the app."""
    return PALETTE[trial_id % len(PALETTE)]


@dataclass(frozen=True)
class Curve:
    """One series to draw: its legend label, points and colour."""

    label: str
    steps: Sequence[float]
    values: Sequence[float]
    color: tuple[int, int, int] = PALETTE[0]


def finite_points(
    steps: Sequence[float], values: Sequence[float], log: bool
) -> tuple[list[float], list[float]]:
    """The points a chart can draw: finite values only (positive ones on a log axis), as
    `log10` on a log axis."""
    xs, ys = [], []
    for x, y in zip(steps, values):
        if y is None or not math.isfinite(y) or (log and y <= 0):
            continue
        xs.append(x)
        ys.append(math.log10(y) if log else y)
    return xs, ys


class CurveChart(PlotextPlot):
    """Overlaid curves with a title; `show(curves)` replaces them and redraws."""

    def __init__(
        self,
        title: str,
        *,
        log_y: bool = False,
        x_label: str = "step",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._title = title
        self._log_y = log_y
        self._x_label = x_label
        self._curves: tuple[Curve, ...] = ()
        self._empty_text = "no points yet"

    @property
    def curves(self) -> tuple[Curve, ...]:
        """What the chart draws now."""
        return self._curves

    def show(
        self,
        curves: Sequence[Curve],
        empty_text: str = "no points yet",
        *,
        log_y: bool | None = None,
        title: str | None = None,
    ) -> None:
        """Draw `curves` instead of what was there (`empty_text` when none has a point);
        `log_y` and `title`, when given, replace the chart's scale and title. Nothing is
        redrawn when all of that is what the chart draws already."""
        state = (tuple(curves), empty_text, self._log_y if log_y is None else log_y,
                 self._title if title is None else title)
        if state == (self._curves, self._empty_text, self._log_y, self._title):
            return
        self._curves, self._empty_text, self._log_y, self._title = state
        self.replot()

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def replot(self) -> None:
        """Redraw from the kept curves."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel(self._x_label)
        drawn_low, drawn_high = math.inf, -math.inf
        drawn_xs: set[float] = set()
        for curve in self._curves:
            xs, ys = finite_points(curve.steps, curve.values, self._log_y)
            if not xs:
                continue
            drawn_low, drawn_high = min(drawn_low, *ys), max(drawn_high, *ys)
            drawn_xs.update(xs)
            # a lone braille dot is all but invisible: one point is drawn as a dot
            marker = "braille" if len(xs) > 1 else "dot"
            plt.plot(xs, ys, label=curve.label, color=curve.color, marker=marker)
        title = self._title + (" (log scale)" if self._log_y else "")
        if drawn_low > drawn_high:
            title += f": {self._empty_text}"
        elif self._log_y:
            plt.yticks(*log_ticks(drawn_low, drawn_high))
        if len(drawn_xs) == 1:
            plt.xlim(*lone_x_range(*drawn_xs))
        plt.title(title)
        self.refresh()
