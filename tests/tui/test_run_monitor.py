"""The run monitor, driven through the real app (`App.run_test`) on real session files:
a run started with `s` that finishes; a run that outlives the app, is found again by a new
one and stopped with `x`; the table's filter and cursor; the layout at 80×24 and 120×40;
a read-only session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from tests.core.test_monitor import live_session
from tests.execution.conftest import new_session, spec_text
from tests.tui.home_helpers import error_notifications, notifications
from tests.tui.monitor_helpers import kill_runner, open_monitor
from tests.tui.pilot import wait_for
from tunebook.core.execution.control import RunRequest, live_runner, log_path_of
from tunebook.sessions import Session, TrialStatus
from tunebook.sessions.report import status_data
from tunebook.tui.app import TunebookApp, where_runs_train
from tunebook.tui.messages import RunnerStarted, RunnerStopped
from tunebook.tui.screens.confirm import ConfirmScreen
from tunebook.tui.screens.run_monitor import RunMonitorScreen
from tunebook.tui.screens.run_options import RunOptionsScreen
from tunebook.tui.screens.session_map import SessionMapScreen
from tunebook.tui.widgets.curve_chart import CurveChart
from tunebook.tui.widgets.trial_table import TrialTable


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's recent-sessions list and keymap out of the tests."""
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def sessions() -> Iterator[list[Path]]:
    """Session files a test may start runners on; their runners are killed at the end."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        kill_runner(path)


def statuses(path: Path) -> list[TrialStatus]:
    """Every trial's status, read-only."""
    with Session.open(path, read_only=True) as session:
        return [t.status for t in session.trials()]


def counts_line(screen: RunMonitorScreen) -> str:
    """The progress line as shown."""
    return str(screen.query_one("#monitor-counts").render())


async def open_options(pilot: Pilot, app: TunebookApp) -> RunOptionsScreen:
    """Press `o` on the monitor and wait for the run-options dialog."""
    await pilot.press("o")
    dialog = await wait_for(
        pilot, lambda: isinstance(app.screen, RunOptionsScreen) and app.screen, 5, "the dialog"
    )
    assert isinstance(dialog, RunOptionsScreen)
    return dialog


async def type_into(pilot: Pilot, dialog: RunOptionsScreen, field: str, text: str) -> None:
    """Replace what the dialog's `field` holds by typing `text` into it."""
    dialog.query_one(field, Input).value = ""
    dialog.query_one(field, Input).focus()
    await pilot.press(*text)


def test_the_apps_runs_go_where_its_run_options_say(tmp_path: Path, sessions: list[Path]) -> None:
    """`o` on the monitor edits the app's run options (`tunebook PATH --executor …` sets them
    at start), checked as `tunebook run` checks them: a refusal is one sentence in the
    dialog; Ray's fields show only with Ray and go with it. `s` then starts a detached
    runner with them, and its trials train there (their detail says so)."""
    path = new_session(tmp_path, spec_text(steps=20, trials=2, eval_every=10))
    sessions.append(path)

    async def scenario() -> None:
        app = TunebookApp(path, run_request=RunRequest(workers=2))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_monitor(pilot, app)
            dialog = await open_options(pilot, app)
            assert not dialog.query_one("#row-ray-address").display  # not with process
            await type_into(pilot, dialog, "#workers", "0")
            await pilot.press("enter")
            assert app.screen is dialog and app.run_request == RunRequest(workers=2)
            error = dialog.query_one("#options-error", Static)
            assert str(error.content) == "--workers must be at least 1, got 0"
            dialog.query_one("#executor", Select).value = "ray"
            await pilot.pause()
            assert dialog.query_one("#row-ray-address").display
            await type_into(pilot, dialog, "#ray-address", "head:6379")
            command = str(dialog.query_one("#options-command", Static).content)
            assert command.endswith("--executor ray --workers=0 --address=head:6379")
            dialog.query_one("#executor", Select).value = "inline"  # Ray's address goes
            await type_into(pilot, dialog, "#workers", "")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen is screen, 5, "the dialog to close")
            assert app.run_request == RunRequest(executor="inline")
            assert notifications(app)[-1] == (
                "the runs started from now on: tunebook run PATH --executor inline"
            )
            dialog = await open_options(pilot, app)  # it shows what is set; esc keeps it
            assert dialog.executor == "inline" and dialog.values()["workers"] == ""
            await pilot.press("escape")
            assert app.run_request == RunRequest(executor="inline")

            await pilot.press("s")
            await wait_for(pilot, lambda: app.runner_alive, 30, "the runner")
            await wait_for(
                pilot,
                lambda: screen.data.progress.finished == 2 and not app.runner_alive,
                60,
                "every trial finished and the runner gone",
            )

    asyncio.run(scenario())
    with Session.open(path, read_only=True) as session:
        trials = session.trials()
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
        assert all("(inline)" in session.trial_where(t.id) for t in trials)
    assert where_runs_train(RunRequest(executor="inline")) == ""
    local = where_runs_train(RunRequest(executor="ray"))
    assert local == ", its trials as Ray tasks on a local Ray instance"
    cluster = where_runs_train(RunRequest(executor="ray", address="head:6379"))
    assert cluster == ", its trials as Ray tasks on head:6379"


