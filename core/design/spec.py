"""The experiment spec: a TOML file (DESIGN.md) turned into a validated `ExperimentDesign`.

An experiment (PB-5) has one goal (PB-7) and sorts hyperparameters into fixed, scientific
and nuisance (PB-8); its studies search the nuisance space with one algorithm (PB-9,
PB-29) under one step budget (PB-19). Every mistake is a `SpecError` naming the file and
the key path. Keys (TOML 1.0)::

    name = "depth"                 # required
    goal = "Does a deeper MLP ...?" # required: one goal per experiment (PB-7)
    max_train_steps = 2000         # optional: the session's decision when left out (PB-19)
    eval_every = 100               # optional: evaluate every N steps (PB-22)
    checkpoint_every = 500         # optional: save a resumable checkpoint every N steps

    [fixed]                        # name = value (string, number, boolean or array)
    [scientific]                   # name = [value, ...], two or more values of one kind
    [nuisance]                     # name = { low, high, scale = "linear"|"log" } (a float
                                   # range; type = "int" for integers) or { values = [...] }
                                   # (discrete if all numbers, else categorical; type =
                                   # "discrete"|"categorical" forces one)
    [nuisance.when.optimizer.nesterov]   # nuisance dimensions added or replaced when the
                                         # scientific `optimizer` is "nesterov" (PB-8);
                                         # `when` is reserved, not a hyperparameter name
    [search]    algorithm = "quasi-random"|"random"|"grid"|"bayesian"|"listed", trials = N
                (per study; for grid, the grid size when left out), layout = "per-value"|
                "combined", seed = 0, grid_points = N or { name = N } (grid only),
                startup_trials = N (bayesian only: how many trials are drawn quasi-randomly
                before Bayesian optimization chooses points; default 10), points =
                [{ name = value, ... }, ...] (listed only: the configurations to run, each
                naming every scientific and nuisance hyperparameter; the layout is
                "combined", trials is the number of points, no [nuisance.when] tables)
    [objective] metric = "val_error", mode = "min"|"max" (optional table: the workload's
                objective when left out)

Limits, so that no spec can exhaust memory or time: at most `MAX_TRIALS` trials per study
(grid size, `grid_points`, `startup_trials` and listed `points` included), at most
`MAX_STUDIES` combinations of scientific values, and at most `MAX_TRAIN_STEPS` for
`max_train_steps`, `eval_every` and `checkpoint_every`. Numbers must be finite wherever they appear.

A quoted key matches a number: ``[nuisance.when.dropout."0.1"]``. Write TOML 1.0: Python
3.11+ reads it with tomllib; on 3.10 the tomli fallback (>= 2.4) would also accept TOML 1.1
syntax that 3.11+ refuses.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tunebook.core.search import ALGORITHMS, MAX_GRID_DIMS, GridSampler, SearchSpace
from tunebook.core.search.bayesian import DEFAULT_STARTUP_TRIALS, MODES
from tunebook.core.search.space import (
    Categorical,
    Scalar,
    SpaceError,
    describe,
    dimension_from_dict,
    is_number,
    same_value,
    show,
)
from tunebook.sessions.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TOP_KEYS = (
    "name",
    "goal",
    "max_train_steps",
    "eval_every",
    "checkpoint_every",
    "fixed",
    "scientific",
    "nuisance",
    "search",
    "objective",
)
SEARCH_KEYS = ("algorithm", "trials", "layout", "seed", "grid_points", "startup_trials", "points")
OBJECTIVE_KEYS = ("metric", "mode")
LAYOUTS = ("per-value", "combined")
#: Layouts that sample scientific values alongside nuisance ones need a uniform,
#: non-adaptive algorithm (PB-9).
COMBINED_ALGORITHMS = ("quasi-random", "random")
#: The algorithm that runs the configurations a spec lists (PB-20's longer rounds).
LISTED = "listed"
#: The reserved nuisance key holding conditional tables.
WHEN = "when"
MAX_SEED = 2**63 - 1
#: Trials per study at most (also bounds a grid's size, grid_points and startup_trials).
MAX_TRIALS = 10_000
#: Combinations of scientific values (per-value studies) at most.
MAX_STUDIES = 1_000
#: max_train_steps, eval_every and checkpoint_every at most.
MAX_TRAIN_STEPS = 10**9
_BARE_KEY = re.compile(r"[A-Za-z0-9_.-]+")


class SpecError(BadInput):
    """An experiment spec is wrong; the message is one sentence naming file and key path."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


