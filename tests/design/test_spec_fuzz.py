"""Mutated specs (issue #7 item 6): whatever a spec holds, `experiment add` either stores it
or refuses it with one line of plain text (BadInput) — never another exception, never a
hang. Runs the whole validation, including the one-step training check, on a real session."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.execution.workloads import TINY_REF
from tunebook.core.experiments import add_experiment_from_spec
from tunebook.sessions import BadInput, Session

VALID: dict[str, Any] = {
    "name": "fuzz",
    "goal": "Which learning rate?",
    "max_train_steps": 20,
    "eval_every": 10,
    "fixed": {"optimizer": "adam", "batch_size": 16, "grad_clip": 1.0, "decay_start": 2},
    "scientific": {"width": [8, 16]},
    "nuisance": {"learning_rate": {"low": 1e-3, "high": 3e-2, "scale": "log"}},
    "search": {"algorithm": "quasi-random", "trials": 3, "layout": "per-value", "seed": 0},
    "objective": {"metric": "error", "mode": "min"},
}
#: The key paths of VALID that mutations replace: every section and most leaves.
PATHS = [
    ("name",),
    ("goal",),
    ("max_train_steps",),
    ("eval_every",),
    ("fixed",),
    *[("fixed", key) for key in VALID["fixed"]],
    ("scientific",),
    ("scientific", "width"),
    ("nuisance", "learning_rate"),
    ("nuisance", "learning_rate", "low"),
    ("nuisance", "learning_rate", "scale"),
    ("search",),
    *[("search", key) for key in VALID["search"]],
    ("objective", "mode"),
]
CONTROL = "".join(map(chr, [*range(32), *range(127, 160), 0x202E, 0x2066]))
hostile_text = st.text(alphabet=st.sampled_from(CONTROL + "ab[]/=.\"'"), min_size=1, max_size=8)
leaves = st.one_of(
    st.sampled_from([math.inf, -math.inf, math.nan, 0, -1, 2**63, 2**64, 10**30, 1e308]),
    st.integers(),
    st.floats(),
    hostile_text,
    st.booleans(),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=2)
    ),
    max_leaves=6,
)


def toml_key(key: str) -> str:
    """A TOML basic-string key: JSON's escapes are TOML's."""
    return json.dumps(key)


def toml_value(value: Any) -> str:
    """A value in TOML 1.0 syntax (inline tables and arrays nest)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def dump(spec: Mapping[str, Any]) -> str:
    """The spec as a TOML document: top-level values, then one [table] per table."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in spec.items() if not isinstance(v, dict)]
    for key, table in spec.items():
        if isinstance(table, dict):
            lines.append(f"[{toml_key(key)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def mutated(path: tuple[str, ...], value: Any, extra_key: str | None) -> dict[str, Any]:
    """VALID with the value at `path` replaced, and an extra (hostile) key in its table."""
    spec = json.loads(json.dumps(VALID))
    table = spec
    for key in path[:-1]:
        table = table[key]
    table[path[-1]] = value
    if extra_key is not None:
        table[extra_key] = 1
    return spec


@pytest.fixture(scope="module")
def session_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "s.tunebook"
    with Session.create(path, TINY_REF):
        pass
    return path


def test_the_unmutated_spec_is_accepted(session_path: Path, tmp_path: Path) -> None:
    spec = tmp_path / "valid.toml"
    spec.write_text(dump({**VALID, "name": "valid"}))
    with Session.open(session_path) as session:
        added = add_experiment_from_spec(session, spec)
    assert added.studies == ["width=8", "width=16"]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(PATHS),
    value=values,
    extra_key=st.one_of(st.none(), hostile_text),
)
def test_a_mutated_spec_is_stored_or_refused_in_one_plain_line(
    session_path: Path, tmp_path: Path, path: tuple[str, ...], value: Any, extra_key: str | None
) -> None:
    spec = tmp_path / "mutated.toml"
    spec.write_text(dump(mutated(path, value, extra_key)))
    started = time.monotonic()
    with Session.open(session_path) as session:
        try:
            add_experiment_from_spec(session, spec)
        except BadInput as exc:
            message = str(exc)
            assert message.startswith(f"{spec}: ")
            assert message.isprintable(), repr(message)  # one line, nothing raw
            assert not any(ch in message for ch in CONTROL), repr(message)
    assert time.monotonic() - started < 10
