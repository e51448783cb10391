"""`core.trial_detail`: one trial's roles, outcome, checkpoints and plot data, with numbers,
on session files filled through the `Session` API."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.detail_session import make_session
from tunebook.core.trial_detail import (
    CheckpointRow,
    Role,
    grad_summary,
    histogram,
    trial_detail,
)
from tunebook.sessions import BadInput, Session, TrialStatus
from tunebook.sessions.records import CheckpointKind


def test_roles_cover_every_hparam_the_trial_trained_with(tmp_path: Path) -> None:
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session:
        detail = trial_detail(session, trial_id)
    roles = {row.name: (row.value, row.role) for row in detail.hparams}
    assert roles == {
        "optimizer": ("sgd", Role.SCIENTIFIC),
        "learning_rate": (0.05, Role.NUISANCE),
        "momentum": (0.9, Role.NUISANCE),  # conditional: only for sgd (nuisance.when)
        "batch_size": (64, Role.FIXED),
        "width": (64, Role.DEFAULT),
        "dropout": (0.0, Role.DEFAULT),
        "warmup_steps": (0, Role.DEFAULT),
        "grad_clip": (None, Role.DEFAULT),
    }
    assert [row.role for row in detail.hparams] == sorted(
        (row.role for row in detail.hparams), key=list(Role).index
    )
    assert detail.defaults_known


def test_outcome_seeds_times_and_checkpoints(tmp_path: Path) -> None:
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session:
        trial = session.trial(trial_id)
        detail = trial_detail(session, trial_id)
    assert (detail.experiment, detail.study, detail.number) == ("opt", "optimizer=sgd", 0)
    assert (detail.init_seed, detail.data_seed) == (11, 22)
    assert detail.status is TrialStatus.COMPLETED and detail.attempts == 1
    assert (detail.best_step, detail.best_value, detail.final_value) == (20, 0.3, 0.3)
    assert (detail.compute_seconds, detail.data_seconds) == (1.5, 0.25)
    assert detail.elapsed == pytest.approx(trial.finished_at - trial.started_at)
    assert (detail.max_train_steps, detail.last_step) == (40, 20)
    assert detail.reproduce == f"tunebook trial rerun {path} {trial_id}"
    # finishing drops the resume state; the best two stay, best (lowest error) first
    assert detail.checkpoints == (
        CheckpointRow(CheckpointKind.BEST, 20, 0.3, 2000),
        CheckpointRow(CheckpointKind.BEST, 10, 0.4, 1000),
    )


def test_curves_are_the_reported_series(tmp_path: Path) -> None:
    path, trial_id, _ = make_session(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session:
        detail = trial_detail(session, trial_id)
    assert detail.train_loss.steps == tuple(range(1, 21))
    assert detail.train_loss.values[3] == pytest.approx(0.5)
    assert detail.validation_series == "validation/error"
    assert detail.validation.steps == (10, 20)
    assert detail.validation.values == pytest.approx((0.4, 0.3))
    assert set(detail.learning_rate.values) == {0.05}
    assert len(detail.grad_norm) == 20 and math.isinf(detail.grad_norm.values[5])
    hist = detail.grad_histogram
    assert hist.nonfinite == 1 and hist.total == 19
    assert not hist.log  # 0.1 … 7.9 spans under two decades
    summary = detail.grad_summary
    finite = [v for v in detail.grad_norm.values if math.isfinite(v)]
    assert summary.p90 == pytest.approx(float(np.percentile(finite, 90)))
    assert summary.maximum == pytest.approx(max(finite))
    assert summary.clipped_share == pytest.approx(5 / 20)


def test_a_pending_trial_has_empty_curves_and_no_elapsed_time(tmp_path: Path) -> None:
    path, _, pending_id = make_session(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session:
        detail = trial_detail(session, pending_id)
    assert detail.status is TrialStatus.PENDING
    assert detail.elapsed is None and detail.last_step is None and detail.checkpoints == ()
    assert len(detail.train_loss) == 0 and detail.grad_histogram.counts == ()
    assert detail.grad_summary.p90 is None and detail.grad_summary.clipped_share is None


def test_a_running_trial_counts_elapsed_time_to_now(tmp_path: Path) -> None:
    path, _, pending_id = make_session(tmp_path / "s.tunebook")
    with Session.open(path) as session:
        started = session.start_trial(pending_id).started_at
        detail = trial_detail(session, pending_id, at=started + 42.0)
    assert detail.status is TrialStatus.RUNNING and detail.elapsed == pytest.approx(42.0)


def test_unknown_trial_is_one_sentence(tmp_path: Path) -> None:
    path, _, _ = make_session(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session, pytest.raises(BadInput):
        trial_detail(session, 999)


def test_sessions_without_a_design_or_recorded_defaults(tmp_path: Path) -> None:
    """Older files: searched names count as nuisance, the study's fixed ones as fixed; no
    default is guessed."""
    from tests.filled_session import fill_session

    path = fill_session(tmp_path / "f.tunebook")
    with Session.open(path, read_only=True) as session:
        detail = trial_detail(session, 1)
    assert {row.name: row.role for row in detail.hparams} == {
        "learning_rate": Role.NUISANCE,
        "depth": Role.FIXED,
    }
    assert not detail.defaults_known


def test_histogram_bins_linear_and_log() -> None:
    linear = histogram([1.0, 2.0, 2.0, 3.0, math.nan], bins=2)
    assert linear.edges == (1.0, 2.0, 3.0) and linear.counts == (1, 3)
    assert not linear.log and linear.nonfinite == 1

    values = [10.0**k for k in range(-2, 3)]  # four decades: one value per decade
    log = histogram(values, bins=4)
    assert log.log and log.counts == (1, 1, 1, 2)
    assert log.edges == pytest.approx((0.01, 0.1, 1.0, 10.0, 100.0))

    assert histogram([0.0, 1e-5, 1.0]).log is False  # a zero cannot sit on a log axis
    assert sum(histogram([5.0, 5.0, 5.0]).counts) == 3
    assert len(histogram(list(range(1000))).counts) == 20
    assert len(histogram([1.0, 2.0, 3.0]).counts) == 3  # no more bins than values


def test_grad_summary_without_clipping_series() -> None:
    summary = grad_summary([1.0, 2.0, 3.0, math.nan], [])
    assert summary.median == 2.0 and summary.maximum == 3.0
    assert summary.p90 == pytest.approx(2.8) and summary.clipped_share is None