@dataclass(frozen=True)
class SearchSettings:
    """How each study searches: algorithm, trials per study, layout (PB-9) and seed."""

    algorithm: str = "quasi-random"
    #: Trials per study; None only for grid search, whose budget is the grid size.
    trials: int | None = None
    layout: str = "per-value"
    seed: int = 0
    #: Grid search only: points per float/int range, one count or a count per name.
    grid_points: int | Mapping[str, int] | None = None
    #: Bayesian search only: trials drawn quasi-randomly before the model proposes points.
    startup_trials: int = DEFAULT_STARTUP_TRIALS
    #: Listed search only: the configurations to run, each naming every scientific and
    #: nuisance hyperparameter.
    points: tuple[Mapping[str, Scalar], ...] = ()


@dataclass(frozen=True)
class Objective:
    """The metric a trial is judged by and its direction."""

    metric: str
    mode: str = "min"


@dataclass(frozen=True)
class ConditionalSpace:
    """Nuisance dimensions that exist only when scientific `scientific` equals `value` (PB-8).

    They are added to the base nuisance space, replacing same-named dimensions: Nesterov's
    learning rate is a different hyperparameter from Adam's, with its own range.
    """

    scientific: str
    value: Scalar
    space: SearchSpace


@dataclass(frozen=True)
class ExperimentDesign:
    """A validated experiment: roles of every hyperparameter, step budget, search settings."""

    name: str
    goal: str
    max_train_steps: int | None
    fixed: Mapping[str, Any]
    scientific: Mapping[str, tuple[Scalar, ...]]
    nuisance: SearchSpace
    conditional: tuple[ConditionalSpace, ...] = ()
    search: SearchSettings = field(default_factory=SearchSettings)
    objective: Objective | None = None
    eval_every: int | None = None
    checkpoint_every: int | None = None

    def scientific_points(self) -> list[dict[str, Scalar]]:
        """Every combination of scientific values, in spec order ([{}] when there is none)."""
        names = list(self.scientific)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.scientific.values())]

    def nuisance_space(self, scientific_values: Mapping[str, Any]) -> SearchSpace:
        """The nuisance space for one combination of scientific values, conditionals applied."""
        space = self.nuisance
        for cond in self.conditional:
            if cond.scientific in scientific_values and same_value(
                scientific_values[cond.scientific], cond.value
            ):
                space = space.merged(cond.space)
        return space

    def hparam_names(self) -> set[str]:
        """Every hyperparameter the design mentions, in any role."""
        names = set(self.fixed) | set(self.scientific) | set(self.nuisance.names)
        for cond in self.conditional:
            names |= set(cond.space.names)
        return names

    def to_dict(self) -> dict[str, Any]:
        """The design in the spec's own shape (JSON-safe); `design_from_dict` reads it back."""
        data: dict[str, Any] = {"name": self.name, "goal": self.goal}
        for key in ("max_train_steps", "eval_every", "checkpoint_every"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        data["fixed"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.fixed.items()}
        data["scientific"] = {k: list(v) for k, v in self.scientific.items()}
        nuisance: dict[str, Any] = self.nuisance.to_dict()
        when: dict[str, dict[str, Any]] = {}
        for cond in self.conditional:
            when.setdefault(cond.scientific, {})[value_key(cond.value)] = cond.space.to_dict()
        if when:
            nuisance[WHEN] = when
        data["nuisance"] = nuisance
        search: dict[str, Any] = {
            "algorithm": self.search.algorithm,
            "layout": self.search.layout,
            "seed": self.search.seed,
        }
        if self.search.trials is not None:
            search["trials"] = self.search.trials
        if self.search.grid_points is not None:
            points = self.search.grid_points
            search["grid_points"] = dict(points) if isinstance(points, Mapping) else points
        if self.search.algorithm == "bayesian":
            search["startup_trials"] = self.search.startup_trials
        if self.search.points:
            search["points"] = [dict(point) for point in self.search.points]
        data["search"] = search
        if self.objective is not None:
            data["objective"] = {"metric": self.objective.metric, "mode": self.objective.mode}
        return data

    def to_json(self) -> str:
        """JSON text for the session file."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str, known_hparams: Collection[str] | None = None) -> ExperimentDesign:
        """Rebuild a stored design, validating it exactly as a spec file."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError("<stored design>", f"not valid JSON ({exc.msg})") from None
        return design_from_dict(data, source="<stored design>", known_hparams=known_hparams)


def value_key(value: Scalar) -> str:
    """The TOML key naming a scientific value in ``[nuisance.when.NAME.KEY]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


def _match_value_key(key: str, values: tuple[Scalar, ...]) -> int | None:
    for i, value in enumerate(values):
        if isinstance(value, (str, bool)):
            if key == value_key(value):
                return i
        else:
            try:
                if float(key) == value:
                    return i
            except ValueError:
                continue
    return None


def _suggest(word: str, options: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def key_name(key: Any) -> str:
    """A key as a key path shows it: bare when it is letters, digits, ``_``, ``-`` and ``.``,
    else quoted with every control, non-ASCII and bidi character escaped, so that a message
    stays one line of plain text."""
    if isinstance(key, str) and _BARE_KEY.fullmatch(key):
        return key
    return json.dumps(key) if isinstance(key, str) else show(key)


def key_path(*keys: Any) -> str:
    """Keys joined into a TOML key path such as ``nuisance.when.optimizer."sgd"``."""
    return ".".join(key_name(key) for key in keys)


def _finite(value: Any) -> bool:
    """False for the floats inf and nan (TOML has both), alone or inside an array."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return not any(isinstance(item, float) and not math.isfinite(item) for item in items)


class _Parser:
    """Validates a spec dict section by section; every error carries its key path."""

    def __init__(self, source: str, known: Collection[str] | None) -> None:
        self.source = source
        self.known = None if known is None else frozenset(known)
        self.sections: dict[str, str] = {}  # hyperparameter name -> first section setting it

    def fail(self, message: str) -> SpecError:
        return SpecError(self.source, message)

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(f"[{key}] must be a table, got {describe(value)}")
        return value

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                close = _suggest(key, allowed) if isinstance(key, str) else ""
                expected = f"({close}expected one of: {', '.join(allowed)})"
                if where:
                    raise self.fail(f"[{where}] unknown key {key!r} {expected}")
                raise self.fail(f"unknown key {key!r} at top level {expected}")

    def string(
        self, table: Mapping[str, Any], key: str, where: str, default: str | None = None
    ) -> str:
        """The string at `key`; required when there is no default."""
        label = f"[{where}] {key}" if where else key
        if key not in table:
            if default is None:
                raise self.fail(f"{label} is missing")
            return default
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{label} must be a non-empty string, got {describe(value)}")
        return value

    def count(
        self, table: Mapping[str, Any], key: str, where: str, minimum: int, maximum: int
    ) -> int | None:
        """The integer at `key` within [minimum, maximum], or None when absent."""
        label = f"[{where}] {key}" if where else key
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
            raise self.fail(f"{label} must be {kind}, got {describe(value)}")
        if value > maximum:
            raise self.fail(f"{label} must be at most {maximum:,}, got {show(value)}")
        return value

    def claim(self, name: str, section: str) -> None:
        """Record that `name` is set in `section`; refuse it unknown or in a second role.

        The role is the section's first word. A nuisance name may appear in several nuisance
        sections: under another scientific value it is a different hyperparameter (PB-8).
        """
        role = section.split(".")[0]
        if not isinstance(name, str) or not name:
            raise self.fail(f"[{section}] has a key that is not a name: {key_name(name)}")
        if name == "max_train_steps":
            if role == "nuisance":
                raise self.fail(
                    "max_train_steps cannot be a nuisance hyperparameter: the playbook fixes "
                    "one step budget for all trials of an experiment (PB-19)"
                )
            if role == "scientific":
                raise self.fail(
                    "max_train_steps cannot be a scientific hyperparameter: compare step "
                    "budgets with rounds of growing max_train_steps instead (PB-19, PB-20)"
                )
            raise self.fail(
                f"[{section}] max_train_steps is set at top level, not in [{section}] (PB-19)"
            )
        if self.known is not None and name not in self.known:
            raise self.fail(
                f"[{section}.{key_name(name)}] the workload has no hyperparameter {name!r} "
                f"({_suggest(name, self.known)}known: {', '.join(sorted(self.known))})"
            )
        other = self.sections.setdefault(name, section)
        if other.split(".")[0] != role:
            raise self.fail(f"{name!r} appears in both [{other}] and [{section}]")

    def fixed(self, table: Mapping[str, Any]) -> dict[str, Any]:
        fixed: dict[str, Any] = {}
        for name, value in table.items():
            self.claim(name, "fixed")
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, (str, bool, int, float)) for item in items):
                raise self.fail(
                    f"[fixed] {key_name(name)} must be a string, number, boolean or array of them, "
                    f"got {describe(value)}"
                )
            if not _finite(value):
                raise self.fail(f"[fixed] {key_name(name)} must be finite, got {show(value)}")
            fixed[name] = tuple(value) if isinstance(value, list) else value
        return fixed

    def scientific(self, table: Mapping[str, Any]) -> dict[str, tuple[Scalar, ...]]:
        scientific: dict[str, tuple[Scalar, ...]] = {}
        for name, values in table.items():
            self.claim(name, "scientific")
            where = f"[scientific.{key_name(name)}]"
            if not isinstance(values, list):
                raise self.fail(
                    f"{where} must be an array of the values to compare, got {describe(values)}"
                )
            try:
                Categorical(tuple(values))
            except SpaceError as exc:
                raise self.fail(f"{where} {exc.detail}") from None
            kinds = {"number" if is_number(v) else type(v).__name__ for v in values}
            if len(kinds) > 1:
                raise self.fail(f"{where} mixes kinds of values: {', '.join(map(show, values))}")
            scientific[name] = tuple(values)
        return scientific

    def dims(self, table: Mapping[str, Any], section: str) -> SearchSpace:
        dims = []
        for name, dim_table in table.items():
            if name == WHEN and section == "nuisance":
                continue
            self.claim(name, section)
            try:
                dims.append((name, dimension_from_dict(dim_table)))
            except SpaceError as exc:
                raise self.fail(f"[{section}.{key_name(name)}] {exc.detail}") from None
        return SearchSpace(dims)

    def conditional(
        self, when: Any, scientific: Mapping[str, tuple[Scalar, ...]]
    ) -> tuple[ConditionalSpace, ...]:
        where = f"nuisance.{WHEN}"
        if not isinstance(when, Mapping):
            raise self.fail(
                f"[{where}] must be a table such as [nuisance.when.optimizer.nesterov], "
                f"got {describe(when)}"
            )
        conditions: list[ConditionalSpace] = []
        owner: dict[str, str] = {}  # conditional dimension -> the scientific name it hangs on
        for sci_name, by_value in when.items():
            if sci_name not in scientific:
                listed = ", ".join(map(key_name, scientific)) or "none"
                raise self.fail(
                    f"[{where}.{key_name(sci_name)}] {sci_name!r} is not a scientific "
                    f"hyperparameter (scientific: {listed})"
                )
            if not isinstance(by_value, Mapping):
                raise self.fail(
                    f"[{where}.{key_name(sci_name)}] must be a table of values, "
                    f"got {describe(by_value)}"
                )
            matched: dict[int, str] = {}
            for key, table in by_value.items():
                section = f"{where}.{key_path(sci_name, key)}"
                index = _match_value_key(key, scientific[sci_name])
                if index is None:
                    values = ", ".join(map(show, scientific[sci_name]))
                    raise self.fail(
                        f"[{section}] {key!r} is not one of the values of "
                        f"[scientific.{key_name(sci_name)}] ({values})"
                    )
                if index in matched:
                    raise self.fail(f"[{section}] names the same value as [{matched[index]}]")
                matched[index] = section
                if not isinstance(table, Mapping):
                    raise self.fail(f"[{section}] must be a table of dimensions")
                for name in table:
                    if owner.get(name, sci_name) != sci_name:
                        raise self.fail(
                            f"[{section}.{key_name(name)}] {name!r} already depends on "
                            f"[scientific.{key_name(owner[name])}]; a nuisance hyperparameter "
                            "can depend on one scientific hyperparameter only"
                        )
                    owner[name] = sci_name
                space = self.dims(table, section)
                conditions.append(ConditionalSpace(sci_name, scientific[sci_name][index], space))
        return tuple(conditions)

    def search(self, table: Mapping[str, Any]) -> SearchSettings:
        self.check_keys(table, SEARCH_KEYS, "search")
        algorithm = self.string(table, "algorithm", "search", default="quasi-random")
        if algorithm not in ALGORITHMS:
            raise self.fail(
                f"[search] algorithm {algorithm!r} is unknown "
                f"({_suggest(algorithm, ALGORITHMS)}expected one of: {', '.join(ALGORITHMS)})"
            )
        listed = algorithm == LISTED
        layout = self.string(
            table, "layout", "search", default="combined" if listed else "per-value"
        )
        if layout not in LAYOUTS:
            raise self.fail(
                f"[search] layout {layout!r} is unknown (expected one of: {', '.join(LAYOUTS)})"
            )
        trials = self.count(table, "trials", "search", minimum=1, maximum=MAX_TRIALS)
        listed_points = self.listed_points(table, algorithm, layout, trials)
        if listed_points:
            trials = len(listed_points)
        if trials is None and algorithm != "grid":
            raise self.fail("[search] trials is missing (the number of trials per study)")
        seed = self.count(table, "seed", "search", minimum=0, maximum=MAX_SEED)
        startup = self.count(table, "startup_trials", "search", minimum=1, maximum=MAX_TRIALS)
        if startup is not None and algorithm != "bayesian":
            raise self.fail('[search] startup_trials applies only to algorithm = "bayesian"')
        points = table.get("grid_points")
        if points is not None:
            if algorithm != "grid":
                raise self.fail('[search] grid_points applies only to algorithm = "grid"')
            counts = points.values() if isinstance(points, Mapping) else [points]
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 2 for c in counts):
                raise self.fail(
                    "[search] grid_points must be an integer of at least 2 or a table of them, "
                    f"got {describe(points)}"
                )
            if max(counts, default=0) > MAX_TRIALS:
                raise self.fail(
                    f"[search] grid_points must be at most {MAX_TRIALS:,} (the most trials a "
                    f"study may have), got {max(counts):,}"
                )
            points = dict(points) if isinstance(points, Mapping) else points
        if layout == "combined" and algorithm not in (*COMBINED_ALGORITHMS, LISTED):
            raise self.fail(
                f'[search] layout "combined" samples scientific values uniformly alongside the '
                f"nuisance ones, which needs quasi-random or random search, not {algorithm!r} "
                "(PB-9)"
            )
        return SearchSettings(
            algorithm,
            trials,
            layout,
            0 if seed is None else seed,
            points,
            DEFAULT_STARTUP_TRIALS if startup is None else startup,
            listed_points,
        )

    def listed_points(
        self, table: Mapping[str, Any], algorithm: str, layout: str, trials: int | None
    ) -> tuple[dict[str, Scalar], ...]:
        """The `points` of a listed search, checked for shape here and against the
        hyperparameters in `check_points`; () for any other algorithm."""
        points = table.get("points")
        if algorithm != LISTED:
            if points is not None:
                raise self.fail('[search] points applies only to algorithm = "listed"')
            return ()
        if points is None:
            raise self.fail(
                '[search] points is missing: algorithm = "listed" runs the configurations '
                "it lists, e.g. points = [{ depth = 2, learning_rate = 0.003 }]"
            )
        if not isinstance(points, list) or not points:
            raise self.fail(
                f"[search] points must be a non-empty array of tables, got {describe(points)}"
            )
        if len(points) > MAX_TRIALS:
            raise self.fail(
                f"[search] points lists {len(points):,} configurations, more than the "
                f"{MAX_TRIALS:,} trials a study may have"
            )
        if layout != "combined":
            raise self.fail(
                f'[search] layout must be "combined" for algorithm = "listed" (each point '
                f'carries its scientific values), got "{layout}"'
            )
        if trials is not None and trials != len(points):
            raise self.fail(
                f"[search] trials ({trials}) differs from the number of listed points "
                f"({len(points)}); "
                'leave trials out for algorithm = "listed"'
            )
        for i, point in enumerate(points):
            if not isinstance(point, Mapping):
                raise self.fail(
                    f"[search] points[{i}] must be a table such as "
                    f"{{ learning_rate = 0.003 }}, got {describe(point)}"
                )
        return tuple(dict(point) for point in points)

    def check_points(self, design: ExperimentDesign) -> None:
        """Each listed point names exactly the scientific and nuisance hyperparameters, with
        a value inside each one's declared values or range, and no point repeats another."""
        if design.conditional:
            raise self.fail(
                '[nuisance.when] does not apply to algorithm = "listed": each listed point '
                "gives its nuisance values itself"
            )
        names = [*design.scientific, *design.nuisance.names]
        for i, point in enumerate(design.search.points):
            where = f"[search] points[{i}]"
            missing = [name for name in names if name not in point]
            if missing:
                raise self.fail(f"{where} has no value for {', '.join(map(key_name, missing))}")
            extra = [name for name in point if name not in names]
            if extra:
                listed = ", ".join(map(key_name, names)) or "none"
                raise self.fail(
                    f"{where} names {show(extra[0])}, which is neither scientific nor "
                    f"nuisance (expected: {listed})"
                )
            for name, values in design.scientific.items():
                if not any(same_value(point[name], value) for value in values):
                    raise self.fail(
                        f"{where} {key_name(name)} = {show(point[name])} is not one of the "
                        f"values of [scientific.{key_name(name)}] ({', '.join(map(show, values))})"
                    )
            for name, dim in design.nuisance.items():
                if not dim.contains(point[name]):
                    raise self.fail(
                        f"{where} {key_name(name)} = {show(point[name])} is outside "
                        f"[nuisance.{key_name(name)}] ({_dim_text(dim.to_dict())})"
                    )
            for j, other in enumerate(design.search.points[:i]):
                if all(same_value(point[name], other[name]) for name in names):
                    raise self.fail(f"{where} repeats points[{j}]")

    def objective(self, data: Mapping[str, Any]) -> Objective | None:
        if "objective" not in data:
            return None
        table = self.table(data, "objective")
        self.check_keys(table, OBJECTIVE_KEYS, "objective")
        metric = self.string(table, "metric", "objective")
        mode = table.get("mode", "min")
        if mode not in MODES:
            raise self.fail(f'[objective] mode must be "min" or "max", got {describe(mode)}')
        return Objective(metric, mode)

    def check_grid(self, design: ExperimentDesign) -> None:
        sampler = GridSampler(design.search.grid_points)
        for point in design.scientific_points():
            space = design.nuisance_space(point)
            label = ", ".join(f"{k} = {show(v)}" for k, v in point.items())
            study = f" for {label}" if label else ""
            if len(space) > MAX_GRID_DIMS:
                raise self.fail(
                    f"[search] grid search covers at most {MAX_GRID_DIMS} nuisance "
                    f"hyperparameters, got {len(space)}{study} ({', '.join(space.names)}); "
                    "quasi-random search samples every dimension evenly with the same budget "
                    "(PB-29)"
                )
            try:
                size = sampler.budget(space)
            except BadInput as exc:
                raise self.fail(f"[search] {exc}") from None
            if size > MAX_TRIALS:
                raise self.fail(
                    f"[search] the grid has {size:,} points{study}, more than the {MAX_TRIALS:,} "
                    "trials a study may have; lower grid_points"
                )
            if design.search.trials is not None and design.search.trials != size:
                raise self.fail(
                    f"[search] trials ({design.search.trials}) differs from the grid size "
                    f"({size}){study}; leave trials out for grid search"
                )

    def parse(self, data: Any) -> ExperimentDesign:
        if not isinstance(data, Mapping):
            raise self.fail(f"a spec must be a table of keys, got {describe(data)}")
        self.check_keys(data, TOP_KEYS, "")
        name = self.string(data, "name", "")
        goal = self.string(data, "goal", "")
        steps = self.count(data, "max_train_steps", "", minimum=1, maximum=MAX_TRAIN_STEPS)
        eval_every = self.count(data, "eval_every", "", minimum=1, maximum=MAX_TRAIN_STEPS)
        checkpoint_every = self.count(
            data, "checkpoint_every", "", minimum=1, maximum=MAX_TRAIN_STEPS
        )
        for key, every in (("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
            if steps is not None and every is not None and every > steps:
                raise self.fail(f"{key} ({every}) exceeds max_train_steps ({steps})")
        fixed = self.fixed(self.table(data, "fixed"))
        scientific = self.scientific(self.table(data, "scientific"))
        combinations = math.prod(len(values) for values in scientific.values())
        if combinations > MAX_STUDIES:
            raise self.fail(
                f"[scientific] {' × '.join(str(len(v)) for v in scientific.values())} = "
                f"{combinations:,} combinations of values exceed the {MAX_STUDIES:,} studies an "
                "experiment may have"
            )
        nuisance_table = self.table(data, "nuisance")
        nuisance = self.dims(nuisance_table, "nuisance")
        conditional = (
            self.conditional(nuisance_table[WHEN], scientific) if WHEN in nuisance_table else ()
        )
        search = self.search(self.table(data, "search"))
        design = ExperimentDesign(
            name=name,
            goal=goal,
            max_train_steps=steps,
            fixed=MappingProxyType(fixed),
            scientific=MappingProxyType(scientific),
            nuisance=nuisance,
            conditional=conditional,
            search=search,
            objective=self.objective(data),
            eval_every=eval_every,
            checkpoint_every=checkpoint_every,
        )
        if search.algorithm == "grid":
            self.check_grid(design)
        if search.algorithm == LISTED:
            self.check_points(design)
        return design


def _dim_text(table: Mapping[str, Any]) -> str:
    """A dimension's table as a spec shows it, e.g. ``low = 0.0001, high = 0.1``."""
    return ", ".join(f"{k} = {show(v)}" for k, v in table.items() if k != "type")


def design_from_dict(
    data: Any, source: str = "<spec>", known_hparams: Collection[str] | None = None
) -> ExperimentDesign:
    """Validate a spec already read into a dict (e.g. from the TUI's designer).

    `known_hparams`, when given, is every hyperparameter name the caller accepts (the
    workload's plus the training loop's, e.g. `tunebook.core.design.roles.TRAINING_HPARAMS`);
    other names are refused.
    """
    return _Parser(source, known_hparams).parse(data)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def parse_spec(
    text: str, source: str = "<spec>", known_hparams: Collection[str] | None = None
) -> ExperimentDesign:
    """Parse TOML 1.0 spec text; `source` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise SpecError(source, "invalid TOML: arrays or tables are nested too deeply") from None
    except ValueError as exc:
        if not isinstance(exc, tomllib.TOMLDecodeError):  # Python's limit on integer digits
            raise SpecError(source, "invalid TOML: an integer has too many digits") from None
        message = str(exc)
        match = _TOML_POSITION.search(message)
        if match:
            where = f"line {match.group(1)}, column {match.group(2)}"
            message = message[: match.start()]
        else:
            where = "the end of the file"
            message = message.replace(" (at end of document)", "")
        raise SpecError(
            source, f"invalid TOML at {where}: {message[:1].lower()}{message[1:]}"
        ) from None
    return design_from_dict(data, source, known_hparams)


def load_spec(path: str | Path, known_hparams: Collection[str] | None = None) -> ExperimentDesign:
    """Read and validate a spec file; errors name the file as given."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(source, f"cannot read the spec ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(source, f"not UTF-8 text (byte {exc.start})") from None
    return parse_spec(text, source, known_hparams)
