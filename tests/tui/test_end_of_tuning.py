"""The app's end of tuning (PB-18): the exploitation screen shows the refined space that
`tunebook exploit --dry-run` computes and stores the Bayesian study through the real child
command; the final-test screen evaluates the adopted trial's checkpoint once, through a
real detached runner, and then offers no second evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from tests.analysis.sessions import per_value_experiment
from tests.test_exploit_cli import EXPLORATION
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tunebook.core.analysis.conclusion import conclude
from tunebook.core.analysis.exploitation import plan_exploitation
from tunebook.core.experiments import add_experiment_from_dict
from tunebook.sessions import Session
from tunebook.sessions.report import final_test
from tunebook.tui.cli import main
from tunebook.tui.probe_text import range_text
from tunebook.tui.screens.exploitation import ExploitationScreen
from tunebook.tui.screens.final_test import FinalTestScreen

CHILD_WAIT = 40.0  # seconds: the child `tunebook` process imports torch


def cells(table: DataTable, row: int) -> list[str]:
    """One row's cells as plain text."""
    return [c.plain if isinstance(c, Text) else str(c) for c in table.get_row_at(row)]


async def test_exploitation_shows_the_plan_and_stores_the_study(tmp_path: Path) -> None:
    path, _ = per_value_experiment(tmp_path / "s.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages, size=(120, 40)) as (app, pilot):
        app.show_exploitation("depth")
        screen = await wait_for(
            pilot,
            lambda: isinstance(app.screen, ExploitationScreen) and app.screen.view and app.screen,
            what="the exploitation screen",
        )
        assert screen.view.plan is None and "not concluded" in screen.view.problem
        await pilot.press("ctrl+s")
        with Session.open(path) as session:
            assert [e.name for e in session.experiments()] == ["depth"]
            conclude(session, "depth", "depth 2 wins")
            plan = plan_exploitation(session, "depth")
        app.data_version += 1  # as the watcher does when the file changes
        await wait_for(pilot, lambda: screen.view.plan is not None, what="the plan")
        table = screen.query_one("#exploit-table", DataTable)
        (lr,) = plan.ranges
        assert cells(table, 0) == [
            "learning_rate",
            range_text(lr.previous_low, lr.previous_high, lr.previous_values, lr.scale),
            range_text(lr.low, lr.high, lr.values, lr.scale),
        ]
        below = str(screen.query_one("#exploit-fixed", Static).render())
        assert f"learning_rate: {lr.reason}." in below and "depth=2" in below
        screen.query_one("#exploit-trials", Input).value = "3"
        await pilot.press("ctrl+s")

        def stored() -> bool:
            with Session.open(path, read_only=True) as session:
                return [e.name for e in session.experiments()] == ["depth", "depth-exploit"]

        await wait_for(pilot, stored, CHILD_WAIT, "the exploitation study")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExploitationScreen), what="back")
    with Session.open(path, read_only=True) as session:
        (study,) = session.studies(session.experiment("depth-exploit").id)
    assert study.algorithm == "bayesian" and study.budget == 3
    assert study.search_space["space"]["learning_rate"]["low"] == lr.low


@pytest.fixture
def adopted(tmp_path: Path) -> tuple[Path, int]:
    """A tabular session whose two-trial exploration trained (inline), its best adopted."""
    path = tmp_path / "s.tunebook"
    with Session.create(path, "tabular", {}) as session:
        spec = {**EXPLORATION, "search": {"algorithm": "quasi-random", "trials": 2}}
        add_experiment_from_dict(session, spec, "test")
    assert main(["run", str(path), "--executor", "inline"]) == 0
    with Session.open(path) as session:
        best = min(session.trials(), key=lambda t: t.best_value)
        session.add_launch({}, {"verdict": "first launch"}, "chosen", trial_id=best.id)
    return path, best.id


async def test_the_final_test_runs_once(adopted: tuple[Path, int]) -> None:
    path, trial = adopted
    messages: list[Message] = []
    async with session_app(path, messages, size=(120, 40)) as (app, pilot):
        app.show_final_test()
        screen = await wait_for(
            pilot,
            lambda: isinstance(app.screen, FinalTestScreen) and app.screen.view and app.screen,
            what="the final-test screen",
        )
        assert screen.view.trial == trial and screen.check_action("evaluate", ()) is True
        await pilot.press("t")
        await pilot.press("y")

        def recorded() -> dict | None:
            with Session.open(path, read_only=True) as session:
                return final_test(session)

        found = await wait_for(pilot, recorded, CHILD_WAIT, "the final test")
        app.data_version += 1
        await wait_for(pilot, lambda: screen.view.recorded is not None, what="the result")
        table = screen.query_one("#final-table", DataTable)
        rows = {cells(table, i)[0]: cells(table, i)[1:] for i in range(table.row_count)}
        assert rows["error"][0] == f"{found['value']:.4g}"
        assert screen.check_action("evaluate", ()) is False
        assert "Evaluated once" in str(screen.query_one("#final-head", Static).render())