def test_a_run_that_fails_after_it_started_says_so_in_the_app(
    tmp_path: Path, sessions: list[Path]
) -> None:
    """A detached runner that registered (so `s` said "runner started") and then ended in
    failure, here because every trial failed, is an error notification with its sentence
    and log: the app does not leave the user to find it in the log."""
    flag = tmp_path / "broken"
    spec = spec_text(steps=10, trials=2)
    path = new_session(tmp_path, spec, config={"fail_if_exists": str(flag)})
    sessions.append(path)
    flag.touch()  # after `experiment add`, whose one-step check would refuse the workload

    async def scenario() -> None:
        app = TunebookApp(path, run_request=RunRequest(executor="inline"))
        async with app.run_test(size=(80, 24)) as pilot:
            await open_monitor(pilot, app)
            await pilot.press("s")

            def started() -> bool:
                """Looked for now: a notification expires, and a loaded machine is slow."""
                return any(n.startswith("runner started (pid ") for n in notifications(app))

            await wait_for(pilot, started, 60, "the runner to start")
            await wait_for(pilot, lambda: error_notifications(app), 60, "the failure")
            [error] = error_notifications(app)
            assert error == (
                "the runner ended with an error: every trial this run finished failed (2); "
                f"see the errors above; log {log_path_of(path)}"
            )

    asyncio.run(scenario())
    assert statuses(path) == [TrialStatus.FAILED] * 2


def test_start_a_run_with_s_and_watch_it_finish(tmp_path: Path, sessions: list[Path]) -> None:
    path = new_session(tmp_path, spec_text(steps=20, trials=2, eval_every=10))
    sessions.append(path)
    messages: list[Message] = []

    async def scenario() -> None:
        app = TunebookApp(path, run_request=RunRequest(workers=1))
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            screen = await open_monitor(pilot, app)
            assert screen.data is not None and screen.data.rows == ()  # trials come lazily
            assert (screen.data.progress.finished, screen.data.progress.total) == (0, 2)
            assert "0/2 finished · 2 pending" in counts_line(screen)
            assert screen.check_action("start", ()) is True
            assert screen.check_action("stop", ()) is None  # nothing to stop
            await pilot.press("s")
            await wait_for(
                pilot,
                lambda: any(isinstance(m, RunnerStarted) for m in messages),
                30,
                "RunnerStarted",
            )
            seen_running = await wait_for(pilot, lambda: app.runner_alive, 30, "the runner")
            assert seen_running and screen.check_action("start", ()) is None
            await wait_for(
                pilot,
                lambda: screen.data.progress.finished == 2 and not app.runner_alive,
                40,
                "every trial finished and the runner gone",
            )
            await pilot.pause(0.3)
            table = screen.query_one(TrialTable)
            assert len(table.shown_ids) == 2
            assert [r.status for r in screen.data.rows] == [TrialStatus.COMPLETED] * 2
            assert all(r.step == 20 and r.best_value is not None for r in screen.data.rows)
            assert "100% 2/2 finished · no runner" in counts_line(screen)
            # The charts draw the selected trial's curves (20 loss steps, 2 evaluations),
            # once their throttled redraw came.
            chart = screen.query_one("#monitor-train", CurveChart)
            await wait_for(
                pilot,
                lambda: len(chart.curves) == 1 and len(chart.curves[0].steps) == 20,
                10,
                "the finished trial's curve",
            )
            assert screen.curves[0].trial_id == table.selected_id
            assert list(chart.curves[0].steps) == list(range(1, 21))
            validation = screen.query_one("#monitor-validation", CurveChart).curves
            assert list(validation[0].steps) == [10, 20]

    asyncio.run(scenario())
    started = [m for m in messages if isinstance(m, RunnerStarted)]
    assert len(started) == 1
    assert statuses(path) == [TrialStatus.COMPLETED] * 2
    with Session.open(path, read_only=True) as session:
        assert status_data(session)["trials"]["completed"] == 2


