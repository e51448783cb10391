"""Charts whose points all share one x value (a trial's first evaluation, a study of one
trial): in the app and on the command line the x axis reaches 0 instead of plotext's x - 1
to x + 1 (a step axis from -1), and a lone point is drawn as a visible dot."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tunebook.tui.chart_axes import lone_x_range
from tunebook.tui.cli.output import text_chart
from tunebook.tui.screens.review import AxisChart
from tunebook.tui.widgets.curve_chart import Curve, CurveChart


@pytest.mark.parametrize(
    ("x", "expected"), [(0, (0.0, 1.0)), (50, (0.0, 100.0)), (-0.5, (-1.0, 0.0))]
)
def test_a_lone_x_value_gets_a_range_that_reaches_zero_around_it(
    x: float, expected: tuple[float, float]
) -> None:
    assert lone_x_range(x) == expected


def x_tick_labels(text: str) -> list[str]:
    """The labels under a plotext chart's x axis (the line after its bottom border)."""
    lines = text.splitlines()
    (bottom,) = [i for i, line in enumerate(lines) if "└" in line]
    return lines[bottom + 1].split()


class Charts(App[None]):
    def compose(self) -> ComposeResult:
        yield CurveChart("validation objective", id="steps")
        yield AxisChart("axis plot", id="axis")


async def test_the_apps_charts_draw_a_lone_first_point_on_an_axis_from_zero() -> None:
    async with Charts().run_test(size=(80, 45)) as pilot:
        steps = pilot.app.query_one("#steps", CurveChart)
        steps.show([Curve("trial 1", [0], [0.5]), Curve("trial 2", [0], [0.6])])
        axis = pilot.app.query_one("#axis", AxisChart)
        axis.plot_points([Curve("trials", [0.25], [0.4])], "axis plot", "dropout", log_x=False)
        await pilot.pause()
        drawn = {"steps": steps.render().plain, "axis": axis.render().plain}
    labels = x_tick_labels(drawn["steps"])
    assert float(labels[0]) == 0 and float(labels[-1]) == 1, labels
    assert "•" in drawn["steps"]  # a dot, not a single braille cell
    labels = x_tick_labels(drawn["axis"])
    assert float(labels[0]) == 0 and float(labels[-1]) == 0.5, labels


def test_the_command_lines_chart_draws_a_lone_point_on_an_axis_from_zero() -> None:
    text = text_chart([("trial 1", [50], [0.5]), ("trial 2", [50], [0.7])], "curves", "step")
    labels = x_tick_labels(text)
    assert (float(labels[0]), float(labels[-1])) == (0, 100), labels
    assert "•" in text
