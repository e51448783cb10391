"""The TOML experiment spec: the DESIGN.md example, conditionals, and every refusal's key path."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from tunebook.core.design import (
    TRAINING_HPARAMS,
    ExperimentDesign,
    SpecError,
    design_from_dict,
    load_spec,
    parse_spec,
)
from tunebook.core.search import Categorical, Float, Int, SearchSpace
from tunebook.sessions.errors import BadInput

EXAMPLE = """\
name = "depth"
goal = "Does a deeper MLP lower validation error?"
max_train_steps = 2000

[fixed]
optimizer = "adam"
batch_size = 256          # from the batch-size decision if omitted
activation = "relu"

[scientific]
depth = [2, 3, 4]

[nuisance]
learning_rate = { low = 1e-4, high = 1e-1, scale = "log" }
one_minus_beta1 = { low = 1e-2, high = 0.5, scale = "log" }

[search]
algorithm = "quasi-random"   # quasi-random | random | grid | bayesian
trials = 20                  # per study
layout = "per-value"         # per-value | combined
seed = 0

[objective]
metric = "val_error"
mode = "min"
"""

BASE: dict[str, Any] = {
    "name": "depth",
    "goal": "Does a deeper MLP lower validation error?",
    "max_train_steps": 2000,
    "fixed": {"optimizer": "adam", "activation": "relu"},
    "scientific": {"depth": [2, 3, 4]},
    "nuisance": {
        "learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"},
        "one_minus_beta1": {"low": 1e-2, "high": 0.5, "scale": "log"},
    },
    "search": {"algorithm": "quasi-random", "trials": 20, "seed": 0},
    "objective": {"metric": "val_error", "mode": "min"},
}


def toml_value(value: Any) -> str:
    """A TOML 1.0 rendering of a test value (inline tables for dimensions)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return json.dumps(value)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def dump(data: dict[str, Any]) -> str:
    """Render a spec dict as TOML text: scalars first, then one [table] per section."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]

    def table(path: str, body: dict[str, Any]) -> None:
        lines.append(f"[{path}]")
        nested = {
            k: v
            for k, v in body.items()
            if k == "when" and isinstance(v, dict) and all(isinstance(b, dict) for b in v.values())
        }
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in body.items() if k not in nested)
        for sci, by_value in nested.get("when", {}).items():
            for key, dims in by_value.items():
                table(f"{path}.when.{toml_key(sci)}.{toml_key(key)}", dims)

    for k, v in data.items():
        if isinstance(v, dict):
            table(k, v)
    return "\n".join(lines) + "\n"


def variant(**changes: Any) -> dict[str, Any]:
    """BASE with `section__key = value` changes (value None deletes the key)."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *tables, key = path.split("__")
        target = data
        for name in tables:
            target = target.setdefault(name, {})
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return data


OPTIMIZERS = {
    "scientific": {"optimizer": ["adam", "nesterov"]},
    "fixed": {"activation": "relu"},
    "nuisance": {
        "weight_decay": {"low": 1e-6, "high": 1e-3, "scale": "log"},
        "when": {
            "optimizer": {
                "adam": {
                    "learning_rate": {"low": 1e-4, "high": 1e-2, "scale": "log"},
                    "one_minus_beta1": {"low": 1e-2, "high": 0.5, "scale": "log"},
                },
                "nesterov": {
                    "learning_rate": {"low": 1e-2, "high": 1.0, "scale": "log"},
                    "one_minus_momentum": {"low": 1e-3, "high": 0.5, "scale": "log"},
                },
            }
        },
    },
}


def test_the_design_md_example_parses() -> None:
    design = parse_spec(EXAMPLE, "depth.toml")
    assert design.name == "depth" and design.max_train_steps == 2000
    assert dict(design.fixed) == {"optimizer": "adam", "batch_size": 256, "activation": "relu"}
    assert dict(design.scientific) == {"depth": (2, 3, 4)}
    assert design.nuisance == SearchSpace(
        {"learning_rate": Float(1e-4, 1e-1, "log"), "one_minus_beta1": Float(1e-2, 0.5, "log")}
    )
    assert (design.search.algorithm, design.search.trials, design.search.layout) == (
        "quasi-random",
        20,
        "per-value",
    )
    assert (design.objective.metric, design.objective.mode) == ("val_error", "min")
    assert design.scientific_points() == [{"depth": 2}, {"depth": 3}, {"depth": 4}]