def test_quit_leaves_the_run_reopen_reattaches_and_x_stops_it(
    tmp_path: Path, sessions: list[Path]
) -> None:
    spec = spec_text(steps=400, trials=2, fixed={"sleep_ms": 10}, checkpoint_every=20)
    path = new_session(tmp_path, spec)
    sessions.append(path)
    first: list[Message] = []
    second: list[Message] = []

    async def start_and_quit() -> None:
        app = TunebookApp(path, run_request=RunRequest(workers=2))
        async with app.run_test(size=(80, 24), message_hook=first.append) as pilot:
            await open_monitor(pilot, app)
            await pilot.press("s")
            # The watcher may see the runner before the start worker reports it: wait for
            # the report, which comes once the runner has claimed the file.
            await wait_for(
                pilot, lambda: any(isinstance(m, RunnerStarted) for m in first), 30, "the runner"
            )
            await pilot.press("q")

    async def reopen_and_stop() -> None:
        app = TunebookApp(path)
        async with app.run_test(size=(80, 24), message_hook=second.append) as pilot:
            screen = await open_monitor(pilot, app)
            await wait_for(
                pilot,
                lambda: (
                    screen.data.progress.running >= 1
                    and any((r.step or 0) >= 25 for r in screen.data.rows)
                ),
                60,
                "a running trial past its first checkpoint",
            )
            assert app.runner_alive and screen.check_action("stop", ()) is True
            assert screen.check_action("start", ()) is None
            assert "runner alive" in counts_line(screen)
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: any(isinstance(m, RunnerStopped) for m in second),
                120,
                "RunnerStopped",
            )
            await wait_for(
                pilot,
                lambda: not app.runner_alive and screen.data.progress.running == 0,
                20,
                "the monitor to see the runner gone",
            )
            assert app.screen is screen
            assert all(
                r.status in (TrialStatus.PENDING, TrialStatus.COMPLETED) for r in screen.data.rows
            )
            assert screen.check_action("start", ()) is True  # it can be started again

    asyncio.run(start_and_quit())
    started = next(m for m in first if isinstance(m, RunnerStarted))
    runner = live_runner(path)
    assert runner is not None and runner.pid == started.pid  # quitting left it running
    asyncio.run(reopen_and_stop())
    stopped = next(m for m in second if isinstance(m, RunnerStopped))
    assert stopped.pid == started.pid
    assert live_runner(path) is None
    assert set(statuses(path)) <= {TrialStatus.PENDING, TrialStatus.COMPLETED}


