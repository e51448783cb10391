"""Search spaces: named dimensions and the map between the unit hypercube and values.

Every search algorithm works in the unit hypercube ``[0, 1)^d``; a `SearchSpace` turns a
point of that cube into concrete hyperparameter values (`decode`) and back (`encode`, used
to place finished trials on each range's own scale). Spaces are stored in the session file
as JSON in the same shape as the TOML spec's dimension tables::

    {"learning_rate": {"type": "float", "low": 1e-4, "high": 0.1, "scale": "log"},
     "activation": {"type": "categorical", "values": ["relu", "gelu"]}}

A conditional nuisance set (PB-8: Adam's learning rate and Nesterov's are different
hyperparameters) is not a feature of the space itself: the experiment design keeps one
space per scientific value (`tunebook.core.design.spec.ExperimentDesign.nuisance_space`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from tunebook.sessions.errors import BadInput

Scalar = str | bool | int | float
SCALES = ("linear", "log")
DIMENSION_TYPES = ("float", "int", "discrete", "categorical")
DIMENSION_KEYS = ("type", "low", "high", "scale", "values")


class SpaceError(BadInput):
    """A dimension or search space is malformed; `key` is the dimension's name when known."""

    def __init__(self, detail: str, key: str | None = None) -> None:
        self.detail = detail
        self.key = key
        super().__init__(f"[{key}] {detail}" if key is not None else detail)


#: Longest rendering of a value in a message; longer ones are cut with an ellipsis.
SHOW_LIMIT = 80


def show(value: Any) -> str:
    """Render a value the way the user wrote it in TOML, for error messages: one line,
    control and bidi characters escaped (``repr``), at most `SHOW_LIMIT` characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 1000:  # repr refuses > 4,300 digits
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= SHOW_LIMIT else text[: SHOW_LIMIT - 1] + "…"


def describe(value: Any) -> str:
    """Name a value's TOML type, for 'must be X, got Y' messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return f"{show(value)} ({name})"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"{value!r}"


def is_number(value: Any) -> bool:
    """True for ints and floats, not booleans (TOML keeps them apart, Python does not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from the numbers 0 and 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _index_of(values: Sequence[Any], value: Any) -> int | None:
    for i, candidate in enumerate(values):
        if same_value(candidate, value):
            return i
    return None


def _check_bounds(low: Any, high: Any, scale: str, integer: bool) -> None:
    kind = "an integer" if integer else "a number"
    for key, bound in (("low", low), ("high", high)):
        ok = isinstance(bound, int) and not isinstance(bound, bool) if integer else is_number(bound)
        if not ok:
            raise SpaceError(f"{key} must be {kind}, got {describe(bound)}")
        if not math.isfinite(bound):
            raise SpaceError(f"{key} must be finite, got {show(bound)}")
    if scale not in SCALES:
        raise SpaceError(f"scale must be 'linear' or 'log', got {describe(scale)}")
    if low >= high:
        raise SpaceError(f"low ({show(low)}) must be below high ({show(high)})")
    if scale == "log" and low <= 0:
        raise SpaceError(f"log scale needs positive bounds, got low = {show(low)}")


def _check_values(values: Sequence[Any], numeric: bool) -> None:
    if len(values) == 0:
        raise SpaceError("has no values")
    for value in values:
        if numeric and not is_number(value):
            raise SpaceError(f"values must be numbers, got {describe(value)}")
        if not numeric and not isinstance(value, (str, bool, int, float)):
            raise SpaceError(f"values must be strings, numbers or booleans, got {describe(value)}")
        if is_number(value) and not math.isfinite(value):
            raise SpaceError(f"values must be finite, got {show(value)}")
    for i, value in enumerate(values):
        if _index_of(values[:i], value) is not None:
            raise SpaceError(f"value {show(value)} appears more than once")
    if len(values) == 1:
        raise SpaceError(
            f"has a single value ({show(values[0])}); a hyperparameter that does not vary "
            "belongs in [fixed]"
        )


def _as_tuple(values: Any) -> tuple[Any, ...]:
    if not isinstance(values, (list, tuple)):
        raise SpaceError(f"values must be an array, got {describe(values)}")
    return tuple(values)


def _unit(u: float) -> float:
    return min(max(float(u), 0.0), 1.0)


@dataclass(frozen=True)
class Float:
    """A real-valued range; ``scale='log'`` samples uniformly in log space (e.g. learning rate)."""

    low: float
    high: float
    scale: str = "linear"

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, self.scale, integer=False)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    def _ends(self) -> tuple[float, float]:
        if self.scale == "log":
            return math.log(self.low), math.log(self.high)
        return self.low, self.high

    def decode(self, u: float) -> float:
        """Map a unit coordinate to a value in [low, high] on this range's scale."""
        a, b = self._ends()
        x = a + _unit(u) * (b - a)
        value = math.exp(x) if self.scale == "log" else x
        return min(max(value, self.low), self.high)

    def encode(self, value: Any) -> float:
        """Map a value back to its unit coordinate (0 at low, 1 at high)."""
        a, b = self._ends()
        x = math.log(value) if self.scale == "log" else float(value)
        return _unit((x - a) / (b - a))

    def contains(self, value: Any) -> bool:
        """True when `value` is a number inside [low, high]."""
        return is_number(value) and self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        """The dimension as a spec/JSON table."""
        return {"type": "float", "low": self.low, "high": self.high, "scale": self.scale}


