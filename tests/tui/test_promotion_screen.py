"""The app's promotion screen (PB-20): it shows the plan `tunebook promote --dry-run`
computes, `+`/`-` change the factor, and ctrl+s stores through the real child command the
same experiment `tunebook promote` makes; the Review offers `P` once every trial finished.
A snapshot at 80×24 on a constructed session (no training)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.text import Text
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.analysis.sessions import LR, finished
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tests.tui.test_snapshots import settle
from tunebook.core.design.promotion import plan_promotion, plan_rows
from tunebook.sessions import ExperimentStatus, Session
from tunebook.tui.app import TunebookApp
from tunebook.tui.cli import main
from tunebook.tui.screens.promotion import PromotionScreen
from tunebook.tui.screens.review import ReviewScreen

CHILD_WAIT = 40.0  # seconds: the child `tunebook` process imports torch
FIXED = {"schedule": "linear", "warmup_steps": 2, "decay_start": 6}


def short_round(path: Path) -> Path:
    """A finished 12-step experiment over depth 1 and 2 (one study each), three trials
    per study with known objectives, a linear schedule fixed; written row by row."""
    design = {
        "fixed": FIXED,
        "scientific": {"depth": [1, 2]},
        "nuisance": {"learning_rate": LR},
        "training": {"eval_every": 4},
    }
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("short", "Does depth help?", design, 12)
        for depth, values in ((1, (0.4, 0.3, 0.5)), (2, (0.2, 0.35, 0.25))):
            layout = {"space": {"learning_rate": LR}, "scientific": {"depth": depth}}
            study = session.add_study(
                experiment.id,
                f"depth={depth}",
                layout,
                "quasi-random",
                3,
                0,
                "error",
                "min",
                {**FIXED, "depth": depth},
            )
            for i, value in enumerate(values):
                finished(session, study.id, {"learning_rate": 1e-3 * (i + 1)}, best=value)
        session.update_experiment(experiment.id, status=ExperimentStatus.FINISHED)
    return path


def cells(table: DataTable, row: int) -> tuple[str, ...]:
    """One row's cells as plain text."""
    return tuple(c.plain if isinstance(c, Text) else str(c) for c in table.get_row_at(row))


def shown(screen: PromotionScreen, factor: int) -> bool:
    view = screen.view
    return view is not None and view.factor == factor and view.plan is not None


async def test_the_screen_shows_the_plan_and_stores_what_promote_makes(tmp_path: Path) -> None:
    path = short_round(tmp_path / "s.tunebook")
    twin = tmp_path / "twin.tunebook"
    shutil.copy(path, twin)
    messages: list[Message] = []
    async with session_app(path, messages, size=(120, 40)) as (app, pilot):
        app.show_review("short")
        review = await wait_for(
            pilot,
            lambda: isinstance(app.screen, ReviewScreen) and app.screen.review and app.screen,
            what="the review",
        )
        assert review.check_action("promote", ()) is True
        await pilot.press("P")
        screen = await wait_for(
            pilot,
            lambda: isinstance(app.screen, PromotionScreen) and shown(app.screen, 2) and app.screen,
            what="the promotion screen",
        )
        table = screen.query_one("#promote-table", DataTable)
        with Session.open(path, read_only=True) as session:
            plan = plan_promotion(session, "short", factor=2)
        assert [cells(table, i) for i in range(table.row_count)] == plan_rows(plan)
        budget = str(screen.query_one("#promote-budget", Static).render())
        assert "max_train_steps 12 → 24 (×2); eval_every 4 → 8" in budget
        await pilot.press("plus")
        await wait_for(pilot, lambda: shown(screen, 3), what="factor 3")
        assert "max_train_steps 12 → 36 (×3)" in str(
            screen.query_one("#promote-budget", Static).render()
        )
        assert "decay 6–12 → 30–36" in cells(table, 0)[-1]
        await pilot.press("ctrl+s")

        def stored() -> bool:
            with Session.open(path, read_only=True) as session:
                return [e.name for e in session.experiments()] == ["short", "short-long"]

        await wait_for(pilot, stored, CHILD_WAIT, "the longer round")
        await wait_for(pilot, lambda: not isinstance(app.screen, PromotionScreen), what="back")
    assert main(["promote", str(twin), "short", "--factor", "3"]) == 0
    designs = []
    for file in (path, twin):
        with Session.open(file, read_only=True) as session:
            experiment = session.experiment("short-long")
            studies = [(s.search_space, s.fixed) for s in session.studies(experiment.id)]
            designs.append((experiment.design, experiment.max_train_steps, studies))
    assert designs[0] == designs[1] and designs[0][1] == 36


def test_snapshot(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", "state")
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", "config")
    short_round(Path("short.tunebook"))

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot, lambda: type(pilot.app.screen).__name__ == "SessionMapScreen")
        pilot.app.show_promotion("short")
        await settle(
            pilot,
            lambda: isinstance(pilot.app.screen, PromotionScreen) and shown(pilot.app.screen, 2),
        )

    app = TunebookApp(Path("short.tunebook"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
