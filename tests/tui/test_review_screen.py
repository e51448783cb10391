"""The review screen on written sessions: the numbers `tunebook review --json` prints (the
same function), the ranking cycled by metric, ranked trials one key away, the experiments
screen's `v`, names from the file shown as typed, and snapshots at both sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.analysis.sessions import LR, finished, per_value_experiment
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tests.tui.test_snapshots import SIZES, settle
from tunebook.sessions import Session, TrialStatus
from tunebook.tui.app import TunebookApp
from tunebook.tui.cli import main
from tunebook.tui.screens.experiments import ExperimentsScreen
from tunebook.tui.screens.review import ReviewScreen
from tunebook.tui.screens.trial_detail import TrialDetailScreen


def ranked_experiment(path: Path) -> Path:
    """Two per-value studies (width 8, 16) of four trials over a log learning rate: three
    with curves whose orders by error, accuracy and training loss differ, one diverged."""
    curves = {  # learning rate: (validation/error, validation/accuracy, train/loss)
        1e-3: ([0.30, 0.20], [0.70, 0.90], [0.9, 0.8]),
        3e-3: ([0.10, 0.15], [0.80, 0.60], [0.5, 0.4]),
        1e-2: ([0.25, 0.40], [0.95, 0.50], [0.3, 0.1]),
    }
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment(
            "width", "Does width help?", {"scientific": {"width": [8, 16]}}, 20
        )
        for shift, width in enumerate((8, 16)):
            layout = {"space": {"learning_rate": LR}, "scientific": {"width": width}}
            study = session.add_study(
                experiment.id,
                f"width={width}",
                layout,
                "quasi-random",
                4,
                0,
                "error",
                "min",
                {"width": width},
            )
            for lr, (error, accuracy, train) in curves.items():
                series = {
                    "validation/error": list(zip((10, 20), (e + shift / 10 for e in error))),
                    "validation/accuracy": list(zip((10, 20), accuracy)),
                    "train/loss": list(zip((10, 20), train)),
                }
                best = min(error) + shift / 10
                finished(session, study.id, {"learning_rate": lr}, best=best, series=series)
            finished(session, study.id, {"learning_rate": 0.09}, TrialStatus.INFEASIBLE)
    return path


async def open_review(app: TunebookApp, pilot: Pilot, name: str | None = None) -> ReviewScreen:
    """Show the review of `name` and wait until its numbers are on it."""
    app.show_review(name)
    return await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, ReviewScreen) and app.screen.review is not None and app.screen
        ),
        what="the review",
    )


def column(table: DataTable, index: int) -> list[str]:
    """One column's cells as plain text, top to bottom."""
    return [str(table.get_row_at(row)[index]).strip() for row in range(table.row_count)]


async def test_the_screen_shows_the_numbers_of_review_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = per_value_experiment(tmp_path / "s.tunebook")
    assert main(["review", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    async with session_app(path, [], size=(120, 40)) as (app, pilot):
        screen = await open_review(app, pilot)
        assert screen.review is not None and screen.review.document == document
        checklist = screen.query_one("#review-checklist", DataTable)
        assert column(checklist, 1) == [
            {"pass": "✓ pass", "warn": "! warn", "fail": "✗ fail"}[i["verdict"]]
            for i in document["checklist"]
        ]
        isolation = screen.query_one("#isolation-table", DataTable)
        points = document["isolation"][0]["points"]
        assert column(isolation, 1) == [p["label"] for p in points]
        assert column(isolation, 2) == [f"{p['best']:.4g}" for p in points]
        await pilot.press("6")  # the ranking: the study keys work on the study tabs
        for index, study in enumerate(document["studies"]):
            ranking = screen.query_one("#ranking-table", DataTable)
            assert column(ranking, 1) == [str(r["trial_id"]) for r in study["ranking"]["trials"]]
            assert str(screen.query_one("#review-head", Static).render()).count(study["name"])
            await pilot.press("right_square_bracket")
            await wait_for(pilot, lambda i=index: screen.study_index == (i + 1) % 3)


async def test_cycling_the_rank_metric_and_position_reranks(tmp_path: Path) -> None:
    path = ranked_experiment(tmp_path / "r.tunebook")
    async with session_app(path, [], size=(120, 40)) as (app, pilot):
        screen = await open_review(app, pilot)
        await pilot.press("6")
        table = screen.query_one("#ranking-table", DataTable)
        assert screen.study is not None
        by_error = column(table, 1)
        assert screen.study["ranking"]["metric"] == "validation/error" and len(by_error) == 3
        await pilot.press("k")
        await wait_for(pilot, lambda: screen.review.rank_by == "validation/accuracy")
        by_accuracy = column(table, 1)
        assert by_accuracy != by_error
        with Session.open(path, read_only=True) as session:
            from tunebook.tui.cli.review_commands import review_document

            expected = review_document(session, "width", "validation/accuracy", "best")
        ranked = expected["studies"][0]["ranking"]["trials"]
        assert by_accuracy == [str(r["trial_id"]) for r in ranked]
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.review.at == "final")
        assert column(table, 1) != by_accuracy  # final accuracy orders them the other way
        assert "validation/accuracy at final" in str(
            screen.query_one("#ranking-note", Static).render()
        )
        await pilot.press("enter")
        detail = await wait_for(
            pilot, lambda: isinstance(app.screen, TrialDetailScreen) and app.screen
        )
        assert str(detail.trial_id) == column(table, 1)[0]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_v_on_the_experiments_screen_reviews_the_highlighted_experiment(
    tmp_path: Path,
) -> None:
    path = ranked_experiment(tmp_path / "r.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        app.show_experiments()
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.status is not None,
        )
        await pilot.press("v")
        screen = await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ReviewScreen)
                and app.screen.review is not None
                and app.screen
            ),
        )
        assert screen.experiment_name == "width"
        assert "Does width help?" in str(screen.query_one("#review-head", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen))


async def test_names_from_the_file_are_shown_as_typed(tmp_path: Path) -> None:
    path = tmp_path / "hostile.tunebook"
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("[bold]x[/]\x1b[2J", "goal [red]y[/]", {}, 10)
        layout = {"space": {}, "scientific": {}}
        session.add_study(experiment.id, "[i]s", layout, "quasi-random", 1, 0, "error", "min")
    async with session_app(path, []) as (app, pilot):
        screen = await open_review(app, pilot)
        head = str(screen.query_one("#review-head", Static).render())
        assert "[bold]x[/]\\x1b[2J" in head and "goal [red]y[/]" in head and "[i]s" in head
        evidence = str(screen.query_one("#review-evidence", Static).render())
        assert evidence  # the highlighted item explains itself


TAB_KEYS = ["1", "4"]


@pytest.mark.parametrize("tab", TAB_KEYS, ids=["checklist", "axis"])
@pytest.mark.parametrize("size", SIZES)
def test_snapshot(
    snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], tab: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = ranked_experiment(Path("review.tunebook"))

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await settle(pilot, lambda: type(app.screen).__name__ == "SessionMapScreen")
        app.show_review()  # type: ignore[attr-defined]
        await settle(
            pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.review is not None
        )
        await pilot.press(tab)
        await pilot.pause(0.3)  # charts draw at their final size after the tab's layout

    assert snap_compare(TunebookApp(path), terminal_size=size, run_before=run_before)