def test_dump_renders_base_like_the_example() -> None:
    assert parse_spec(dump(BASE), "depth.toml") == design_from_dict(BASE, "depth.toml")


def test_defaults_for_optional_keys() -> None:
    data = variant(max_train_steps=None, objective=None, search__algorithm=None, search__seed=None)
    design = design_from_dict(data)
    assert design.max_train_steps is None and design.objective is None
    assert (design.search.algorithm, design.search.layout, design.search.seed) == (
        "quasi-random",
        "per-value",
        0,
    )
    assert design_from_dict(variant(objective__mode=None)).objective.mode == "min"


def test_conditional_nuisance_sets_per_optimizer() -> None:
    design = parse_spec(dump({**BASE, **OPTIMIZERS}), "opt.toml")
    adam = design.nuisance_space({"optimizer": "adam"})
    nesterov = design.nuisance_space({"optimizer": "nesterov"})
    assert adam.names == ("weight_decay", "learning_rate", "one_minus_beta1")
    assert nesterov.names == ("weight_decay", "learning_rate", "one_minus_momentum")
    assert adam["learning_rate"] == Float(1e-4, 1e-2, "log")
    assert nesterov["learning_rate"] == Float(1e-2, 1.0, "log")
    assert design.hparam_names() == {
        "activation",
        "optimizer",
        "weight_decay",
        "learning_rate",
        "one_minus_beta1",
        "one_minus_momentum",
    }


def test_conditional_keys_match_numbers_and_booleans() -> None:
    data = variant(
        scientific={"dropout": [0.0, 0.1], "use_ema": [True, False]},
        nuisance__when={
            "dropout": {"0.1": {"warmup_steps": {"type": "int", "low": 0, "high": 500}}},
            "use_ema": {"true": {"ema_decay": {"values": [0.99, 0.999]}}},
        },
    )
    design = parse_spec(dump(data), "drop.toml")
    assert "warmup_steps" in design.nuisance_space({"dropout": 0.1, "use_ema": False})
    assert "warmup_steps" not in design.nuisance_space({"dropout": 0.0, "use_ema": False})
    assert "ema_decay" in design.nuisance_space({"dropout": 0.0, "use_ema": True})
    assert design.nuisance_space({"dropout": 0.1, "use_ema": True})["warmup_steps"] == Int(0, 500)


@pytest.mark.parametrize(
    "data",
    [
        BASE,
        {**BASE, **OPTIMIZERS},
        variant(
            eval_every=100,
            checkpoint_every=500,
            fixed__hidden=[256, 128],
            nuisance__act={"values": ["relu", "gelu"]},
            search__algorithm="grid",
            search__trials=None,
            search__grid_points={"learning_rate": 3},
            nuisance__one_minus_beta1=None,
        ),
        variant(scientific={"dropout": [0.0, 0.1]}, nuisance__when={"dropout": {"0.1": {}}}),
    ],
    ids=["base", "conditional", "grid-and-extras", "float-key"],
)
def test_json_round_trip(data: dict[str, Any]) -> None:
    design = design_from_dict(data)
    again = ExperimentDesign.from_json(design.to_json())
    assert again == design
    assert again.to_dict() == design.to_dict()


def test_grid_trials_default_to_none_and_are_checked_against_the_grid() -> None:
    data = variant(
        search__algorithm="grid", search__trials=None, search__grid_points=4, scientific={}
    )
    assert design_from_dict(data).search.trials is None
    assert (
        design_from_dict({**data, "search": {**data["search"], "trials": 16}}).search.trials == 16
    )


def test_known_hparams_accept_workload_and_training_names() -> None:
    known = TRAINING_HPARAMS | {"depth", "activation"}
    assert design_from_dict(BASE, known_hparams=known).name == "depth"


def test_toml_syntax_errors_name_file_line_and_column() -> None:
    text = EXAMPLE.replace('activation = "relu"', "activation = relu")
    with pytest.raises(SpecError) as info:
        parse_spec(text, "depth.toml")
    assert str(info.value).startswith("depth.toml: invalid TOML at line 8, column 14: ")


def test_toml_error_at_the_end_of_the_file() -> None:
    with pytest.raises(SpecError, match=r"depth\.toml: invalid TOML at the end of the file"):
        parse_spec('name = "depth', "depth.toml")


