"""The trial detail screen on real session files: roles, tabs and charts, the reproduce
command copied, live curves, and rerun refused or done by a real detached runner."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets import DataTable, Static, TabbedContent

from tests.detail_session import make_session
from tests.execution.workloads import TINY_REF
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    notices,
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tunebook.core.execution.control import live_runner, stop_runner
from tunebook.core.experiments import add_experiment_from_spec
from tunebook.core.trial_detail import trial_detail
from tunebook.sessions import Session, TrialStatus
from tunebook.tui.messages import RunnerStarted
from tunebook.tui.screens.confirm import ConfirmScreen
from tunebook.tui.screens.trial_detail import TrialDetailScreen
from tunebook.tui.widgets.curve_chart import CurveChart
from tunebook.tui.widgets.histogram import HistogramChart


def cells(table: DataTable) -> list[list[str]]:
    """The table's rows as plain strings."""
    return [[str(cell) for cell in table.get_row_at(r)] for r in range(table.row_count)]


async def open_detail(app, pilot, trial_id: int) -> TrialDetailScreen:
    """Show trial `trial_id` and wait until its data is on screen."""
    app.show_trial(trial_id)
    screen = await wait_for(
        pilot,
        lambda: isinstance(app.screen, TrialDetailScreen) and app.screen.detail and app.screen,
        what="the trial detail",
    )
    return screen


async def test_overview_tabs_and_charts(tmp_path: Path) -> None:
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session:
        expected = trial_detail(session, trial_id)
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        screen = await open_detail(app, pilot, trial_id)
        tabs = screen.query_one("#detail-tabs", TabbedContent)
        assert tabs.active == "overview"
        assert cells(screen.query_one("#hparams", DataTable)) == [
            ["optimizer", "sgd", "scientific"],
            ["learning_rate", "0.05", "nuisance"],
            ["momentum", "0.9", "nuisance"],
            ["batch_size", "64", "fixed"],
            ["dropout", "0", "default"],
            ["grad_clip", "none", "default"],
            ["warmup_steps", "0", "default"],
            ["width", "64", "default"],
        ]
        summary = str(screen.query_one("#summary", Static).render())
        assert "seeds: init 11, data 22" in summary
        assert "best error (min): 0.3 at step 20" in summary
        assert f"reproduce: tunebook trial rerun {path} {trial_id}" in summary

        await pilot.press("t")
        assert tabs.active == "curves"
        loss = screen.query_one("#loss-chart", CurveChart).curves[0]
        assert (tuple(loss.steps), tuple(loss.values)) == (
            expected.train_loss.steps, expected.train_loss.values
        )
        validation = screen.query_one("#validation-chart", CurveChart).curves[0]
        assert tuple(validation.values) == pytest.approx((0.4, 0.3))
        assert validation.label == "validation/error (min)"

        await pilot.press("4")
        assert tabs.active == "grad"
        assert screen.query_one("#grad-histogram", HistogramChart).bins == expected.grad_histogram
        grad_line = str(screen.query_one("#grad-summary", Static).render())
        assert "clipped on 25% of steps" in grad_line

        await pilot.press("5")
        assert tabs.active == "checkpoints"
        assert cells(screen.query_one("#checkpoint-table", DataTable)) == [
            ["best", "20", "0.3", "2.0 kB"],
            ["best", "10", "0.4", "1.0 kB"],
        ]

        await pilot.press("c")
        assert app.clipboard == f"tunebook trial rerun {path} {trial_id}"
        assert f"copied: tunebook trial rerun {path} {trial_id}" in notices(messages)

        await pilot.press("escape")
        assert not isinstance(app.screen, TrialDetailScreen)


async def test_the_overview_says_where_the_latest_attempt_trained(tmp_path: Path) -> None:
    """From the runner's log of each start (none for this trial's first attempt, which a
    session from before this was recorded lacks: then the line is left out)."""
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    async with session_app(path, []) as (app, pilot):
        screen = await open_detail(app, pilot, trial_id)
        assert "trained on" not in str(screen.query_one("#summary", Static).render())
    with Session.open(path) as session:
        for where in ("pid 41, cpu", "Ray node 0123456789ab, pid 42, cuda:0"):
            data = {"trial": trial_id, "where": where}
            session.log_event("runner", "trial.started", f"trial {trial_id}: {where}", data)
        session.log_event("runner", "trial.started", "another", {"trial": trial_id + 10})
    async with session_app(path, []) as (app, pilot):
        screen = await open_detail(app, pilot, trial_id)
        summary = str(screen.query_one("#summary", Static).render())
        assert "trained on: Ray node 0123456789ab, pid 42, cuda:0\n" in summary


