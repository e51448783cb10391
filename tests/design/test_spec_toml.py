"""`spec_to_toml` writes the file `experiment add` reads: `load_spec` of the text gives the
design `design_from_dict` gives of the dict, for hostile strings and conditional tables too."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunebook.core.design import design_from_dict, load_spec
from tunebook.core.design.spec_toml import spec_to_toml, toml_string
from tunebook.sessions import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SPECS: list[dict[str, Any]] = [
    {
        "name": "depth",
        "goal": "Does a deeper MLP lower validation error?",
        "max_train_steps": 2000,
        "fixed": {"optimizer": "adam", "batch_size": 256, "activation": "relu"},
        "scientific": {"depth": [2, 3, 4]},
        "nuisance": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"},
            "one_minus_beta1": {"low": 1e-2, "high": 0.5, "scale": "log"},
        },
        "search": {"algorithm": "quasi-random", "trials": 20, "layout": "per-value", "seed": 0},
        "objective": {"metric": "val_error", "mode": "min"},
    },
    {
        "name": "optimizers",
        "goal": 'Which optimizer: "adam" or nesterov?',
        "eval_every": 10,
        "fixed": {"grad_clip": 1.0, "norm": "none", "flags": [True, False]},
        "scientific": {"optimizer": ["adam", "nesterov"], "dropout": [0.0, 0.1]},
        "nuisance": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"},
            "warmup_steps": {"type": "int", "low": 0, "high": 100},
            "when": {
                "optimizer": {
                    "nesterov": {
                        "learning_rate": {"low": 1e-3, "high": 1.0, "scale": "log"},
                        "momentum": {"values": [0.9, 0.99]},
                    },
                },
                "dropout": {"0.1": {"weight_decay": {"low": 1e-6, "high": 1e-3, "scale": "log"}}},
            },
        },
        "search": {"algorithm": "random", "trials": 7, "layout": "combined", "seed": 2**63 - 1},
    },
    {
        "name": "grid",
        "goal": "Widths",
        "max_train_steps": 5,
        "fixed": {},
        "scientific": {"activation": ["relu", "gelu"]},
        "nuisance": {"width": {"values": [8, 16]}, "learning_rate": {"low": 0.01, "high": 0.1}},
        "search": {"algorithm": "grid", "grid_points": {"learning_rate": 3}},
    },
    {
        "name": "bayes",
        "goal": "Exploit",
        "nuisance": {"learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"}},
        "search": {"algorithm": "bayesian", "trials": 30, "startup_trials": 5},
        "objective": {"metric": "loss", "mode": "max"},
    },
    {
        "name": "listed",
        "goal": "Do the best three hold up over twice the steps?",
        "max_train_steps": 400,
        "fixed": {"optimizer": "adam"},
        "scientific": {"depth": [2, 3]},
        "nuisance": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"},
            "activation": {"values": ["relu", 'a "quoted" one']},
        },
        "search": {
            "algorithm": "listed",
            "points": [
                {"depth": 2, "learning_rate": 0.003, "activation": "relu"},
                {"depth": 3, "learning_rate": 1e-4, "activation": 'a "quoted" one'},
            ],
        },
    },
]


def written(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(spec_to_toml(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("spec", SPECS, ids=[s["name"] for s in SPECS])
def test_the_written_file_loads_as_the_same_design(tmp_path: Path, spec: dict[str, Any]) -> None:
    assert load_spec(written(tmp_path, spec)) == design_from_dict(spec)


def test_conditional_sets_are_written_as_when_tables() -> None:
    text = spec_to_toml(SPECS[1])
    assert "[nuisance.when.optimizer.nesterov]\n" in text
    assert '[nuisance.when.dropout."0.1"]\n' in text
    assert 'learning_rate = { low = 0.0001, high = 0.1, scale = "log" }' in text


def test_a_stored_design_round_trips(tmp_path: Path) -> None:
    design = design_from_dict(SPECS[1])
    assert load_spec(written(tmp_path, design.to_dict())) == design


def test_listed_points_are_written_one_table_a_line(tmp_path: Path) -> None:
    text = spec_to_toml(SPECS[-1])
    assert 'points = [\n    { depth = 2, learning_rate = 0.003, activation = "relu" },\n' in text
    design = design_from_dict(SPECS[-1])
    assert load_spec(written(tmp_path, design.to_dict())) == design


HOSTILE = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda s: s.strip()
)


@settings(max_examples=150, deadline=None)
@given(name=HOSTILE, goal=HOSTILE, value=HOSTILE, key=HOSTILE.filter(lambda s: s != "x"))
def test_hostile_strings_survive(name: str, goal: str, value: str, key: str) -> None:
    spec = {
        "name": name,
        "goal": goal,
        "fixed": {"activation": value},
        "scientific": {"norm": [value, value + '\n"\\']},
        "nuisance": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"},
            "when": {"norm": {value: {"dropout": {"values": [key, "x"]}}}},
        },
        "search": {"trials": 3},
    }
    text = spec_to_toml(spec)
    assert tomllib.loads(text) == spec
    assert design_from_dict(tomllib.loads(text)) == design_from_dict(spec)


def test_control_characters_are_escaped() -> None:
    assert toml_string('a"b\\c\nd\x00\x7f é') == '"a\\"b\\\\c\\nd\\u0000\\u007F é"'


def test_what_toml_cannot_hold_is_refused() -> None:
    with pytest.raises(BadInput):
        spec_to_toml({"name": "\ud800"})
    with pytest.raises(BadInput):
        spec_to_toml({"name": None})
