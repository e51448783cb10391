"""Design warnings: each fires with its playbook reason, and a sound design draws none."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tunebook.core.design import advise, design_from_dict

SOUND: dict[str, Any] = {
    "name": "depth",
    "goal": "Does a deeper MLP lower validation error?",
    "fixed": {"optimizer": "adam", "batch_size": 256},
    "scientific": {"depth": [2, 3, 4]},
    "nuisance": {
        "learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"},
        "one_minus_beta1": {"low": 1e-2, "high": 0.5, "scale": "log"},
    },
    "search": {"trials": 20},
}


def with_changes(**sections: dict[str, Any]) -> dict[str, Any]:
    """SOUND with whole sections replaced."""
    return {**copy.deepcopy(SOUND), **sections}


NUISANCE = SOUND["nuisance"]


def codes(data: dict[str, Any], **kwargs: Any) -> list[str]:
    return [a.code for a in advise(design_from_dict(data), **kwargs)]


def test_a_sound_design_draws_no_advice() -> None:
    assert advise(design_from_dict(SOUND)) == []


@pytest.mark.parametrize(
    ("data", "code", "playbook_id", "words"),
    [
        (
            with_changes(fixed={"optimizer": "adam"}, scientific={"batch_size": [128, 256]}),
            "batch-size-varied",
            "PB-3",
            "batch_size is scientific: batch size sets training speed",
        ),
        (
            with_changes(
                fixed={"optimizer": "adam"},
                nuisance={**NUISANCE, "batch_size": {"values": [128, 256]}},
                search={"trials": 40},
            ),
            "batch-size-varied",
            "PB-3",
            "batch_size is nuisance",
        ),
        (
            with_changes(scientific={"depth": [2, 3], "width": [64, 128]}),
            "several-scientific",
            "PB-7",
            "2 scientific hyperparameters (depth, width)",
        ),
        (
            with_changes(search={"trials": 8}),
            "adam-budget",
            "PB-28",
            "8 trials for depth=2 support tuning Adam's learning_rate only; fix one_minus_beta1",
        ),
        (
            with_changes(
                search={"trials": 30},
                nuisance={
                    **NUISANCE,
                    "epsilon": {"low": 1e-10, "high": 1e-6, "scale": "log"},
                    "beta2": {"low": 0.9, "high": 0.999},
                },
            ),
            "adam-budget",
            "PB-28",
            "support tuning Adam's learning_rate, one_minus_beta1, epsilon only; fix beta2",
        ),
        (
            with_changes(
                fixed={"optimizer": "sgd"},
                search={"trials": 6},
                nuisance={**NUISANCE, "momentum": {"low": 0.5, "high": 0.99}},
            ),
            "wide-space",
            "PB-10",
            "3 nuisance hyperparameters get 6 trials for depth=2; aim for at least 15",
        ),
        (
            with_changes(fixed={}, scientific={"optimizer": ["adam", "nesterov"]}),
            "shared-optimizer-hparam",
            "PB-8",
            "learning_rate, one_minus_beta1 share one range across optimizers",
        ),
        (
            with_changes(search={"algorithm": "bayesian", "trials": 20}),
            "bayesian-exploration",
            "PB-18",
            "Bayesian optimization is for exploitation",
        ),
        (
            with_changes(search={"algorithm": "random", "layout": "combined", "trials": 60}),
            "combined-random",
            "PB-9",
            "quasi-random search does so more reliably",
        ),
    ],
)
def test_each_warning_cites_the_playbook(
    data: dict[str, Any], code: str, playbook_id: str, words: str
) -> None:
    matching = [a for a in advise(design_from_dict(data)) if a.code == code]
    assert matching, codes(data)
    assert matching[0].playbook_id == playbook_id
    assert words in matching[0].message


def test_adam_budget_uses_the_sessions_optimizer_when_the_design_has_none() -> None:
    data = with_changes(search={"trials": 8}, fixed={})
    assert "adam-budget" not in codes(data)
    assert "adam-budget" in codes(data, optimizer="AdamW")


def test_combined_layouts_share_the_trials_among_scientific_values() -> None:
    data = with_changes(search={"layout": "combined", "trials": 30})
    # 30 trials over 3 depths: 10 per depth, enough for learning rate and β1 (PB-28).
    assert codes(data) == []
    data["search"]["trials"] = 27
    assert codes(data).count("adam-budget") == 3


def test_optimizer_hparams_scoped_per_optimizer_draw_no_sharing_warning() -> None:
    data = with_changes(fixed={}, scientific={"optimizer": ["adam", "nesterov"]})
    data["nuisance"] = {
        "when": {
            "optimizer": {
                "adam": {"learning_rate": {"low": 1e-4, "high": 1e-2, "scale": "log"}},
                "nesterov": {"learning_rate": {"low": 1e-2, "high": 1.0, "scale": "log"}},
            }
        }
    }
    assert "shared-optimizer-hparam" not in codes(data)


def test_a_base_range_used_by_one_optimizer_only_is_not_shared() -> None:
    nesterov_lr = {"learning_rate": {"low": 1e-2, "high": 1.0, "scale": "log"}}
    data = with_changes(fixed={}, scientific={"optimizer": ["adam", "nesterov"]})
    data["nuisance"] = {
        "learning_rate": {"low": 1e-4, "high": 1e-2, "scale": "log"},
        "when": {"optimizer": {"nesterov": nesterov_lr}},
    }
    assert "shared-optimizer-hparam" not in codes(data)
    data["scientific"]["optimizer"].append("momentum")  # now adam and momentum share it
    assert "shared-optimizer-hparam" in codes(data)
