"""What the command line's reports are made of: standard JSON, tables and plotext charts
as plain text (no colour codes, every cell escaped), shared by `probe` and `review`."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunebook.sessions.text import safe_text
from tunebook.tui.chart_axes import lone_x_range

if TYPE_CHECKING:
    from tunebook.core.trial_detail import HistogramBins

ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: (label, xs, ys) of one curve or point set; a None y is skipped.
Series = tuple[str, Sequence[float], Sequence[float | None]]


def finite_json(value: Any) -> Any:
    """NaN and infinities as null: the JSON is standard, for jq and JavaScript."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def text_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    """A rich table whose title, headers and cells are shown as typed (escaped, never
    read as markup: names in them come from session files)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(safe_text(title)), title_justify="left")
    for column in columns:
        table.add_column(Text(safe_text(column)), justify="right")
    for row in rows:
        table.add_row(*(Text(safe_text(cell)) for cell in row))
    return table


def text_chart(
    series: Sequence[Series],
    title: str,
    xlabel: str,
    xlog: bool = False,
    scatter: Sequence[Series] = (),
    markers: Sequence[str] = (),
) -> str:
    """A plotext chart as text: lines for `series`, points for `scatter` (each with its
    marker, e.g. "x" for infeasible trials). A log x axis is drawn as log10 values with
    labelled ticks (plotext's own log scale rewrites its data, DESIGN.md)."""
    import plotext as plt

    def shown(xs: Sequence[float], ys: Sequence[float | None]) -> tuple[list, list]:
        pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and x is not None]
        if xlog:
            pairs = [(math.log10(x), y) for x, y in pairs if x > 0]
        return [x for x, _ in pairs], [y for _, y in pairs]

    plt.clear_figure()
    plt.plotsize(72, 16)
    plt.theme("clear")
    for label, xs, ys in series:
        px, py = shown(xs, ys)
        if px:
            # a lone braille dot is all but invisible: one point is drawn as a dot
            plt.plot(px, py, label=safe_text(label), marker="braille" if len(px) > 1 else "dot")
    for (label, xs, ys), marker in zip(scatter, [*markers, *["dot"] * len(scatter)]):
        px, py = shown(xs, ys)
        if px:
            plt.scatter(px, py, label=safe_text(label), marker=marker)
    if xlog:
        logs = [math.log10(x) for _, xs, _ in (*series, *scatter) for x in xs if x and x > 0]
        if logs:
            ticks = list(range(math.floor(min(logs)), math.ceil(max(logs)) + 1))
            plt.xticks(ticks, [f"1e{t}" for t in ticks])
    else:
        drawn = {x for _, xs, ys in (*series, *scatter) for x in shown(xs, ys)[0]}
        if len(drawn) == 1:
            plt.xlim(*lone_x_range(*drawn))
    plt.title(safe_text(title))
    plt.xlabel(safe_text(xlabel))
    return ANSI.sub("", plt.build())


def text_histogram(bins: HistogramBins, title: str, xlabel: str) -> str:
    """Histogram bins (`core.trial_detail.histogram`) as a plotext bar chart in text; log
    bins stand at their log10 centres with 1eN tick labels, as the app draws them."""
    import plotext as plt

    centres, counts, log = bins.centres, bins.counts, bins.log
    plt.clear_figure()
    plt.plotsize(72, 14)
    plt.theme("clear")
    if centres:
        spacing = (max(centres) - min(centres)) / (len(centres) - 1) if len(centres) > 1 else 1
        plt.bar(centres, list(counts), width=spacing * 0.9)
        low, high = min(centres), max(centres)
        if log:
            ticks = list(range(math.floor(low), math.ceil(high) + 1))
            plt.xticks(ticks, [f"1e{t}" for t in ticks])
        elif high > low:
            ticks = [low + (high - low) * k / 4 for k in range(5)]
            plt.xticks(ticks, [f"{t:.3g}" for t in ticks])
    plt.title(safe_text(title))
    plt.xlabel(safe_text(xlabel + (" (log bins)" if log else "")))
    return ANSI.sub("", plt.build())
