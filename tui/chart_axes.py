"""Axis ranges and ticks that plotext's own choice gets wrong, for the app's charts and the
command line's: labelled ticks for log axes drawn as log10 values, and a range for points
that all share one x value."""

from __future__ import annotations

import math


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions (in log10 units) and labels for a log axis spanning `low`…`high`
    (also log10): powers of ten, with 2× and 5× between them over three decades or less, or
    the span's ends when no such tick falls inside it."""
    first, last = math.floor(low), math.ceil(high)
    multiples = (1, 2, 5) if last - first <= 3 else (1,)
    step = max(1, (last - first) // 6 + 1)
    positions = [
        p + math.log10(k)
        for p in range(first, last + 1, step)
        for k in multiples
        if low <= p + math.log10(k) <= high
    ]
    if not positions:
        positions = [low, high] if high > low else [low]
    return positions, [f"{10**p:.3g}" for p in positions]


def lone_x_range(x: float) -> tuple[float, float]:
    """The x range of a linear axis whose points all stand at `x`: plotext's own, x - 1 to
    x + 1, draws a lone point at step 0 on an axis from step -1. Instead the range reaches 0
    and has the point in its middle (0 to 1 for a point at 0)."""
    return (0.0, 1.0) if x == 0 else (min(0.0, 2 * x), max(0.0, 2 * x))
