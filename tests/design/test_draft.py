"""The designer's draft (issue 12): roles pre-filled by the playbook's rules of thumb, text
typed into fields read back, the checks worded as `experiment add` words them, and a stored
experiment copied into a draft that gives the same design."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tunebook.core.design import Role, SpecError, design_from_dict
from tunebook.core.design.draft import (
    Draft,
    check,
    cycle_role,
    draft_from_experiment,
    draft_from_session,
    estimate,
    parse_row_text,
    preview,
    row_text,
    to_spec,
)
from tunebook.core.design.layouts import plan_studies
from tunebook.core.execution.trial_config import known_hparams
from tunebook.core.experiments import add_experiment_from_dict, session_workload
from tunebook.core.workloads import Workload
from tunebook.sessions import DecisionKind, Session


@pytest.fixture(scope="module")
def workload() -> Workload:
    from tunebook.core.workloads import load_workload

    return load_workload("tabular", {})


def decided(path: Path, timed: bool = True) -> Session:
    """A tabular session with the decisions an experiment is designed over."""
    session = Session.create(path, "tabular", {})
    session.record_decision(
        DecisionKind.OPTIMIZER, {"name": "adam", "hparams": {}, "frozen": ["weight_decay"]}
    )
    session.record_decision(DecisionKind.BATCH_SIZE, 32)
    evidence = {"seconds_per_step": 0.002} if timed else {}
    session.record_decision(DecisionKind.INITIAL_CONFIG, {"learning_rate": 0.003}, "", evidence)
    session.record_decision(DecisionKind.MAX_TRAIN_STEPS, 40)
    return session


def roles(draft: Draft) -> dict[str, Role]:
    return {row.name: row.role for row in draft.hparams}


def test_roles_follow_the_rules_of_thumb_and_the_budget(tmp_path: Path, workload) -> None:
    with decided(tmp_path / "s.tunebook") as session:
        few = draft_from_session(session, workload, trials=9)
        many = draft_from_session(session, workload, trials=60)
    assert few.max_train_steps == 40 and "max_train_steps" not in roles(few)  # PB-19
    nuisance = [name for name, role in roles(few).items() if role is Role.NUISANCE]
    assert nuisance == ["dropout", "learning_rate", "warmup_steps"]  # PB-28: < 10 trials
    assert roles(many)["one_minus_beta1"] is Role.NUISANCE
    assert roles(many)["epsilon"] is Role.NUISANCE and roles(many)["beta2"] is Role.NUISANCE
    assert roles(many)["weight_decay"] is Role.FIXED  # frozen by the optimizer decision
    assert roles(few)["batch_size"] is Role.FIXED and few.row("batch_size").value == 32
    assert few.row("learning_rate").space == {"low": 0.0003, "high": 0.03, "scale": "log"}
    assert "PB-28" in few.row("one_minus_beta1").reason


def test_typed_text_reads_back(tmp_path: Path, workload) -> None:
    with decided(tmp_path / "s.tunebook") as session:
        draft = draft_from_session(session, workload)
    row = draft.row("learning_rate")
    parse_row_text(row, "1e-4 .. 0.1 log")
    assert row.space == {"low": 1e-4, "high": 0.1, "scale": "log"}
    assert row_text(row) == "0.0001 .. 0.1 log"
    row = draft.row("activation")
    assert cycle_role(row, 40) is Role.SCIENTIFIC and row.values == ["relu", "gelu", "tanh"]
    parse_row_text(row, 'relu, "gelu", true')
    assert row.values == ["relu", "gelu", True] and row_text(row) == "relu, gelu, true"
    assert cycle_role(row, 40) is Role.NUISANCE and row_text(row) == "relu, gelu, tanh"


def message_of(spec: dict[str, Any], known: set[str]) -> str:
    with pytest.raises(SpecError) as caught:
        design_from_dict(spec, "<designer>", known)
    return str(caught.value).removeprefix("<designer>: ")


def test_checks_say_what_experiment_add_says(tmp_path: Path, workload) -> None:
    known = known_hparams(workload)
    with decided(tmp_path / "s.tunebook") as session:
        draft = draft_from_session(session, workload)
    draft.name, draft.goal = "lr", "Which learning rate?"
    assert check(draft, known) == []
    parse_row_text(draft.row("learning_rate"), "0.1 .. 0.01 log")
    parse_row_text(draft.row("dropout"), "0 .. 0.5 cubic")
    draft.goal = ""
    issues = check(draft, known)
    assert [issue.key for issue in issues] == [
        "nuisance.dropout",
        "nuisance.learning_rate",
        "goal",
    ]
    assert issues[2].message == message_of(to_spec(draft), known) == "goal is missing"
    draft.goal = "Which learning rate?"
    parse_row_text(draft.row("dropout"), "0 .. 0.5")
    assert [issue.message for issue in check(draft, known)] == [message_of(to_spec(draft), known)]


def test_an_experiment_copied_gives_the_same_design(tmp_path: Path, workload) -> None:
    spec = {
        "name": "depth",
        "goal": "Does a deeper MLP lower the error?",
        "fixed": {"optimizer": "adam", "width": 16},
        "scientific": {"depth": [1, 2]},
        "nuisance": {
            "learning_rate": {"low": 1e-3, "high": 1e-1, "scale": "log"},
            "when": {"depth": {"2": {"dropout": {"values": [0.0, 0.1]}}}},
        },
        "search": {"algorithm": "quasi-random", "trials": 3, "layout": "combined", "seed": 4},
    }
    with decided(tmp_path / "s.tunebook") as session:
        added = add_experiment_from_dict(session, spec, "spec.toml", workload)
        base = draft_from_session(session, workload)
        draft = draft_from_experiment(added.experiment, base)
        assert (draft.name, draft.goal) == ("", "")
        draft.name, draft.goal = "depth-2", spec["goal"]
        again = design_from_dict(to_spec(draft), "x", known_hparams(session_workload(session)))
        stored = design_from_dict(
            {
                k: v
                for k, v in added.experiment.design.items()
                if k in spec or k == "max_train_steps"
            }
        )
        assert again.to_dict() == {**stored.to_dict(), "name": "depth-2"}
        plans = plan_studies(again)
        assert estimate(session, again, plans).text().startswith("1 study, 3 trials; ")
        shown = preview(again, plans)
    assert shown.names == ("learning_rate", "dropout[depth=2]")
    assert shown.log == (True, False) and len(shown.points) == 3
    assert sum(shown.coverage["depth"].counts.values()) == 3


def test_without_a_measured_time_the_estimate_is_unknown(tmp_path: Path, workload) -> None:
    with decided(tmp_path / "s.tunebook", timed=False) as session:
        draft = draft_from_session(session, workload)
        draft.name, draft.goal = "x", "y"
        design = design_from_dict(to_spec(draft))
        assert "estimated time: unknown" in estimate(session, design).text()


def test_a_scientific_optimizer_keeps_each_optimizers_own_hyperparameters_to_it(
    tmp_path: Path, workload
) -> None:
    """Adam against Nesterov (PB-8): Adam's own nuisance hyperparameters are searched only
    in Adam's study, its fixed ones are left to each optimizer's default, and the design
    that `experiment add` stores is what the designer showed as valid."""
    with decided(tmp_path / "s.tunebook") as session:
        draft = draft_from_session(session, workload)
        optimizer = draft.row("optimizer")
        optimizer.values = ["adam", "nesterov"]
        cycle_role(optimizer, draft.max_train_steps)  # fixed → scientific
        assert optimizer.role is Role.SCIENTIFIC
        draft.name, draft.goal = "optimizers", "Does Nesterov beat Adam here?"
        assert roles(draft)["one_minus_beta1"] is Role.NUISANCE
        assert roles(draft)["beta2"] is Role.FIXED
        spec = to_spec(draft)
        assert "one_minus_beta1" not in spec["nuisance"] and "beta2" not in spec["fixed"]
        adam_only = spec["nuisance"]["when"]["optimizer"]["adam"]
        assert adam_only["one_minus_beta1"] == draft.row("one_minus_beta1").space
        assert "learning_rate" in spec["nuisance"]  # every optimizer has one
        assert check(draft, known_hparams(workload)) == []
        added = add_experiment_from_dict(session, spec, "spec.toml", workload)
        studies = {s.name: s.search_space for s in session.studies(added.experiment.id)}
    assert "one_minus_beta1" in str(studies["optimizer=adam"])
    assert "one_minus_beta1" not in str(studies["optimizer=nesterov"])