def test_table_filter_cursor_and_problem_line(tmp_path: Path) -> None:
    path = live_session(tmp_path / "live.tunebook")

    async def scenario() -> None:
        app = TunebookApp(path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_monitor(pilot, app)
            table = screen.query_one(TrialTable)
            await wait_for(pilot, lambda: table.shown_ids == (1, 2, 3, 4, 5), 5, "rows")
            assert table.selected_id == 4  # the first paint lands on the running trial
            await wait_for(pilot, lambda: [c.trial_id for c in screen.curves] == [4], 5, "4")
            await pilot.press("up")  # trial 3, failed: its error under the table
            assert table.selected_id == 3
            problem = str(screen.query_one("#monitor-problem").render())
            assert problem == "trial 3 failed: RuntimeError: boom"
            await wait_for(
                pilot, lambda: [c.trial_id for c in screen.curves] == [3, 4], 5, "3 and 4"
            )
            await pilot.press("slash", *"width=16")
            assert table.shown_ids == (4, 5) and screen.filter_text == "width=16"
            await pilot.press("enter")  # back to the table, the filter stays
            assert table.has_focus and table.shown_ids == (4, 5)
            # A reload (the file changed) keeps the filter and the cursor's trial.
            await pilot.press("down")
            assert table.selected_id == 5
            with Session.open(path) as session:
                session.add_note("trial:5", "touch the file")
            app.data_version += 1
            await pilot.pause(0.5)
            assert table.shown_ids == (4, 5) and table.selected_id == 5
            problem = str(screen.query_one("#monitor-problem").render())
            assert problem.endswith("pending, last attempt: stopped by SIGTERM")
            await pilot.press("escape")  # clears the filter first
            assert table.shown_ids == (1, 2, 3, 4, 5) and table.selected_id == 5
            await pilot.press("slash", *"fail", "enter")
            assert table.shown_ids == (3,)
            await pilot.press("escape", "escape")  # filter, then back to the map
            assert isinstance(app.screen, SessionMapScreen)

    asyncio.run(scenario())


def test_layout_beside_at_120_columns_and_below_at_80(tmp_path: Path) -> None:
    path = live_session(tmp_path / "live.tunebook")

    async def scenario(size: tuple[int, int]) -> tuple[int, int, int, int]:
        app = TunebookApp(path)
        async with app.run_test(size=size) as pilot:
            screen = await open_monitor(pilot, app)
            await pilot.pause(0.2)
            table = screen.query_one(TrialTable).region
            chart = screen.query_one("#monitor-train").region
            return table.x, table.y, chart.x, chart.y

    table_x, table_y, chart_x, chart_y = asyncio.run(scenario((80, 24)))
    assert chart_y > table_y and chart_x == table_x  # below
    table_x, table_y, chart_x, chart_y = asyncio.run(scenario((120, 40)))
    assert chart_x > table_x and chart_y <= table_y  # beside


def test_read_only_session_cannot_start_a_run(tmp_path: Path) -> None:
    path = live_session(tmp_path / "live.tunebook")

    async def scenario() -> None:
        app = TunebookApp(path, read_only=True)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_monitor(pilot, app)
            assert screen.check_action("start", ()) is None
            assert "no run: the session is read-only" in counts_line(screen)
            await pilot.press("s")
            await pilot.pause(0.3)
            assert live_runner(path) is None

    asyncio.run(scenario())
    assert not os.path.exists(f"{path}.log")


def long_run_session(path: Path) -> Path:
    """One finished trial of a 12,000-step experiment whose loss and best are small numbers
    (`0.000490123`, `0.0297`): the widest a step, loss and best cell gets."""
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("long", "", {"scientific": {"width": [8]}}, 12000)
        study = session.add_study(
            experiment.id, "width=8", {}, "quasi-random", 1, 0, "error", "min", {"width": 8}
        )
        trial = session.add_trial(study.id, {}, 1, 2)
        session.start_trial(trial.id)
        writer = session.metrics_writer(trial.id)
        writer.add(12000, {"train/loss": 0.000490123, "validation/error": 0.0297})
        session.finish_trial(
            trial.id, TrialStatus.COMPLETED, best_step=12000, best_value=0.0297, writer=writer
        )
    return path


async def monitor_showing(pilot: Pilot, app: TunebookApp, ids: tuple[int, ...]) -> TrialTable:
    """The run monitor's trial table, once it shows the trials `ids`."""
    table = (await open_monitor(pilot, app)).query_one(TrialTable)
    await wait_for(pilot, lambda: table.shown_ids == ids, 5, f"trials {ids}")
    return table


def test_step_loss_and_best_cells_keep_a_space_before_the_next_column(tmp_path: Path) -> None:
    path = long_run_session(tmp_path / "long.tunebook")

    async def scenario() -> None:
        app = TunebookApp(path)
        async with app.run_test(size=(100, 24)) as pilot:
            table = await monitor_showing(pilot, app, (1,))
            cells = {key: table.get_cell("1", key).plain for key in ("step", "loss", "best")}
            assert cells == {"step": "12000/12000", "loss": "4.9e-4", "best": "0.0297"}
            for key, text in cells.items():
                assert len(text) < table.columns[key].width, key  # a space is left

    asyncio.run(scenario())


def test_a_wider_value_drawn_later_widens_its_column_and_keeps_the_space(
    tmp_path: Path,
) -> None:
    """The columns are fitted to the values there when the monitor opens; a trial drawn
    later with a wider value (`0.000418` after `0.0132`) widens its column, so the value
    still ends before the status column. A value wider than any column (a long name) ends
    in an ellipsis, its space kept."""
    path = tmp_path / "lr.tunebook"
    design = {
        "scientific": {"activation": ["a_very_long_activation_name"]},
        "nuisance": {"learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"}},
    }
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("lr", "", design, 100)
        fixed = {"activation": "a_very_long_activation_name"}
        study = session.add_study(
            experiment.id, "lr", {}, "quasi-random", 2, 0, "error", "min", fixed
        )
        session.add_trial(study.id, {"learning_rate": 0.0132}, 1, 2)

    async def scenario() -> None:
        app = TunebookApp(path)
        async with app.run_test(size=(100, 24)) as pilot:
            table = await monitor_showing(pilot, app, (1,))
            before = table.columns["hp:learning_rate"].width
            with Session.open(path) as session:
                session.add_trial(study.id, {"learning_rate": 0.000418}, 3, 4)
            await wait_for(pilot, lambda: table.shown_ids == (1, 2), 10, "the second trial")
            for key in ("hp:learning_rate", "hp:activation"):
                width = table.columns[key].width
                cells = [table.get_cell(str(t), key).plain for t in (1, 2)]
                assert all(len(cell) < width for cell in cells), (key, cells, width)
            assert table.get_cell("2", "hp:learning_rate").plain == "0.000418"
            assert table.columns["hp:learning_rate"].width > before
            assert table.get_cell("1", "hp:activation").plain.endswith("…")

    asyncio.run(scenario())
