"""The session map (core): each playbook stage's state, computed from real session files."""

from __future__ import annotations

from pathlib import Path

from tests.filled_session import fill_session
from tunebook.core.session_map import StageAction, StageState, session_map
from tunebook.sessions import DecisionKind, ExperimentStatus, ProbeKind, Session, WorkloadFacts
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
    assert stages.stage("experiments").action is StageAction.DESIGN
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
    assert depth.summary == "8/8 trials finished: 4 completed, 2 infeasible, 2 failed"
    assert stages.stage("launches").state is StageState.DONE
    assert stages.stage("launches").summary == "1 configuration adopted as baseline"
    # finished but not concluded: reviewing it is the next step
    assert stages.next is depth and depth.action is StageAction.REVIEW
    assert depth.command == f"tunebook conclude {path} depth --note TEXT"


def test_the_guided_path_leads_from_a_finished_round_to_the_next_one(tmp_path: Path) -> None:
    """Review → adopt → exploit → final test → next round, each the next step in turn."""
    path = fill_session(tmp_path / "filled.tunebook")
    with Session.open(path) as session:
        session.record_workload_facts(WorkloadFacts("classification", 100, 20, test_examples=20))
        depth = session.experiment("depth")
        session.update_experiment(depth.id, ExperimentStatus.CONCLUDED, "depth 3 wins")
        stages = session_map(session)
        best = stages.next
        # the best feasible trial over both studies: depth=3's 0.20 / 3 (trial 6)
        assert (best.key, best.action, best.trial) == ("launches", StageAction.ADOPT, 6)
        assert stages.stage("experiment:depth").state is StageState.DONE
        assert best.command == f"tunebook adopt {path} 6"

        # measured, no better than the baseline beyond the seed noise: the baseline stays
        verdict = "not beyond the seed noise: the difference may be luck of the seeds"
        session.add_probe(
            ProbeKind.SEED_VARIANCE,
            {"candidate": {"trial": 6}},
            {
                "status": "completed",
                "summary": {"comparison": {"beyond": False, "better": True}, "verdict": verdict},
            },
        )
        stages = session_map(session)
        assert stages.stage("launches").state is StageState.DONE
        assert stages.stage("launches").summary.endswith(f"{verdict}, the baseline stays")
        assert (stages.next.key, stages.next.action) == ("exploitation", StageAction.EXPLOIT)
        assert stages.next.experiment == "depth"

        exploit = session.add_experiment(
            "depth-exploit", "Exploit", {"search": {"algorithm": "bayesian"}}, 50
        )
        session.update_experiment(exploit.id, ExperimentStatus.CONCLUDED, "done")
        stages = session_map(session)
        assert stages.stage("exploitation").state is StageState.DONE
        # the exploitation round has no best trial yet, so the latest concluded round with
        # one is still 'depth': measured, kept; the final test is next
        assert (stages.next.key, stages.next.action) == ("final_test", StageAction.FINAL_TEST)

        session.add_probe(
            ProbeKind.FINAL_TEST,
            {},
            {
                "status": "completed",
                "summary": {
                    "trial": 2,
                    "experiment": "depth",
                    "objective": "error",
                    "checkpoint_step": 9,
                    "test_value": 0.125,
                },
            },
        )
        stages = session_map(session)
        assert stages.stage("final_test").summary == "test error 0.125 (trial 2)"
        assert (stages.next.key, stages.next.action) == ("next_round", StageAction.DESIGN)
        assert stages.next.experiment == "depth-exploit"


def test_without_a_test_split_the_final_test_is_not_offered(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "filled.tunebook")
    with Session.open(path) as session:
        session.record_workload_facts(WorkloadFacts("classification", 100, 20))
        stage = session_map(session).stage("final_test")
    assert stage.summary == "the workload has no test split"
    assert not stage.actionable


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
