"""Search spaces: validation with key paths, unit-cube encode/decode, JSON round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunebook.core.search import Categorical, Discrete, Float, Int, SearchSpace, SpaceError
from tunebook.sessions.errors import BadInput

unit = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@st.composite
def floats_dims(draw: st.DrawFn) -> Float:
    scale = draw(st.sampled_from(["linear", "log"]))
    if scale == "log":
        low = draw(st.floats(min_value=1e-8, max_value=1e3))
        high = low * draw(st.floats(min_value=1.001, max_value=1e6))
    else:
        low = draw(st.floats(min_value=-1e6, max_value=1e6))
        high = low + draw(st.floats(min_value=1e-3, max_value=1e6))
    return Float(low, high, scale)


@st.composite
def int_dims(draw: st.DrawFn) -> Int:
    scale = draw(st.sampled_from(["linear", "log"]))
    low = draw(st.integers(min_value=1 if scale == "log" else -1000, max_value=1000))
    return Int(low, low + draw(st.integers(min_value=1, max_value=100_000)), scale)


discrete_dims = st.lists(st.integers(-1000, 1000), min_size=2, max_size=8, unique=True).map(
    lambda v: Discrete(tuple(v))
)
categorical_dims = st.lists(
    st.text(min_size=1, max_size=6), min_size=2, max_size=6, unique=True
).map(lambda v: Categorical(tuple(v)))
any_dim = st.one_of(floats_dims(), int_dims(), discrete_dims, categorical_dims)
spaces = st.dictionaries(
    st.text(alphabet="abcdefgh_", min_size=1, max_size=6), any_dim, max_size=6
).map(SearchSpace)


@given(floats_dims(), unit)
def test_float_decode_stays_in_range_and_encode_inverts_it(dim: Float, u: float) -> None:
    value = dim.decode(u)
    assert dim.low <= value <= dim.high
    assert dim.encode(value) == pytest.approx(u, abs=1e-6)


@given(int_dims(), unit)
def test_int_decode_encode_decode_is_stable(dim: Int, u: float) -> None:
    value = dim.decode(u)
    assert isinstance(value, int)
    assert dim.low <= value <= dim.high
    assert dim.decode(dim.encode(value)) == value


@given(st.one_of(discrete_dims, categorical_dims), st.data())
def test_finite_dims_round_trip_every_value(
    dim: Discrete | Categorical, data: st.DataObject
) -> None:
    value = data.draw(st.sampled_from(dim.values))
    assert dim.decode(dim.encode(value)) == value


@given(spaces, st.data())
@settings(max_examples=60)
def test_space_decode_encode_round_trip(space: SearchSpace, data: st.DataObject) -> None:
    u = data.draw(st.lists(unit, min_size=len(space), max_size=len(space)))
    params = space.decode(u)
    assert list(params) == list(space.names)
    assert space.contains(params)
    assert space.decode(space.encode(params)) == pytest.approx(params)


@given(spaces)
@settings(max_examples=60)
def test_space_json_round_trip(space: SearchSpace) -> None:
    again = SearchSpace.from_json(space.to_json())
    assert again == space
    assert again.names == space.names
    assert hash(again) == hash(space)


def test_log_float_is_uniform_in_log_space() -> None:
    dim = Float(1e-4, 1e-1, "log")
    assert dim.decode(0.0) == pytest.approx(1e-4)
    assert dim.decode(0.5) == pytest.approx(10**-2.5)
    assert dim.decode(1 / 3) == pytest.approx(1e-3)


def test_int_values_get_equal_shares_of_the_unit_interval() -> None:
    dim = Int(1, 4)
    assert [dim.decode(u) for u in (0.0, 0.24, 0.25, 0.5, 0.75, 0.999)] == [1, 1, 2, 3, 4, 4]


def test_discrete_values_are_sorted_and_categorical_order_is_kept() -> None:
    assert Discrete((256, 64, 128)).values == (64, 128, 256)
    assert Categorical(("relu", "gelu")).decode(0.0) == "relu"


def test_booleans_are_not_numbers() -> None:
    dim = Categorical((True, False))
    assert dim.contains(True) and not dim.contains(1)
    assert not Float(0.0, 1.0).contains(True)
    with pytest.raises(SpaceError, match="values must be numbers"):
        Discrete((1, True))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Float(0.1, 0.01), "low (0.1) must be below high (0.01)"),
        (lambda: Float(0, 1, "log"), "log scale needs positive bounds, got low = 0"),
        (lambda: Float(0, 1, "ln"), "scale must be 'linear' or 'log', got 'ln'"),
        (lambda: Float(0, math.inf), "high must be finite, got inf"),
        (lambda: Int(0.5, 3), "low must be an integer, got 0.5 (a float)"),
        (lambda: Int(0, 8, "log"), "log scale needs positive bounds, got low = 0"),
        (lambda: Discrete(()), "has no values"),
        (lambda: Discrete((1, 2, 1)), "value 1 appears more than once"),
        (lambda: Categorical(("a",)), "has a single value ('a')"),
        (lambda: Categorical("ab"), "values must be an array"),
    ],
)
def test_invalid_dimensions_are_refused(make, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        make()
    assert message in str(info.value)
    assert isinstance(info.value, BadInput)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lr": {"low": 1, "high": 0.1}}, "[lr] low (1) must be below high (0.1)"),
        ({"lr": {"low": 1e-3, "hihg": 0.1}}, "[lr] unknown key 'hihg'"),
        ({"lr": {"low": 1e-3}}, "[lr] has no high"),
        ({"lr": {"type": "real", "low": 0, "high": 1}}, "[lr] type must be one of"),
        ({"lr": {"low": 0, "high": 1, "values": [1, 2]}}, "[lr] give either low/high or values"),
        ({"lr": {"type": "discrete", "low": 0, "high": 1}}, "[lr] type 'discrete' needs values"),
        ({"lr": {"type": "int", "values": [1, 2]}}, "[lr] type 'int' needs low and high"),
        ({"lr": 3}, "[lr] must be a table"),
        ({"act": {"values": "relu"}}, "[act] values must be an array"),
    ],
)
def test_from_dict_errors_name_the_dimension(data: dict, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_dict(data)
    assert message in str(info.value)


def test_from_dict_infers_kinds_and_respects_explicit_type() -> None:
    space = SearchSpace.from_dict(
        {
            "lr": {"low": 1e-4, "high": 1e-1, "scale": "log"},
            "warmup": {"type": "int", "low": 0, "high": 1000},
            "width": {"values": [64, 128]},
            "act": {"values": ["relu", "gelu"]},
            "depth": {"type": "categorical", "values": [2, 3]},
        }
    )
    assert space.dims == {
        "lr": Float(1e-4, 1e-1, "log"),
        "warmup": Int(0, 1000),
        "width": Discrete((64, 128)),
        "act": Categorical(("relu", "gelu")),
        "depth": Categorical((2, 3)),
    }


def test_space_refuses_bad_points_and_values() -> None:
    space = SearchSpace({"lr": Float(1e-4, 1e-1, "log"), "act": Categorical(("relu", "gelu"))})
    with pytest.raises(SpaceError, match="has 2 coordinates, got 1"):
        space.decode([0.5])
    with pytest.raises(SpaceError, match=r"\[lr\] 0.5 is outside"):
        space.encode({"lr": 0.5, "act": "relu"})
    with pytest.raises(SpaceError, match="no value for act"):
        space.encode({"lr": 0.01})
    assert not space.contains({"lr": 0.01, "act": "tanh"})
    with pytest.raises(SpaceError, match="not valid JSON"):
        SearchSpace.from_json("{")
    with pytest.raises(SpaceError, match=r"\[lr\] appears twice"):
        SearchSpace([("lr", Float(0, 1)), ("lr", Float(0, 2))])


def test_merged_replaces_and_appends_in_order() -> None:
    base = SearchSpace({"lr": Float(1e-4, 1e-2, "log"), "wd": Float(0, 1)})
    over = SearchSpace({"lr": Float(1e-2, 1, "log"), "momentum": Float(0.5, 0.99)})
    merged = base.merged(over)
    assert merged.names == ("lr", "wd", "momentum")
    assert merged["lr"] == Float(1e-2, 1, "log")