async def test_curves_grow_while_the_trial_runs(tmp_path: Path) -> None:
    """Live: another connection writes the pending trial's steps; the screen reloads."""
    path, _, pending_id = make_session(tmp_path / "s.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        screen = await open_detail(app, pilot, pending_id)
        assert screen.detail.status is TrialStatus.PENDING
        assert len(screen.detail.train_loss) == 0
        with Session.open(path) as session:
            session.start_trial(pending_id)
            writer = session.metrics_writer(pending_id)
            for step in range(1, 6):
                writer.add(step, {"train/loss": 1.0 / step})
            writer.flush()
        await wait_for(
            pilot, lambda: len(screen.detail.train_loss) == 5, what="the curve to grow"
        )
        assert screen.detail.status is TrialStatus.RUNNING
        assert "running" in str(screen.query_one("#summary", Static).render())


async def test_an_unknown_trial_is_one_sentence(tmp_path: Path) -> None:
    path, _, _ = make_session(tmp_path / "s.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        app.show_trial(99)
        await wait_for(pilot, lambda: any("99" in n for n in notices(messages)), what="error")
        assert isinstance(app.screen, TrialDetailScreen)  # the app stays up
        assert app.screen.detail is None


async def test_rerun_refused_when_read_only(tmp_path: Path) -> None:
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages, read_only=True) as (app, pilot):
        await open_detail(app, pilot, trial_id)
        await pilot.press("r")
        assert "cannot rerun: the session is read-only: opened with --read-only" in notices(
            messages
        )
        assert not isinstance(app.screen, ConfirmScreen)
    with Session.open(path, read_only=True) as session:
        assert session.trial(trial_id).status is TrialStatus.COMPLETED


@pytest.fixture
def other_runner(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A session that another process holds as its runner (a live claim, as a runner's)."""
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    code = (
        "import sys, time\n"
        "from tunebook.sessions import Session\n"
        "with Session.open(sys.argv[1]) as s:\n"
        "    s.claim_runner(30.0)\n"
        "    print('claimed', flush=True)\n"
        "    time.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "claimed"
        yield path, trial_id
    finally:
        holder.kill()
        holder.wait()


async def test_rerun_refused_while_a_runner_is_alive(other_runner: tuple[Path, int]) -> None:
    path, trial_id = other_runner
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        await open_detail(app, pilot, trial_id)
        await wait_for(pilot, lambda: app.runner_alive, what="the runner to be seen")
        await pilot.press("r")
        assert any(n.startswith("cannot rerun: a runner is running") for n in notices(messages))
        assert not isinstance(app.screen, ConfirmScreen)
    with Session.open(path, read_only=True) as session:
        assert session.trial(trial_id).status is TrialStatus.COMPLETED


async def test_rerun_cancelled_keeps_the_result(tmp_path: Path) -> None:
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        await open_detail(app, pilot, trial_id)
        await pilot.press("r")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert dialog
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, TrialDetailScreen))
    with Session.open(path, read_only=True) as session:
        trial = session.trial(trial_id)
        assert (trial.status, trial.best_value) == (TrialStatus.COMPLETED, 0.3)


TINY_SPEC = """\
name = "tiny"
goal = "Does it run?"
max_train_steps = 6
eval_every = 3

[fixed]
optimizer = "adam"
batch_size = 32
learning_rate = 0.01

[search]
algorithm = "quasi-random"
trials = 1
seed = 0
"""


@pytest.fixture
def finished_tiny(tmp_path: Path) -> Iterator[Path]:
    """A `Tiny` session whose one trial finished (run in this process); any runner the
    test starts on it is stopped afterwards."""
    from tunebook.core.execution.runner import Runner

    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    path = tmp_path / "tiny.tunebook"
    with Session.create(path, TINY_REF, {}) as session:
        add_experiment_from_spec(session, spec)
    Runner(path, workers=1, executor="inline").run()
    try:
        yield path
    finally:
        stop_runner(path, timeout=60)


async def test_rerun_resets_the_trial_and_starts_a_detached_runner(finished_tiny: Path) -> None:
    path = finished_tiny
    with Session.open(path, read_only=True) as session:
        (before,) = session.trials()
    assert before.status is TrialStatus.COMPLETED and before.attempts == 1
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        screen = await open_detail(app, pilot, before.id)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        started = await wait_for(
            pilot,
            lambda: [m for m in messages if isinstance(m, RunnerStarted)],
            timeout=60,
            what="the runner to start",
        )
        assert f"trial {before.id} is reset and trained again by a new run" in notices(messages)
        # the detached runner trains it again; the screen follows it to the end
        await wait_for(
            pilot,
            lambda: screen.detail.status is TrialStatus.COMPLETED
            and screen.detail.attempts == 2
            and live_runner(path) is None,
            timeout=90,
            what="the rerun to finish",
        )
        assert screen.detail.train_loss.steps == tuple(range(1, 7))
    with Session.open(path, read_only=True) as session:
        after = session.trial(before.id)
        events = [e.kind for e in session.events()]
    assert after.started_at > before.started_at
    assert (after.params, after.init_seed, after.data_seed) == (
        before.params, before.init_seed, before.data_seed
    )
    assert after.best_value == pytest.approx(before.best_value)  # same seeds, CPU
    assert "trial.rerun" in events
    assert started[0].pid > 0
