"""The review's Curves and Gradients tabs on written sessions: the top trials' training loss
and validation objective and the best trial's gradient norms, the numbers of `tunebook
review --json`, in words why a study has nothing to draw, and the Curves tab's snapshots."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static, TabbedContent

from tests.analysis.sessions import LR, finished
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tests.tui.test_review_screen import open_review
from tests.tui.test_snapshots import SIZES, settle
from tunebook.core.trial_detail import HistogramBins
from tunebook.sessions import Session, TrialStatus
from tunebook.tui.app import TunebookApp
from tunebook.tui.cli.review_commands import review_document
from tunebook.tui.screens.review import ReviewScreen
from tunebook.tui.widgets.curve_chart import CurveChart
from tunebook.tui.widgets.histogram import HistogramChart

STEPS = 30


def curved_experiment(path: Path) -> Path:
    """Three per-value studies: `width=8` with seven trials that logged the training loss,
    the validation error and the gradient norm; `width=16` with one completed trial that
    logged nothing; `width=32` with one diverged trial only."""
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment(
            "width", "Does width help?", {"scientific": {"width": [8, 16, 32]}}, STEPS
        )
        studies = {}
        for width in (8, 16, 32):
            layout = {"space": {"learning_rate": LR}, "scientific": {"width": width}}
            studies[width] = session.add_study(
                experiment.id,
                f"width={width}",
                layout,
                "quasi-random",
                7,
                0,
                "error",
                "min",
                {"width": width},
            ).id
        for i in range(7):
            steps = range(1, STEPS + 1)
            evaluated = steps[4::5]
            error = [0.2 + 0.03 * abs(i - 3) + 0.01 * i + 0.5 / (1 + s / 4) for s in evaluated]
            series = {
                "train/loss": [(s, 2.0 / (1 + s * (i + 1) / 50) + 0.05 * i) for s in steps],
                "validation/error": list(zip(evaluated, error)),
                "train/grad_norm": [(s, 1 + 0.5 * math.sin(s + i) + 0.02 * s) for s in steps],
            }
            params = {"learning_rate": 1e-3 * (i + 1)}
            finished(session, studies[8], params, best=min(error), series=series)
        finished(session, studies[16], {"learning_rate": 1e-3}, best=0.5)
        finished(session, studies[32], {"learning_rate": 0.09}, TrialStatus.INFEASIBLE)
    return path


def note(screen: ReviewScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_curves_and_gradients_draw_the_numbers_of_review_json(tmp_path: Path) -> None:
    path = curved_experiment(tmp_path / "c.tunebook")
    with Session.open(path, read_only=True) as session:
        document = review_document(session, None, None, "best")
    curved, quiet, diverged = document["studies"]
    async with session_app(path, [], size=(120, 40)) as (app, pilot):
        screen = await open_review(app, pilot)
        await pilot.press("7")
        assert screen.query_one("#review-tabs", TabbedContent).active == "curves"
        trials = [c["trial_id"] for c in curved["curves"]]
        assert len(trials) == 5 and trials[0] == curved["best"]["trial_id"]
        train = screen.query_one("#train-curves", CurveChart).curves
        validation = screen.query_one("#val-curves", CurveChart).curves
        assert (
            [c.label for c in train]
            == [c.label for c in validation]
            == [f"trial {t}" for t in trials]
        )
        assert [list(c.values) for c in train] == [c["train_loss"] for c in curved["curves"]]
        assert [list(c.steps) for c in validation] == [c["val_steps"] for c in curved["curves"]]
        assert len({c.color for c in train}) == 5  # overlaid lines read apart
        assert "best first (PB-14):  ■ trial " + "  ■ trial ".join(map(str, trials)) in note(
            screen, "#curves-note"
        )

        await pilot.press("8")
        gradients = curved["gradients"]
        (line,) = screen.query_one("#grad-chart", CurveChart).curves
        assert line.label == f"trial {curved['best']['trial_id']}"
        assert (list(line.steps), list(line.values)) == (gradients["steps"], gradients["norms"])
        bars = screen.query_one("#grad-histogram", HistogramChart).bins
        assert bars == HistogramBins(**gradients["histogram"]) and sum(bars.counts) == STEPS
        caption = note(screen, "#gradients-note")
        assert f"norms: {gradients['p90']:.4g} (a clipping threshold, PB-31)" in caption
        assert caption.startswith("90th percentile")

        await pilot.press("right_square_bracket")  # a best trial that logged nothing
        await wait_for(pilot, lambda: screen.study_index == 1)
        assert quiet["gradients"]["steps"] == []
        assert "logged no unclipped gradient norm" in note(screen, "#gradients-note")
        assert not screen.query_one("#grad-chart").display
        await pilot.press("7")
        quiet_chart = screen.query_one("#train-curves", CurveChart)
        assert quiet_chart.display  # titled "…: the best trials logged no training loss"
        assert [c.label for c in quiet_chart.curves] == [f"trial {quiet['best']['trial_id']}"]
        assert not any(c.steps for c in quiet_chart.curves)

        await pilot.press("right_square_bracket")  # no feasible trial at all
        await wait_for(pilot, lambda: screen.study_index == 2)
        assert diverged["curves"] == [] and diverged["gradients"] is None
        assert "No curves to draw: study width=32 has no feasible trial" in note(
            screen, "#curves-note"
        )
        assert not screen.query_one("#train-curves").display
        assert not screen.query_one("#val-curves").display
        await pilot.press("8")
        assert "No gradient norms to draw: study width=32 has no feasible trial" in note(
            screen, "#gradients-note"
        )
        assert not screen.query_one("#grad-histogram").display


@pytest.mark.parametrize("size", SIZES)
def test_curves_snapshot(
    snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = curved_experiment(Path("curves.tunebook"))

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await settle(pilot, lambda: type(app.screen).__name__ == "SessionMapScreen")
        app.show_review()  # type: ignore[attr-defined]
        await settle(
            pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.review is not None
        )
        await pilot.press("7")
        await pilot.pause(0.3)  # charts draw at their final size after the tab's layout

    assert snap_compare(TunebookApp(path), terminal_size=size, run_before=run_before)
