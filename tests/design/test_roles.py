"""PB-8's rules of thumb and PB-28's Adam nuisance set."""

from __future__ import annotations

import pytest

from tunebook.core.design import Role, adam_nuisance_set, explain_role, propose_roles


def test_rules_of_thumb_for_a_depth_experiment() -> None:
    roles = propose_roles(
        [
            "depth",
            "width",
            "optimizer",
            "learning_rate",
            "one_minus_beta1",
            "weight_decay",
            "dropout",
            "use_dropout",
            "batch_size",
            "max_train_steps",
            "schedule",
        ],
        scientific={"depth"},
    )
    assert roles == {
        "depth": Role.SCIENTIFIC,
        "width": Role.FIXED,
        "optimizer": Role.FIXED,
        "learning_rate": Role.NUISANCE,
        "one_minus_beta1": Role.NUISANCE,
        "weight_decay": Role.NUISANCE,
        "dropout": Role.NUISANCE,
        "use_dropout": Role.FIXED,
        "batch_size": Role.FIXED,
        "max_train_steps": Role.FIXED,
        "schedule": Role.FIXED,
    }


def test_the_goal_decides_what_is_scientific() -> None:
    roles = propose_roles(
        ["optimizer", "use_dropout", "learning_rate"], {"optimizer", "use_dropout"}
    )
    assert roles == {
        "optimizer": Role.SCIENTIFIC,
        "use_dropout": Role.SCIENTIFIC,
        "learning_rate": Role.NUISANCE,
    }


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("batch_size", "training speed, not validation performance (PB-3)"),
        ("max_train_steps", "one step budget for every trial of an experiment (PB-19)"),
        ("learning_rate", "nuisance — optimizer hyperparameters are usually nuisance (PB-8)"),
        ("dropout", "regularization strengths are usually nuisance"),
        ("optimizer", "fixed — the choice of optimizer or schedule"),
        ("depth", "architecture choices and regularizer switches"),
    ],
)
def test_each_role_comes_with_its_reason(name: str, words: str) -> None:
    assert words in explain_role(name)


@pytest.mark.parametrize(
    ("budget", "names"),
    [
        (1, ("learning_rate",)),
        (9, ("learning_rate",)),
        (10, ("learning_rate", "one_minus_beta1")),
        (24, ("learning_rate", "one_minus_beta1")),
        (25, ("learning_rate", "one_minus_beta1", "epsilon")),
        (49, ("learning_rate", "one_minus_beta1", "epsilon")),
        (50, ("learning_rate", "one_minus_beta1", "epsilon", "beta2")),
        (500, ("learning_rate", "one_minus_beta1", "epsilon", "beta2")),
    ],
)
def test_adam_nuisance_set_by_trial_budget(budget: int, names: tuple[str, ...]) -> None:
    assert adam_nuisance_set(budget) == names