@dataclass(frozen=True)
class Int:
    """An integer range, inclusive of both ends; log scale needs ``low >= 1``."""

    low: int
    high: int
    scale: str = "linear"

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, self.scale, integer=True)

    def _ends(self) -> tuple[float, float]:
        # Each integer v owns the cell [v, v + 1) of the continuous range [low, high + 1).
        if self.scale == "log":
            return math.log(self.low), math.log(self.high + 1)
        return float(self.low), float(self.high + 1)

    def decode(self, u: float) -> int:
        """Map a unit coordinate to an integer; each integer gets an equal share of the scale."""
        a, b = self._ends()
        x = a + _unit(u) * (b - a)
        value = math.floor(math.exp(x) if self.scale == "log" else x)
        return int(min(max(value, self.low), self.high))

    def encode(self, value: Any) -> float:
        """Map an integer to the middle of its cell, so that decode(encode(v)) == v."""
        a, b = self._ends()
        v = int(value)
        mid = (math.log(v) + math.log(v + 1)) / 2 if self.scale == "log" else v + 0.5
        return _unit((mid - a) / (b - a))

    def contains(self, value: Any) -> bool:
        """True when `value` is an integer (or integral float) inside [low, high]."""
        return is_number(value) and float(value).is_integer() and self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        """The dimension as a spec/JSON table."""
        return {"type": "int", "low": self.low, "high": self.high, "scale": self.scale}


class _FiniteValues:
    """Decoding shared by the finite dimensions: value i owns [i/k, (i+1)/k) of the unit
    interval, so quasi-random points give every value an equal share."""

    values: tuple[Scalar, ...]

    def decode(self, u: float) -> Any:
        """Pick value floor(u·k)."""
        k = len(self.values)
        return self.values[min(int(_unit(u) * k), k - 1)]

    def encode(self, value: Any) -> float:
        """The middle of the value's share of the unit interval."""
        index = _index_of(self.values, value)
        if index is None:
            raise SpaceError(f"{show(value)} is not one of {list(self.values)}")
        return (index + 0.5) / len(self.values)

    def contains(self, value: Any) -> bool:
        """True when `value` is one of the values."""
        return _index_of(self.values, value) is not None


@dataclass(frozen=True)
class Discrete(_FiniteValues):
    """A finite, ordered set of numbers (e.g. widths 64, 128, 256), kept sorted."""

    values: tuple[float | int, ...]

    def __post_init__(self) -> None:
        values = _as_tuple(self.values)
        _check_values(values, numeric=True)
        object.__setattr__(self, "values", tuple(sorted(values)))

    def to_dict(self) -> dict[str, Any]:
        """The dimension as a spec/JSON table."""
        return {"type": "discrete", "values": list(self.values)}


@dataclass(frozen=True)
class Categorical(_FiniteValues):
    """Unordered choices (strings, booleans or numbers), kept in the order given."""

    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        values = _as_tuple(self.values)
        _check_values(values, numeric=False)
        object.__setattr__(self, "values", values)

    def to_dict(self) -> dict[str, Any]:
        """The dimension as a spec/JSON table."""
        return {"type": "categorical", "values": list(self.values)}


Dimension = Float | Int | Discrete | Categorical


def _expected(keys: Iterable[str]) -> str:
    return ", ".join(keys)


def dimension_from_dict(table: Any) -> Dimension:
    """Build a dimension from its spec/JSON table; raises SpaceError (without a key) if bad.

    ``{low, high[, scale][, type = "float" | "int"]}`` is a range (float unless
    ``type = "int"``); ``{values = [...]}`` is discrete when all values are numbers and
    categorical otherwise, unless ``type`` says which.
    """
    if not isinstance(table, Mapping):
        raise SpaceError(
            'must be a table such as { low = 1e-4, high = 1e-1, scale = "log" } '
            f"or {{ values = [...] }}, got {describe(table)}"
        )
    for key in table:
        if key not in DIMENSION_KEYS:
            raise SpaceError(f"unknown key {key!r} (expected one of: {_expected(DIMENSION_KEYS)})")
    kind = table.get("type")
    if kind is not None and kind not in DIMENSION_TYPES:
        raise SpaceError(f"type must be one of {_expected(DIMENSION_TYPES)}, got {describe(kind)}")
    has_range = "low" in table or "high" in table
    if "values" in table:
        if has_range or "scale" in table:
            raise SpaceError("give either low/high or values, not both")
        values = _as_tuple(table["values"])
        if kind is None:
            kind = "discrete" if values and all(is_number(v) for v in values) else "categorical"
        if kind == "discrete":
            return Discrete(values)
        if kind == "categorical":
            return Categorical(values)
        raise SpaceError(f"type {kind!r} needs low and high, not values")
    if not has_range:
        raise SpaceError("needs low and high, or values")
    for key in ("low", "high"):
        if key not in table:
            raise SpaceError(f"has no {key}")
    scale = table.get("scale", "linear")
    if kind in (None, "float"):
        return Float(table["low"], table["high"], scale)
    if kind == "int":
        return Int(table["low"], table["high"], scale)
    raise SpaceError(f"type {kind!r} needs values, not low and high")


