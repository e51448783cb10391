"""The experiments screen on real session files: the numbers `tunebook status` prints (the
same functions), grouped failures, live counts, and each study's best trial one key away."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.widgets import DataTable, Static

from tests.filled_session import fill_session
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    notices,
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tunebook.sessions import Session, TrialStatus
from tunebook.sessions.report import best_label, best_study_id, chosen_by, status_data
from tunebook.tui.screens.experiments import ExperimentsScreen, experiment_key, study_key
from tunebook.tui.screens.trial_detail import TrialDetailScreen


def row(table: DataTable, key: str) -> list[str]:
    """One row's cells as plain text."""
    return [str(cell).strip() for cell in table.get_row(key)]


async def open_experiments(app, pilot) -> ExperimentsScreen:
    """Show the experiments screen and wait until its numbers are on it."""
    app.show_experiments()
    return await wait_for(
        pilot,
        lambda: isinstance(app.screen, ExperimentsScreen)
        and app.screen.status is not None
        and app.screen,
        what="the experiments",
    )


def varied_session(path: Path) -> Path:
    """The filled session with every count different: study 1 gets a second failure (a
    new error), study 2 a running and a pending trial."""
    fill_session(path)
    with Session.open(path) as session:
        failed = session.add_trial(1, {"learning_rate": 0.5}, 1, 2)
        session.start_trial(failed.id)
        session.finish_trial(failed.id, TrialStatus.FAILED, error="out of memory")
        session.start_trial(session.add_trial(2, {"learning_rate": 0.6}, 1, 2).id)
        session.add_trial(2, {"learning_rate": 0.7}, 1, 2)
    return path


async def test_the_numbers_are_those_of_status(tmp_path: Path) -> None:
    path = varied_session(tmp_path / "f.tunebook")
    with Session.open(path, read_only=True) as session:
        data = status_data(session)
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        screen = await open_experiments(app, pilot)
        table = screen.query_one("#experiments", DataTable)
        assert table.row_count == 1 + 2  # one experiment, its two studies
        (experiment,) = data["experiments"]
        best_id = best_study_id(experiment["studies"])
        for study in experiment["studies"]:
            counts = study["counts"]
            assert row(table, study_key(study["id"])) == [
                study["name"],
                f"{study['finished']}/{study['budget']}",
                str(counts["infeasible"]),
                str(counts["failed"]),
                str(counts["running"]),
                str(counts["pending"]),
                best_label(study, study["id"] == best_id),
                chosen_by(study),
            ]
        # and as numbers, so the test cannot pass on an empty session: trials 2 and 6 are
        # the best of their studies (0.2/2 and 0.2/3)
        assert row(table, study_key(1))[1:7] == ["5/4", "1", "2", "0", "0", "0.1 (trial 2)"]
        assert row(table, study_key(2))[1:7] == ["4/4", "1", "1", "1", "1", "0.06667 (trial 6)"]
        head = row(table, experiment_key(experiment["id"]))
        assert head[0] == f"depth  {experiment['status']}"
        assert head[1:7] == ["9/8", "2", "3", "1", "1", "0.06667 (trial 6)"]

        # the cursor starts on the first study; below: goal, study, failures grouped
        detail = str(screen.query_one("#experiment-detail", Static).render())
        assert "goal: Does depth help?" in detail
        assert "study depth=2: points chosen by quasi-random" in detail
        assert "3 of 11 trials failed" in detail
        assert "2 trials failed: boom (trials 4, 8)" in detail
        assert "1 trial failed: out of memory (trial 9)" in detail


async def test_best_trial_is_one_key_away(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "f.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        screen = await open_experiments(app, pilot)
        await pilot.press("b")  # on study depth=2
        detail = await wait_for(
            pilot, lambda: isinstance(app.screen, TrialDetailScreen) and app.screen
        )
        assert detail.trial_id == 2
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)

        await pilot.press("down", "enter")  # study depth=3: enter does the same
        detail = await wait_for(
            pilot, lambda: isinstance(app.screen, TrialDetailScreen) and app.screen
        )
        assert detail.trial_id == 6
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)

        await pilot.press("up", "up", "b")  # the experiment's row: its best study's best
        detail = await wait_for(
            pilot, lambda: isinstance(app.screen, TrialDetailScreen) and app.screen
        )
        assert detail.trial_id == 6
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExperimentsScreen))


async def test_counts_follow_the_file_and_a_study_without_a_best_says_so(tmp_path: Path) -> None:
    """Live: a study added and a trial finished by another connection show up; `b` on a
    study with no finished value is one sentence."""
    path = fill_session(tmp_path / "f.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        screen = await open_experiments(app, pilot)
        table = screen.query_one("#experiments", DataTable)
        with Session.open(path) as session:
            study = session.add_study(1, "depth=4", {}, "quasi-random", 3, 0, "error", "min")
        await wait_for(pilot, lambda: table.row_count == 4, what="the new study")
        assert row(table, study_key(study.id))[1:7] == ["0/3", "0", "0", "0", "3", "—"]
        table.move_cursor(row=3)
        await pilot.press("b")
        assert "no finished trial with a value here yet" in notices(messages)
        assert app.screen is screen

        with Session.open(path) as session:
            trial = session.add_trial(study.id, {"learning_rate": 0.04}, 1, 2)
            session.start_trial(trial.id)
            session.finish_trial(trial.id, TrialStatus.COMPLETED, best_step=3, best_value=0.01)
        await wait_for(
            pilot,
            lambda: row(table, study_key(study.id))[1] == "1/3",
            what="the finished trial",
        )
        assert row(table, study_key(study.id))[5:7] == ["2", f"0.01 (trial {trial.id})"]
        assert row(table, experiment_key(1))[6] == f"0.01 (trial {trial.id})"