def test_load_spec_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "depth.toml"
    path.write_text(EXAMPLE)
    assert load_spec(path).name == "depth"
    path.write_text(EXAMPLE.replace("low = 1e-4", "low = 1"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == (f"{path}: [nuisance.learning_rate] low (1) must be below high (0.1)")
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(SpecError, match="not UTF-8 text"):
        load_spec(tmp_path / "latin1.toml")


GRID3 = {"algorithm": "grid", "grid_points": 3}

MALFORMED = [
    (variant(serach={"trials": 3}), "unknown key 'serach' at top level (did you mean 'search'?"),
    (
        variant(nuisance__learning_rate={"low": 0.1, "high": 0.01}),
        "[nuisance.learning_rate] low (0.1) must be below high (0.01)",
    ),
    (
        variant(nuisance__learning_rate={"low": 0, "high": 0.1, "scale": "log"}),
        "[nuisance.learning_rate] log scale needs positive bounds, got low = 0",
    ),
    (variant(scientific__depth=[]), "[scientific.depth] has no values"),
    (
        variant(scientific__learning_rate=[0.1, 0.01]),
        "'learning_rate' appears in both [scientific] and [nuisance]",
    ),
    (
        variant(nuisance__max_train_steps={"type": "int", "low": 100, "high": 1000}),
        "max_train_steps cannot be a nuisance hyperparameter: the playbook fixes one step "
        "budget for all trials of an experiment (PB-19)",
    ),
    (variant(scientific__max_train_steps=[1000, 2000]), "max_train_steps cannot be a scientific"),
    (variant(fixed__max_train_steps=1000), "[fixed] max_train_steps is set at top level"),
    (
        variant(nuisance__learning_rate={"low": 1e-4, "high": 0.1, "scale": "ln"}),
        "[nuisance.learning_rate] scale must be 'linear' or 'log', got 'ln'",
    ),
    (
        variant(nuisance__learning_rate={"low": 1e-4, "hihg": 0.1}),
        "[nuisance.learning_rate] unknown key 'hihg'",
    ),
    (variant(search__trails=3), "[search] unknown key 'trails' (did you mean 'trials'?"),
    (variant(objective__direction="min"), "[objective] unknown key 'direction'"),
    (variant(search__algorithm="hyperband"), "[search] algorithm 'hyperband' is unknown"),
    (variant(search__trials=0), "[search] trials must be a positive integer, got 0"),
    (
        variant(search__trials="20"),
        "[search] trials must be a positive integer, got '20' (a string)",
    ),
    (variant(search__trials=None), "[search] trials is missing"),
    (variant(search__seed=-1), "[search] seed must be an integer of at least 0, got -1"),
    (variant(objective__mode="minimize"), '[objective] mode must be "min" or "max"'),
    (variant(objective__metric=None), "[objective] metric is missing"),
    (
        variant(search=GRID3, nuisance__wd={"low": 0.0, "high": 0.1}),
        "[search] grid search covers at most 2 nuisance hyperparameters, got 3 for depth = 2",
    ),
    (
        variant(search={**GRID3, "trials": 20}, nuisance__one_minus_beta1=None),
        "[search] trials (20) differs from the grid size (3) for depth = 2",
    ),
    (
        variant(search={"algorithm": "grid"}, nuisance__one_minus_beta1=None),
        "[search] grid search needs a number of grid_points for the range 'learning_rate'",
    ),
    (variant(search__grid_points=3), "[search] grid_points applies only to algorithm"),
    (
        variant(search={**GRID3, "grid_points": {"learning_rate": 1}}),
        "[search] grid_points must be an integer of at least 2 or a table of them",
    ),
    (
        variant(search__algorithm="bayesian", search__layout="combined"),
        '[search] layout "combined" samples scientific values uniformly',
    ),
    (variant(search__layout="mixed"), "[search] layout 'mixed' is unknown"),
    (variant(name=None), "name is missing"),
    (variant(goal=""), "goal must be a non-empty string"),
    (variant(max_train_steps=0), "max_train_steps must be a positive integer, got 0"),
    (variant(max_train_steps=2.5), "max_train_steps must be a positive integer, got 2.5 (a float)"),
    (variant(eval_every=5000), "eval_every (5000) exceeds max_train_steps (2000)"),
    (variant(scientific__depth=3), "[scientific.depth] must be an array of the values to compare"),
    (variant(scientific__depth=[2, "3"]), "[scientific.depth] mixes kinds of values: 2, '3'"),
    (variant(scientific__depth=[2, 2]), "[scientific.depth] value 2 appears more than once"),
    (variant(scientific__depth=[2]), "[scientific.depth] has a single value (2)"),
    (
        variant(fixed={"activation": {"kind": "relu"}}),
        "[fixed] activation must be a string, number",
    ),
    (variant(fixed=3), "[fixed] must be a table, got 3 (an integer)"),
    (variant(nuisance__learning_rate=0.01), "[nuisance.learning_rate] must be a table"),
    (
        variant(nuisance__width={"type": "int", "low": 0.5, "high": 8}),
        "[nuisance.width] low must be an integer, got 0.5 (a float)",
    ),
    (
        variant(nuisance__width={"low": 1, "high": 8, "values": [1, 2]}),
        "[nuisance.width] give either low/high or values, not both",
    ),
    (variant(nuisance__act={"values": ["relu"]}), "[nuisance.act] has a single value ('relu')"),
    (
        variant(nuisance__learning_rate={"low": float("-inf"), "high": 0.1}),
        "[nuisance.learning_rate] low must be finite, got -inf",
    ),
    (
        variant(nuisance__when={"optimizer": {"adam": {}}}),
        "[nuisance.when.optimizer] 'optimizer' is not a scientific hyperparameter "
        "(scientific: depth)",
    ),
    (
        variant(nuisance__when={"depth": {"7": {}}}),
        "[nuisance.when.depth.7] '7' is not one of the values of [scientific.depth] (2, 3, 4)",
    ),
    (
        variant(nuisance__when={"depth": {"3": {"activation": {"values": ["relu", "gelu"]}}}}),
        "'activation' appears in both [fixed] and [nuisance.when.depth.3]",
    ),
    (
        variant(nuisance__when={"depth": {"3": {"max_train_steps": {"low": 1, "high": 9}}}}),
        "max_train_steps cannot be a nuisance hyperparameter",
    ),
    (
        variant(nuisance__when={"depth": {"3": {"lr2": {"low": 1, "high": 0}}}}),
        "[nuisance.when.depth.3.lr2] low (1) must be below high (0)",
    ),
    (
        variant(nuisance__when={"depth": {"3": {}, "3.0": {}}}),
        "[nuisance.when.depth.3.0] names the same value as [nuisance.when.depth.3]",
    ),
    (
        variant(
            scientific__act=["relu", "gelu"],
            fixed__activation=None,
            nuisance__when={
                "depth": {"3": {"wd": {"low": 0.0, "high": 0.1}}},
                "act": {"relu": {"wd": {"low": 0.0, "high": 0.2}}},
            },
        ),
        "[nuisance.when.act.relu.wd] 'wd' already depends on [scientific.depth]",
    ),
    (variant(nuisance__when=3), "[nuisance.when] must be a table"),
    (variant(nuisance__when={"depth": 3}), "[nuisance.when.depth] must be a table of values"),
]


@pytest.mark.parametrize(("data", "key_path"), MALFORMED)
def test_malformed_specs_name_file_and_key_path(data: dict[str, Any], key_path: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(dump(data), "depth.toml")
    message = str(info.value)
    assert message.startswith("depth.toml: ")
    assert key_path in message
    assert "\n" not in message
    assert isinstance(info.value, BadInput)


def test_unknown_hyperparameters_are_refused_with_a_suggestion() -> None:
    data = variant(nuisance__dropuot={"low": 0.0, "high": 0.5})
    with pytest.raises(SpecError) as info:
        design_from_dict(
            data, "depth.toml", known_hparams=TRAINING_HPARAMS | {"depth", "dropout", "activation"}
        )
    assert (
        "[nuisance.dropuot] the workload has no hyperparameter 'dropuot' (did you mean 'dropout'?"
        in str(info.value)
    )


def test_stored_designs_are_validated_again() -> None:
    with pytest.raises(SpecError, match="<stored design>: not valid JSON"):
        ExperimentDesign.from_json("{")
    with pytest.raises(SpecError, match=r"<stored design>: \[scientific.depth\] has no values"):
        ExperimentDesign.from_json(json.dumps(variant(scientific__depth=[])))
    with pytest.raises(SpecError, match="a spec must be a table"):
        design_from_dict([1, 2])


def test_designs_are_immutable() -> None:
    design = design_from_dict(BASE)
    with pytest.raises(TypeError):
        design.fixed["optimizer"] = "sgd"  # type: ignore[index]
    assert Categorical(design.scientific["depth"]).values == (2, 3, 4)