class SearchSpace:
    """Named dimensions in a fixed order; the order fixes which unit coordinate feeds which name.

    Immutable and hashable. ``SearchSpace({"lr": Float(1e-4, 1e-1, "log")})``.
    """

    __slots__ = ("_dims",)

    def __init__(self, dims: Mapping[str, Dimension] | Iterable[tuple[str, Dimension]] = ()):
        items = list(dims.items()) if isinstance(dims, Mapping) else list(dims)
        seen: dict[str, Dimension] = {}
        for name, dim in items:
            if not isinstance(name, str) or not name:
                raise SpaceError(f"dimension names must be non-empty strings, got {name!r}")
            if name in seen:
                raise SpaceError("appears twice in the search space", key=name)
            if not isinstance(dim, (Float, Int, Discrete, Categorical)):
                raise SpaceError(f"is not a dimension: {dim!r}", key=name)
            seen[name] = dim
        self._dims: Mapping[str, Dimension] = MappingProxyType(seen)

    @property
    def dims(self) -> Mapping[str, Dimension]:
        """Read-only name → dimension mapping, in order."""
        return self._dims

    @property
    def names(self) -> tuple[str, ...]:
        """Dimension names in order (the order of the unit coordinates)."""
        return tuple(self._dims)

    def __len__(self) -> int:
        return len(self._dims)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dims)

    def __getitem__(self, name: str) -> Dimension:
        return self._dims[name]

    def __contains__(self, name: object) -> bool:
        return name in self._dims

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return tuple(self._dims.items()) == tuple(other._dims.items())

    def __hash__(self) -> int:
        return hash(tuple(self._dims.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {dim!r}" for name, dim in self._dims.items())
        return f"SearchSpace({{{inner}}})"

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Turn a point of the unit hypercube (one coordinate per name, in order) into values."""
        coords = np.asarray(u, dtype=float).reshape(-1)
        if coords.shape[0] != len(self):
            raise SpaceError(
                f"a point of this space has {len(self)} coordinates, got {len(coords)}"
            )
        return {name: dim.decode(c) for (name, dim), c in zip(self._dims.items(), coords)}

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Turn values back into unit coordinates, each on its range's own scale."""
        missing = [name for name in self._dims if name not in params]
        if missing:
            raise SpaceError(f"no value for {', '.join(missing)}")
        for name, dim in self._dims.items():
            if not dim.contains(params[name]):
                raise SpaceError(f"{show(params[name])} is outside {dim.to_dict()}", key=name)
        return np.array([dim.encode(params[name]) for name, dim in self._dims.items()])

    def contains(self, params: Mapping[str, Any]) -> bool:
        """True when `params` has a value inside every dimension (extra names are ignored)."""
        return all(name in params and dim.contains(params[name]) for name, dim in self.items())

    def items(self) -> Iterable[tuple[str, Dimension]]:
        """(name, dimension) pairs in order."""
        return self._dims.items()

    def merged(self, other: SearchSpace) -> SearchSpace:
        """This space with `other`'s dimensions replacing same-named ones and added after."""
        combined = dict(self._dims)
        combined.update(other.dims)
        return SearchSpace(combined)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The space as name → dimension table, in order."""
        return {name: dim.to_dict() for name, dim in self._dims.items()}

    @classmethod
    def from_dict(cls, data: Any) -> SearchSpace:
        """Rebuild a space from `to_dict` output; errors name the dimension as ``[name]``."""
        if not isinstance(data, Mapping):
            raise SpaceError(f"a search space must be a table of dimensions, got {describe(data)}")
        dims = []
        for name, table in data.items():
            try:
                dims.append((name, dimension_from_dict(table)))
            except SpaceError as exc:
                raise SpaceError(exc.detail, key=name) from None
        return cls(dims)

    def to_json(self) -> str:
        """JSON text for the session file."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        """Rebuild a space stored with `to_json`, validating it."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpaceError(f"the stored search space is not valid JSON ({exc.msg})") from None
        return cls.from_dict(data)
