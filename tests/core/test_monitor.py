"""The run monitor's numbers (`core.monitor`), on sessions written through the public API."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from tests.filled_session import fill_session
from tunebook.core.monitor import (
    NUMBER_WIDTH,
    HParamColumn,
    curve_ids,
    default_selection,
    design_columns,
    estimate_eta,
    format_duration,
    format_number,
    format_value,
    log_scale_fits,
    matches,
    monitor_data,
    thin,
    trial_curves,
)
from tunebook.sessions import Series, Session, TrialStatus
from tunebook.sessions.records import Experiment
from tunebook.sessions.report import status_data

T0 = 1_000_000.0


def live_session(path: Path) -> Path:
    """One experiment (width scientific, learning rate nuisance, 100 steps), two studies of
    budget 3: trials completed, infeasible, failed, running and pending (stopped), with
    known timestamps; study `width=16` has one planned trial not yet created."""
    design = {
        "scientific": {"width": [8, 16]},
        "nuisance": {
            "learning_rate": {"low": 1e-3, "high": 1e-1, "scale": "log"},
            "when": {"width": {"16": {"dropout": {"low": 0.0, "high": 0.5}}}},
        },
    }
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("width", "Does width help?", design, 100)
        narrow, wide = (
            session.add_study(
                experiment.id,
                f"width={w}",
                {},
                "quasi-random",
                3,
                0,
                "error",
                "min",
                {"width": w, "optimizer": "adam"},
            )
            for w in (8, 16)
        )
        plan = [
            (narrow, TrialStatus.COMPLETED, 100, 0.2, ""),
            (narrow, TrialStatus.INFEASIBLE, 40, None, "training loss is nan at step 40"),
            (narrow, TrialStatus.FAILED, 3, None, "RuntimeError: boom"),
            (wide, TrialStatus.RUNNING, 50, None, ""),
            (wide, TrialStatus.PENDING, 20, None, "stopped by SIGTERM"),
        ]
        for i, (study, status, steps, best, error) in enumerate(plan):
            params = {"learning_rate": 0.01 * (i + 1)}
            if study is wide:
                params["dropout"] = 0.1
            trial = session.add_trial(study.id, params, 1, 2)
            session.start_trial(trial.id)
            writer = session.metrics_writer(trial.id)
            for step in range(1, steps + 1):
                values = {"train/loss": 1.0 / step, "train/lr": 0.01}
                if step % 10 == 0:
                    values["validation/error"] = 0.5 - step / 1000
                writer.add(step, values)
            if status.is_finished():
                session.finish_trial(
                    trial.id,
                    status,
                    best_step=100 if best else None,
                    best_value=best,
                    error=error,
                    writer=writer,
                )
            else:
                writer.flush()
                if status is TrialStatus.PENDING:
                    session.release_trial(trial.id, error)
        # Known attempt times: each finished trial took 100 s, the running one 30 s so far.
        with session.transaction() as conn:
            conn.execute("UPDATE trials SET started_at = ?, finished_at = ?", (T0, T0 + 100))
            conn.execute(
                "UPDATE trials SET finished_at = NULL WHERE status IN ('running', 'pending')"
            )
    return path


@pytest.fixture
def live(tmp_path: Path) -> Path:
    return live_session(tmp_path / "live.tunebook")


def test_rows_show_roles_steps_losses_and_problems(live: Path) -> None:
    with Session.open(live, read_only=True) as session:
        data = monitor_data(session, at=T0 + 30)
    assert data.columns == (
        HParamColumn("width", "scientific"),
        HParamColumn("learning_rate", "nuisance"),
        HParamColumn("dropout", "nuisance"),
    )
    by_status = {r.status: r for r in data.rows}
    done = by_status[TrialStatus.COMPLETED]
    assert (done.study, done.values, done.step, done.max_steps) == (
        "width=8",
        (8, 0.01, None),
        100,
        100,
    )
    assert done.train_loss == pytest.approx(0.01) and done.best_value == 0.2
    assert done.elapsed == 100 and done.problem() == ""
    infeasible = by_status[TrialStatus.INFEASIBLE]
    assert infeasible.step == 40
    assert infeasible.problem() == (
        f"trial {infeasible.trial_id} infeasible at step 40: training loss is nan at step 40"
    )
    failed = by_status[TrialStatus.FAILED]
    assert failed.problem() == f"trial {failed.trial_id} failed: RuntimeError: boom"
    running = by_status[TrialStatus.RUNNING]
    assert (running.values, running.step, running.elapsed) == ((16, 0.04, 0.1), 50, 30)
    assert running.train_loss == pytest.approx(1 / 50) and running.best_value is None
    pending = by_status[TrialStatus.PENDING]
    assert pending.elapsed is None and pending.step == 20
    assert pending.problem().endswith("pending, last attempt: stopped by SIGTERM")
    assert data.running_ids() == (running.trial_id,)


def test_progress_counts_agree_with_tunebook_status(live: Path, tmp_path: Path) -> None:
    for path in (live, fill_session(tmp_path / "filled.tunebook")):
        with Session.open(path, read_only=True) as session:
            progress = monitor_data(session).progress
            totals = status_data(session)["trials"]
        assert dict(progress.counts) == {k: v for k, v in totals.items() if k != "total"}
        assert progress.total == totals["total"]
    # live: 3 finished of 6 planned (one not created yet counts as pending).
    assert (progress.finished, progress.total) == (8, 8)  # filled: all finished
    with Session.open(live, read_only=True) as session:
        progress = monitor_data(session, at=T0 + 30).progress
    assert (progress.finished, progress.total, progress.running) == (3, 6, 1)
    assert progress.counts["pending"] == 2 and progress.fraction == 0.5
    assert progress.eta_seconds is None  # no runner alive: a "running" row is stale
    with Session.open(live) as session:
        session.claim_runner(stale_after=30)  # this process, alive
        progress = monitor_data(session, at=T0 + 30).progress
    # ETA: mean of the trained finished trials (100 s each; the failure is left out),
    # 70 s left of the running one plus 2 waiting × 100 s, over 1 running = 270 s.
    assert progress.eta_seconds == pytest.approx(270)


def test_eta_rule() -> None:
    assert estimate_eta([100.0, 200.0], [50.0, 200.0], 3) == pytest.approx((100 + 0 + 450) / 2)
    assert estimate_eta([], [10.0], 4) is None  # nothing finished yet: no rate
    assert estimate_eta([60.0], [], 4) is None  # nothing running: no run
    assert estimate_eta([], [], 0) == 0.0  # nothing left
    assert estimate_eta([60.0], [10.0], 4, runner_alive=False) is None


def test_design_columns_keep_order_and_roles() -> None:
    def experiment(design: dict) -> Experiment:
        return Experiment(1, "e", "", design, 10)

    columns = design_columns(
        [
            experiment({"scientific": {"opt": ["a", "b"]}, "nuisance": {"lr": {}, "wd": {}}}),
            experiment({"scientific": {"depth": [1]}, "nuisance": {"lr": {}, "opt": {}}}),
            experiment({"fixed": {"lr": 0.1}}),
        ]
    )
    assert [(c.name, c.role) for c in columns] == [
        ("opt", "scientific"),
        ("depth", "scientific"),
        ("lr", "nuisance"),
        ("wd", "nuisance"),
    ]


def test_curves_of_selected_and_running_trials(live: Path) -> None:
    with Session.open(live, read_only=True) as session:
        data = monitor_data(session)
        running = data.running_ids()[0]
        assert curve_ids(data, 1) == (1, running)
        assert curve_ids(data, running) == (running,)
        assert curve_ids(data, None) == (running,)
        assert curve_ids(data, 999) == (running,)  # a selection that no longer exists
        assert default_selection(data) == running
        metrics = {r.trial_id: r.objective_metric for r in data.rows}
        curves = trial_curves(session, [1, running], metrics)
    first = curves[0]
    assert first.train.steps == list(range(1, 101)) and first.objective_metric == "error"
    assert first.validation.steps == list(range(10, 101, 10))
    assert first.validation.values[-1] == pytest.approx(0.4)
    assert curves[1].train.steps[-1] == 50
    assert log_scale_fits(curves)


def test_thin_keeps_the_last_point_and_few_points() -> None:
    series = Series("train/loss", list(range(1001)), [float(i) for i in range(1001)])
    thinned = thin(series, 100)
    assert len(thinned.steps) <= 101 and thinned.steps[0] == 0 and thinned.steps[-1] == 1000
    assert thinned.values == [float(s) for s in thinned.steps]
    assert thin(series, 2000) is series


def test_log_scale_only_for_positive_losses() -> None:
    from tunebook.core.monitor import TrialCurves

    def curves(values: list[float]) -> list[TrialCurves]:
        empty = Series("v", [], [])
        return [TrialCurves(1, "error", Series("t", list(range(len(values))), values), empty)]

    assert log_scale_fits(curves([1.0, 0.5, math.nan]))
    assert not log_scale_fits(curves([1.0, -0.5]))
    assert not log_scale_fits(curves([]))


def test_filter_by_status_or_study(live: Path) -> None:
    with Session.open(live, read_only=True) as session:
        rows = monitor_data(session).rows
    assert [r.status.value for r in rows if matches(r, "run")] == ["running"]
    assert [r.study for r in rows if matches(r, " WIDTH=16")] == ["width=16", "width=16"]
    assert len([r for r in rows if matches(r, "")]) == 5
    assert [r for r in rows if matches(r, "nothing")] == []


def test_formats() -> None:
    assert [format_value(v) for v in (None, True, 0.000031234, 3, "adam")] == [
        "—",
        "true",
        "3.12e-05",
        "3",
        "adam",
    ]
    durations = (None, 42.4, 185, 7620, 3 * 86400 + 4 * 3600 + 59)
    assert [format_duration(s) for s in durations] == ["—", "42s", "3m05s", "2h07m", "3d04h"]
    numbers = (None, 0.33333, 0.0297, 0.000490123, 1.23456e-5, -0.000123, 123456, 1234567.0)
    assert [format_number(v) for v in numbers] == [
        "—",
        "0.333",
        "0.0297",
        "4.9e-4",
        "1.2e-5",
        "-1e-4",
        "1.23e5",
        "1.23e6",
    ]


def test_a_number_fits_its_column_at_any_magnitude() -> None:
    """The monitor's loss and best columns are `NUMBER_WIDTH` wide plus one space: no value
    may run into the next column (`0.000490.0297` was two numbers at 100 columns)."""
    for exponent in range(-99, 100):
        for mantissa in (1.0, 4.90123, 9.99951):
            for sign in (1, -1):
                value = sign * mantissa * 10.0**exponent
                assert len(format_number(value)) <= NUMBER_WIDTH, value


def test_reading_a_big_session_is_fast(tmp_path: Path) -> None:
    """300 trials × 1,000 steps: the rows read by index seeks in well under 100 ms."""
    path = tmp_path / "big.tunebook"
    with Session.create(path, "tabular", {}) as session, session.transaction():
        experiment = session.add_experiment("big", "", {"scientific": {"depth": [2]}}, 1000)
        study = session.add_study(
            experiment.id, "depth=2", {}, "quasi-random", 300, 0, "error", "min", {"depth": 2}
        )
        for _ in range(300):
            trial = session.add_trial(study.id, {}, 1, 2)
            writer = session.metrics_writer(trial.id, flush_every=10**9)
            for step in range(1, 1001):
                writer.add(step, {"train/loss": 1.0 / step})
            writer.flush()
    with Session.open(path, read_only=True) as session:
        started = time.perf_counter()
        data = monitor_data(session)
        seconds = time.perf_counter() - started
    assert {r.step for r in data.rows} == {1000}
    assert seconds < 0.1, f"{seconds:.3f} s"


def test_a_read_after_a_read_reads_only_what_can_have_changed(live: Path) -> None:
    with Session.open(live) as session:
        first = monitor_data(session, at=T0 + 30)
        running = first.running_ids()[0]
        writer = session.metrics_writer(running)
        writer.add(60, {"train/loss": 0.5})
        writer.flush()
        session.reset_trial(3)  # a finished trial back to pending (retry)
        added = session.add_trial(2, {"learning_rate": 0.1, "dropout": 0.2}, 1, 2)
        second = monitor_data(session, at=T0 + 40, previous=first)
        fresh = monitor_data(session, at=T0 + 40)
    assert second == fresh  # the same as a full read
    assert second.row(1) is first.row(1)  # finished and unchanged: kept, not decoded again
    assert (second.row(running).step, second.row(running).train_loss) == (60, 0.5)
    assert second.row(3).status is TrialStatus.PENDING and second.row(3).step is None
    assert second.row(added.id) is not None and second.progress.counts["pending"] == 3
