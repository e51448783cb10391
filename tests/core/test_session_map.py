"""The session map (core): each playbook stage's state, computed from real session files."""

from __future__ import annotations

from pathlib import Path

from tests.filled_session import fill_session
from tunebook.core.session_map import StageAction, StageState, session_map
from tunebook.sessions import DecisionKind, ProbeKind, Session
from tunebook.sessions.report import RUNNER_STALE_AFTER

DECISIONS = ["model", "optimizer", "batch_size", "initial_config", "max_train_steps", "stability"]


def pending_session(path: Path) -> Path:
    """One experiment whose only study has planned trials and none finished."""
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment(
            "lr", "Which learning rate?", {"fixed": {"optimizer": "sgd", "batch_size": 32}}, 100
        )
        session.add_study(experiment.id, "all", {}, "quasi-random", 5, 0, "error", "min")
    return path


def test_an_empty_session_recommends_the_model_step_first(tmp_path: Path) -> None:
    path = tmp_path / "new session.tunebook"
    with Session.create(path, "tabular", {}) as session:
        stages = session_map(session)
    assert [s.key for s in stages.stages] == [*DECISIONS, "experiments", "launches"]
    assert all(stages.stage(k).state is StageState.NOT_STARTED for k in DECISIONS[1:])
    assert stages.next is stages.stage("model")
    assert stages.next.state is StageState.NEXT
    assert stages.next.action is StageAction.PROJECT_STEP
    assert stages.next.command == f"tunebook probe model '{path}'"
    assert stages.stage("experiments").command == f"tunebook experiment add '{path}' SPEC.toml"
    assert stages.stage("launches").summary == "no configuration adopted yet"


def test_after_the_decisions_the_first_experiment_is_next(tmp_path: Path) -> None:
    path = tmp_path / "decided.tunebook"
    with Session.create(path, "tabular", {}) as session:
        for kind in DecisionKind:
            session.record_decision(kind, 1)
        stages = session_map(session)
    assert stages.next is stages.stage("experiments")


def test_a_stale_decision_before_any_experiment_is_next_and_stays_stale(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stale.tunebook"
    with Session.create(path, "tabular", {}) as session:
        for kind in DecisionKind:
            session.record_decision(kind, 1)
        session.mark_stale(DecisionKind.BATCH_SIZE, "the optimizer decision changed")
        stages = session_map(session)
    assert stages.next is stages.stage("batch_size")
    assert stages.next.state is StageState.STALE
    assert stages.next.reason == "the optimizer decision changed"


def test_pending_trials_make_running_them_the_next_step(tmp_path: Path) -> None:
    path = pending_session(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session:
        stages = session_map(session)
    stage = stages.stage("experiment:lr")
    assert stage.state is StageState.NEXT and stages.next is stage
    assert stage.action is StageAction.RUN
    assert stage.summary.startswith("0/5 trials finished")
    assert stage.command == f"tunebook run {path} --experiment lr"
    assert stages.stage("optimizer").summary == "not decided; set per experiment: 'lr' uses sgd"
    assert stages.stage("max_train_steps").summary.endswith("'lr' uses 100")


def test_a_live_runner_marks_its_experiment_running(tmp_path: Path) -> None:
    path = pending_session(tmp_path / "s.tunebook")
    with Session.open(path) as session:
        session.claim_runner(RUNNER_STALE_AFTER)  # this process: alive
        stages = session_map(session)
    assert stages.runner_alive
    assert stages.stage("experiment:lr").state is StageState.RUNNING
    assert stages.stage("experiment:lr").action is StageAction.MONITOR
    assert stages.next is None


def test_decisions_finished_experiments_and_launches_are_done(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "filled.tunebook")
    with Session.open(path, read_only=True) as session:
        stages = session_map(session)
    batch = stages.stage("batch_size")
    assert batch.state is StageState.DONE
    assert batch.summary == "decided: 128"
    depth = stages.stage("experiment:depth")
    assert depth.state is StageState.DONE and depth.action is StageAction.EXPERIMENTS
    assert depth.summary == "8/8 trials finished: 4 completed, 2 infeasible, 2 failed"
    assert stages.stage("launches").state is StageState.DONE
    assert stages.stage("launches").summary == "1 configuration adopted as baseline"
    assert stages.next is None  # nothing left that can be taken today


def test_a_stale_decision_says_why(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "filled.tunebook")
    with Session.open(path) as session:
        session.mark_stale(DecisionKind.BATCH_SIZE, "the model decision changed")
        stage = session_map(session).stage("batch_size")
    assert stage.state is StageState.STALE
    assert stage.reason == "the model decision changed"
    assert stage.to_dict()["state"] == "stale"


def test_a_measured_probe_waits_for_its_decision_and_a_live_probe_runs(tmp_path: Path) -> None:
    path = tmp_path / "probed.tunebook"
    with Session.create(path, "tabular", {}) as session:
        summary = {"recommendation": {"value": 256, "rationale": "largest that gains"}}
        session.add_probe(ProbeKind.BATCH_SIZE, {}, {"status": "completed", "summary": summary})
        assert session_map(session).stage("batch_size").summary == (
            "measured: recommends 256; not decided yet"
        )
        session.claim_runner(RUNNER_STALE_AFTER, command="probe batch-size")
        stages = session_map(session)
    batch = stages.stage("batch_size")
    assert batch.state is StageState.RUNNING and batch.action is StageAction.PROJECT_STEP
    assert stages.next is None  # a live run is watched, not a next step
