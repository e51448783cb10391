"""The record API's behaviour on real session files."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tunebook.sessions import (
    BadInput,
    CheckpointKind,
    DecisionKind,
    ReadOnlySession,
    RunnerBusy,
    Session,
    TrialStatus,
)


@pytest.fixture
def session(tmp_path: Path):
    with Session.create(tmp_path / "s.tunebook", "tabular") as s:
        yield s


@pytest.fixture
def study(session: Session):
    experiment = session.add_experiment("lr", "find the LR", {}, 100)
    return session.add_study(experiment.id, "all", {}, "quasi-random", 3, 7, "error", "min")


def test_create_leaves_no_partial_files(tmp_path: Path) -> None:
    Session.create(tmp_path / "a.tunebook", "tabular").close()
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


def test_newest_decision_wins_and_goes_stale(session: Session) -> None:
    session.record_decision(DecisionKind.BATCH_SIZE, 64)
    session.record_decision(DecisionKind.BATCH_SIZE, 128, "doubling stopped paying", {"eps": 1})
    session.mark_stale(DecisionKind.BATCH_SIZE, "model changed")
    decision = session.decision(DecisionKind.BATCH_SIZE)
    assert decision is not None and decision.value == 128 and decision.evidence == {"eps": 1}
    assert decision.stale and decision.stale_reason == "model changed"
    assert session.decision(DecisionKind.MODEL) is None


def test_experiment_names_are_unique_and_lookup_names_the_key(session: Session) -> None:
    session.add_experiment("depth", "g", {}, 10)
    with pytest.raises(BadInput, match="already exists"):
        session.add_experiment("depth", "g", {}, 10)
    with pytest.raises(BadInput, match=r"no experiment 'width'.*depth"):
        session.experiment("width")


def test_trials_number_and_sequence_index_advance(session: Session, study) -> None:
    first = session.add_trial(study.id, {"lr": 0.1}, 1, 2)
    second = session.add_trial(study.id, {"lr": 0.2}, 1, 2)
    explicit = session.add_trial(study.id, {"lr": 0.3}, 1, 2, sequence_index=10)
    assert [first.number, second.number, explicit.number] == [0, 1, 2]
    assert [first.sequence_index, second.sequence_index, explicit.sequence_index] == [0, 1, 10]
    assert session.study(study.id).next_index == 11


def test_trial_lifecycle_and_summary(session: Session, study) -> None:
    trial = session.add_trial(study.id, {"lr": 0.1}, 1, 2)
    assert session.start_trial(trial.id).status is TrialStatus.RUNNING
    writer = session.metrics_writer(trial.id)
    writer.add(0, {"validation/error": 0.5})
    writer.add(5, {"validation/error": 0.25})
    done = session.finish_trial(
        trial.id,
        TrialStatus.COMPLETED,
        best_step=5,
        best_value=0.25,
        final_value=0.25,
        writer=writer,
    )
    assert done.status is TrialStatus.COMPLETED and done.attempts == 1 and done.finished_at
    assert session.values_at_best_step("validation/error") == {trial.id: 0.25}
    (summary,) = session.study_summaries()
    assert summary.best_trial_id == trial.id and summary.finished == 1
    with pytest.raises(ValueError, match="finished status"):
        session.finish_trial(trial.id, TrialStatus.RUNNING)


def test_rewind_drops_metrics_after_the_resume_state(session: Session, study) -> None:
    trial = session.add_trial(study.id, {}, 1, 2)
    session.start_trial(trial.id)
    writer = session.metrics_writer(trial.id)
    for step in range(4):
        writer.add(step, {"train/loss": float(step)})
    writer.flush(resume_state=(3, b"state@3"))
    for step in range(4, 7):
        writer.add(step, {"train/loss": float(step)})
    writer.flush()
    session.release_trial(trial.id, "interrupted")
    assert session.trial(trial.id).status is TrialStatus.PENDING
    assert session.rewind_trial(trial.id) == 3
    assert session.trial_series(trial.id)["train/loss"].steps == [0, 1, 2, 3]
    assert session.resume_state(trial.id) == (3, b"state@3")


def test_rewind_without_state_starts_over(session: Session, study) -> None:
    trial = session.add_trial(study.id, {}, 1, 2)
    writer = session.metrics_writer(trial.id)
    writer.add(0, {"train/loss": 1.0})
    writer.flush()
    assert session.rewind_trial(trial.id) is None
    assert session.metric_count(trial.id) == 0


def test_best_checkpoints_keep_the_best_n(session: Session, study) -> None:
    trial = session.add_trial(study.id, {}, 1, 2)
    for step, value in [(1, 0.9), (2, 0.5), (3, 0.7), (4, 0.6)]:
        session.save_best_checkpoint(trial.id, step, value, f"w{step}".encode(), 2, "min")
    kept = [c for c in session.checkpoints(trial.id) if c.kind is CheckpointKind.BEST]
    assert [(c.step, c.value) for c in kept] == [(2, 0.5), (4, 0.6)]
    assert session.checkpoint_data(kept[0].id) == b"w2"


def test_retry_failed_resets_trials(session: Session, study) -> None:
    trial = session.add_trial(study.id, {}, 1, 2)
    session.start_trial(trial.id)
    writer = session.metrics_writer(trial.id)
    writer.add(0, {"train/loss": 1.0})
    session.finish_trial(trial.id, TrialStatus.FAILED, error="OOM", writer=writer)
    assert session.retry_trials(TrialStatus.FAILED) == 1
    retried = session.trial(trial.id)
    assert retried.status is TrialStatus.PENDING and session.metric_count(trial.id) == 0


def test_nan_and_inf_values_survive(session: Session, study) -> None:
    trial = session.add_trial(study.id, {}, 1, 2)
    writer = session.metrics_writer(trial.id)
    writer.add(0, {"train/loss": math.inf})
    writer.add(1, {"train/loss": math.nan})
    writer.flush()
    values = session.trial_series(trial.id)["train/loss"].values
    assert values[0] == math.inf and math.isnan(values[1])


def test_second_live_runner_is_refused(session: Session, tmp_path: Path) -> None:
    session.claim_runner(stale_after=30)
    session.claim_runner(stale_after=30)  # the same process may re-claim
    other = os.getppid()  # a live process that is not this one
    with session.transaction() as conn:
        conn.execute("UPDATE runner SET pid = ?", (other,))
    with pytest.raises(RunnerBusy, match=f"process {other} on {socket.gethostname()}"):
        session.claim_runner(stale_after=30)
    with session.transaction() as conn:
        conn.execute("UPDATE runner SET heartbeat = heartbeat - 100")
    session.claim_runner(stale_after=30)  # a stale runner is replaced
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with session.transaction() as conn:
        conn.execute("UPDATE runner SET pid = ?", (gone.pid,))
    session.claim_runner(stale_after=30)  # a runner whose process is gone is dead at once
    assert session.runner() is not None and session.runner().pid == os.getpid()
    session.release_runner()
    assert session.runner() is None


def test_read_only_session_refuses_writes(session: Session) -> None:
    with (
        Session.open(session.path, read_only=True) as reader,
        pytest.raises(ReadOnlySession, match="read-only"),
    ):
        reader.add_note("session", "hello")


def test_events_and_notes(session: Session) -> None:
    session.add_note("trial:1", "looks overfit")
    assert [n.text for n in session.notes("trial:1")] == ["looks overfit"]
    session.log_event("runner", "trial.started", "trial 1", {"trial": 1})
    events = session.events(limit=1)
    assert [(e.kind, e.data) for e in events] == [("trial.started", {"trial": 1})]
    assert session.events()[0].kind == "session.created"
