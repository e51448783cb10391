"""The experiment designer's draft: an experiment being designed, as plain data (PB-5 … PB-10).

A `Draft` holds the goal and name, every hyperparameter of the pipeline (the workload's
architecture, the optimizer's, the training loop's) with its role, its fixed value, its
scientific values or its nuisance range, the search settings and the step budget
(`max_train_steps`: from the decision, never nuisance, PB-19). `draft_from_session`
pre-fills roles by the playbook's rules of thumb (`propose_roles`, PB-8; Adam's nuisance
set by budget, PB-28); `draft_from_experiment` copies a stored design ("new experiment
from this one"). `to_spec` gives the dict `experiment add` validates, `check` lists what
it would refuse (its messages, with the key path), `estimate` and `preview` what the
design costs and samples. Nothing here imports torch at module import; functions taking a
workload are called from worker threads.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunebook.core.design.layouts import Coverage, StudyPlan, coverage, plan_studies
from tunebook.core.design.roles import (
    ADAM_FAMILY,
    ADAM_ORDER,
    Role,
    adam_nuisance_set,
    explain_role,
    propose_roles,
)
from tunebook.core.design.spec import (
    WHEN,
    ExperimentDesign,
    SpecError,
    design_from_dict,
    key_path,
    value_key,
)
from tunebook.core.design.spec_toml import toml_value
from tunebook.core.search import Float, Int, make_sampler
from tunebook.core.search.space import Discrete, is_number
from tunebook.sessions import BadInput, DecisionKind, Experiment, Session
from tunebook.sessions.text import plural

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from tunebook.core.project_start.cost import CostEstimate
    from tunebook.core.workloads import Workload

#: Trials per study a new draft starts with (PB-28: enough to tune Adam's learning rate
#: and β1).
DEFAULT_TRIALS = 20
#: What `check` names as the spec's source (the designer has no file until it saves).
SOURCE = "<designer>"
#: Points the preview draws from the first study.
PREVIEW_POINTS = 32
#: The order roles cycle in the designer.
ROLE_CYCLE = (Role.SCIENTIFIC, Role.NUISANCE, Role.FIXED)

#: Nuisance ranges a draft starts with for the usual optimizer, schedule and
#: regularization hyperparameters (the learning rate's is centred on its decided value).
DEFAULT_RANGES: dict[str, dict[str, Any]] = {
    "one_minus_beta1": {"low": 0.01, "high": 0.5, "scale": "log"},
    "beta2": {"low": 0.9, "high": 0.9999},
    "epsilon": {"low": 1e-10, "high": 1e-4, "scale": "log"},
    "momentum": {"low": 0.8, "high": 0.99},
    "rho": {"low": 0.9, "high": 0.999},
    "momentum_decay": {"low": 1e-3, "high": 1e-2, "scale": "log"},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "scale": "log"},
    "label_smoothing": {"low": 0.0, "high": 0.2},
    "dropout": {"low": 0.0, "high": 0.5},
    "grad_clip": {"low": 0.1, "high": 10.0, "scale": "log"},
}


@dataclass
class DraftHParam:
    """One hyperparameter of the pipeline as the designer edits it.

    Only the field of its role is written to the spec: `value` under [fixed] (None leaves
    it out: trials use `default`), `values` under [scientific], `space` (a dimension table:
    ``{low, high, scale}`` or ``{values}``) under [nuisance].
    """

    name: str
    #: architecture, optimizer or training.
    group: str
    #: int, float, categorical or bool; "" when unknown (a name only a stored design has).
    kind: str
    #: What a trial trains with when the spec leaves the name out.
    default: Any
    choices: tuple[Any, ...] = ()
    help: str = ""
    role: Role = Role.FIXED
    value: Any = None
    values: list[Any] = field(default_factory=list)
    space: dict[str, Any] = field(default_factory=dict)
    #: Why the role was proposed (PB-8, PB-28, PB-2), for the designer's help line.
    reason: str = ""

    @property
    def key(self) -> str:
        """The key path of the row in the spec, e.g. ``nuisance.learning_rate``."""
        return f"{self.role.value}.{self.name}"


@dataclass
class Draft:
    """An experiment being designed; `to_spec` turns it into the TOML spec's dict."""

    name: str = ""
    goal: str = ""
    max_train_steps: int | None = None
    hparams: list[DraftHParam] = field(default_factory=list)
    #: [search]: algorithm, trials, layout, seed (grid_points, startup_trials when set).
    search: dict[str, Any] = field(default_factory=dict)
    #: [nuisance.when.NAME.VALUE] tables, as in the spec (PB-8).
    conditional: dict[str, Any] = field(default_factory=dict)
    objective: dict[str, Any] | None = None
    #: eval_every and checkpoint_every, when set.
    settings: dict[str, Any] = field(default_factory=dict)
    #: The session's optimizer, for the advice when the design fixes none.
    optimizer: str | None = None

    def row(self, name: str) -> DraftHParam:
        """The row of hyperparameter `name` (KeyError when the pipeline has none)."""
        for row in self.hparams:
            if row.name == name:
                return row
        raise KeyError(name)


# -- building a draft -------------------------------------------------------------------------


def _nice(value: float) -> float:
    """A bound rounded to three significant digits (0.1 × 0.001 is 0.0001, not 0.00010…2)."""
    return float(f"{value:.3g}")


def default_space(row: DraftHParam, max_train_steps: int | None) -> dict[str, Any]:
    """The nuisance range a hyperparameter starts with when made nuisance."""
    if row.name in DEFAULT_RANGES:
        return dict(DEFAULT_RANGES[row.name])
    if row.name == "warmup_steps":
        return {"type": "int", "low": 0, "high": max(1, (max_train_steps or 1000) // 10)}
    value = row.value if row.value is not None else row.default
    if row.kind == "categorical":
        return {"values": list(row.choices)}
    if row.kind == "bool":
        return {"values": [False, True]}
    if row.kind == "int" and is_number(value):
        if value > 0:
            return {"type": "int", "low": max(1, int(value) // 2), "high": int(value) * 2}
        return {"type": "int", "low": 0, "high": 10}
    if is_number(value) and value > 0:
        return {"low": _nice(value / 10), "high": _nice(value * 10), "scale": "log"}
    return {"low": 0.0, "high": 1.0}


def default_values(row: DraftHParam) -> list[Any]:
    """The scientific values a hyperparameter starts with when made scientific."""
    value = row.value if row.value is not None else row.default
    if row.kind == "categorical":
        return list(row.choices)
    if row.kind == "bool":
        return [False, True]
    if row.kind == "int" and is_number(value):
        return [int(value), int(value) * 2] if value > 0 else [0, 1]
    if is_number(value):
        return [value, _nice(value * 10)] if value > 0 else [0.0, 0.1]
    return [] if value is None else [value]


def set_role(row: DraftHParam, role: Role, max_train_steps: int | None) -> None:
    """Give `row` its new role, starting the role's field from a default when it is empty."""
    row.role = role
    if role is Role.SCIENTIFIC and not row.values:
        row.values = default_values(row)
    elif role is Role.NUISANCE and not row.space:
        row.space = default_space(row, max_train_steps)
    elif role is Role.FIXED and row.value is None:
        row.value = row.default


def cycle_role(row: DraftHParam, max_train_steps: int | None) -> Role:
    """scientific → nuisance → fixed → scientific; the new role."""
    role = ROLE_CYCLE[(ROLE_CYCLE.index(row.role) + 1) % len(ROLE_CYCLE)]
    set_role(row, role, max_train_steps)
    return role


def _pipeline(workload: Workload, project: Any) -> list[DraftHParam]:
    """Every hyperparameter a trial of this session trains with, at the decided values."""
    from tunebook.core.execution.trial_config import BATCH_SIZE
    from tunebook.core.training import OPTIMIZERS, SCHEDULE_HPARAMS

    rows = [
        DraftHParam(h.name, "architecture", h.kind, value, tuple(h.choices or ()), h.help)
        for h in workload.hparams
        for value in [project.architecture.get(h.name, h.default)]
    ]
    rows.append(
        DraftHParam(
            "optimizer",
            "optimizer",
            "categorical",
            project.optimizer,
            tuple(OPTIMIZERS),
            "the optimizer (PB-2)",
        )
    )
    for h in OPTIMIZERS[project.optimizer].hparams:
        value = project.optimizer_hparams.get(h.name, h.default)
        rows.append(DraftHParam(h.name, "optimizer", h.kind, value, (), h.help))
    rows.append(
        DraftHParam("batch_size", "training", "int", project.batch_size, (), BATCH_SIZE.help)
    )
    for h in SCHEDULE_HPARAMS:
        value = project.warmup_steps if h.name == "warmup_steps" else h.default
        rows.append(DraftHParam(h.name, "training", h.kind, value, tuple(h.choices or ()), h.help))
    rows.append(
        DraftHParam(
            "grad_clip",
            "training",
            "float",
            project.grad_clip,
            (),
            "clip the gradient norm to this value (left out: no clipping)",
        )
    )
    return rows


def draft_from_session(session: Session, workload: Workload, trials: int = DEFAULT_TRIALS) -> Draft:
    """A new experiment over the session's decisions, every role pre-filled (PB-8, PB-28).

    Fixed values are the decided ones; optimizer hyperparameters the optimizer decision
    froze for now stay fixed (PB-2), and of Adam's only those `trials` support (PB-28).
    """
    from tunebook.core.project_start.project import project_of

    project = project_of(session, workload)
    rows = _pipeline(workload, project)
    roles = propose_roles(row.name for row in rows)
    decision = session.decision(DecisionKind.OPTIMIZER)
    frozen = set(decision.value.get("frozen", ())) if decision is not None else set()
    adam = project.optimizer in ADAM_FAMILY
    supported = set(adam_nuisance_set(trials))
    adam_names = {name for names in ADAM_ORDER for name in names}
    steps = project.max_train_steps
    for row in rows:
        row.value = row.default
        role, row.reason = roles[row.name], explain_role(row.name)
        if role is Role.NUISANCE and row.name in frozen:
            role = Role.FIXED
            row.reason = f"{row.name}: fixed — frozen for now by the optimizer decision (PB-2)"
        elif role is Role.NUISANCE and adam and row.name in adam_names - supported:
            role = Role.FIXED
            row.reason = (
                f"{row.name}: fixed — {plural(trials, 'trial')} per study support tuning "
                f"Adam's {', '.join(adam_nuisance_set(trials))} only (PB-28)"
            )
        elif role is Role.NUISANCE and row.default is None:
            role = Role.FIXED
            row.reason = (
                f"{row.name}: fixed — not used so far (a range would use it in every trial)"
            )
        set_role(row, role, steps)
    return Draft(
        max_train_steps=steps,
        hparams=rows,
        search={"algorithm": "quasi-random", "trials": trials, "layout": "per-value", "seed": 0},
        optimizer=project.optimizer,
    )


def draft_from_experiment(experiment: Experiment, base: Draft | None = None) -> Draft:
    """ "New experiment from this one": the stored design copied, the goal and name cleared.

    The design's hyperparameters come first, in its order (so the studies come out in the
    same order); the rest of `base`'s pipeline follows, fixed and left out of the spec. A
    listed search (PB-20's longer round) becomes a quasi-random search over the same space
    with as many trials, and each row's reason says so: the designer cannot edit points.
    """
    design = experiment.design
    known = {row.name: row for row in (base.hparams if base is not None else ())}
    rows: list[DraftHParam] = []
    search = dict(design.get("search", {}))
    note = ""
    if search.get("algorithm") == "listed":
        search = {k: v for k, v in search.items() if k != "points"}
        search["algorithm"] = "quasi-random"
        note = "; its listed points became a quasi-random search over the same space"

    def row_for(name: str, role: Role) -> DraftHParam:
        like = known.get(name)
        row = DraftHParam(
            name,
            like.group if like else "",
            like.kind if like else "",
            like.default if like else None,
            like.choices if like else (),
            like.help if like else "",
            role,
            reason=f"{name}: {role.value} — as in experiment {experiment.name!r}{note}",
        )
        rows.append(row)
        return row

    for name, value in design.get("fixed", {}).items():
        row_for(name, Role.FIXED).value = value
    for name, values in design.get("scientific", {}).items():
        row_for(name, Role.SCIENTIFIC).values = list(values)
    nuisance = dict(design.get("nuisance", {}))
    conditional = nuisance.pop(WHEN, {})
    for name, table in nuisance.items():
        row_for(name, Role.NUISANCE).space = dict(table)
    named = {row.name for row in rows}
    for like in known.values():
        if like.name not in named:
            rows.append(
                DraftHParam(
                    like.name,
                    like.group,
                    like.kind,
                    like.default,
                    like.choices,
                    like.help,
                    Role.FIXED,
                    reason=f"{like.name}: fixed — left out of {experiment.name!r}: trials use "
                    "the default shown",
                )
            )
    return Draft(
        max_train_steps=design.get("max_train_steps", experiment.max_train_steps),
        hparams=rows,
        search=search,
        conditional=conditional,
        objective=design.get("objective"),
        settings={k: design[k] for k in ("eval_every", "checkpoint_every") if k in design},
        optimizer=base.optimizer if base is not None else None,
    )


# -- text as typed in the designer ------------------------------------------------------------


def _scalar(text: str) -> Any:
    """A typed token as TOML reads it (a number, boolean, quoted string or array); any other
    text is the string as typed."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        return text


def format_scalar(value: Any) -> str:
    """A value as the designer shows it: strings bare when they read back as themselves."""
    if isinstance(value, str) and value and _scalar(value) == value and "," not in value:
        return value
    return toml_value(value)


def _split(text: str) -> list[str]:
    """Comma-separated tokens, commas inside quotes or brackets kept."""
    tokens, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote and (not current or current[-1] != "\\") else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            tokens.append("".join(current))
            current = []
            continue
        current.append(char)
    tokens.append("".join(current))
    return [token for token in (t.strip() for t in tokens) if token]


_RANGE = re.compile(r"^(?P<low>.*?)\s*\.\.\s*(?P<high>\S+)(?P<flags>(\s+\w+)*)\s*$")


def row_text(row: DraftHParam) -> str:
    """The highlighted row's field as typed: a value, ``a, b, c``, or ``low .. high [log]``."""
    if row.role is Role.FIXED:
        return "" if row.value is None else format_scalar(row.value)
    if row.role is Role.SCIENTIFIC:
        return ", ".join(format_scalar(v) for v in row.values)
    return space_text(row.space)


def space_text(space: Mapping[str, Any]) -> str:
    """A nuisance dimension as typed: ``low .. high [log] [int]``, ``a, b, c`` or a table."""
    if set(space) <= {"low", "high", "scale", "type"} and {"low", "high"} <= set(space):
        flags = [space["scale"]] if space.get("scale", "linear") != "linear" else []
        flags += ["int"] if space.get("type") == "int" else []
        bounds = f"{format_scalar(space['low'])} .. {format_scalar(space['high'])}"
        return " ".join([bounds, *flags])
    if set(space) <= {"values", "type"} and "values" in space and space.get("type") is None:
        return ", ".join(format_scalar(v) for v in space["values"])
    return toml_value(space)


def parse_row_text(row: DraftHParam, text: str) -> None:
    """Put typed text into the row's field for its role. Never refuses: what the text does
    not make valid, `check` reports with `experiment add`'s message."""
    text = text.strip()
    if row.role is Role.FIXED:
        row.value = None if not text else _scalar(text)
    elif row.role is Role.SCIENTIFIC:
        parsed = _scalar(text) if text.startswith("[") else None
        row.values = parsed if isinstance(parsed, list) else [_scalar(t) for t in _split(text)]
    else:
        row.space = parse_space(text)


def parse_space(text: str) -> dict[str, Any]:
    """``low .. high [log|linear] [int|float]``, ``a, b, c`` (values) or an inline table."""
    if text.startswith("{"):
        parsed = _scalar(text)
        return dict(parsed) if isinstance(parsed, Mapping) else {"values": [text]}
    match = _RANGE.match(text)
    if match is None:
        return {"values": [_scalar(t) for t in _split(text)]}
    space: dict[str, Any] = {"low": _scalar(match["low"]), "high": _scalar(match["high"])}
    for flag in (match["flags"] or "").split():
        space["type" if flag in ("int", "float") else "scale"] = flag
    return space


# -- conditional nuisance sets (PB-8) ---------------------------------------------------------


@dataclass(frozen=True)
class ConditionalDim:
    """One dimension of a ``[nuisance.when.SCIENTIFIC.VALUE]`` table: nuisance `name`,
    searched only in the studies where scientific `scientific` takes the value named
    `value` (its TOML key, as `value_key` writes it)."""

    scientific: str
    value: str
    name: str

    @property
    def key(self) -> str:
        """The key path the spec's messages name (``nuisance.when.optimizer.nesterov.momentum``)."""
        return f"nuisance.{key_path(WHEN, self.scientific, self.value, self.name)}"


def conditional_dims(draft: Draft, scientific: str | None = None) -> list[ConditionalDim]:
    """The draft's conditional dimensions in spec order (only `scientific`'s when given); a
    table that is not a table of tables (a stored design never has one) has none."""
    dims = []
    for sci, by_value in draft.conditional.items():
        if (scientific is not None and sci != scientific) or not isinstance(by_value, Mapping):
            continue
        for value, table in by_value.items():
            if isinstance(table, Mapping):
                dims.extend(ConditionalDim(sci, value, name) for name in table)
    return dims


def conditional_space(draft: Draft, dim: ConditionalDim) -> dict[str, Any]:
    """The range of a conditional dimension (KeyError when the draft has none)."""
    return draft.conditional[dim.scientific][dim.value][dim.name]


def set_conditional_text(draft: Draft, dim: ConditionalDim, text: str) -> None:
    """Put typed text into a conditional dimension's range, as `parse_row_text` does for a
    nuisance row: never refused, `check` says what is wrong."""
    draft.conditional[dim.scientific][dim.value][dim.name] = parse_space(text.strip())


def _value_named(row: DraftHParam, text: str) -> Any:
    """The scientific value of `row` that `text` names (as shown, as its TOML key, or as
    TOML reads it); BadInput listing the values when none matches."""
    text = text.strip()
    for value in row.values:
        if text in (format_scalar(value), value_key(value)) or _scalar(text) == value:
            return value
    values = ", ".join(format_scalar(v) for v in row.values)
    raise BadInput(f"{text or 'nothing'!r} is not one of {row.name}'s values ({values})")


def _declared(draft: Draft, scientific: str, value: Any, name: str) -> DraftHParam:
    """What the pipeline declares about `name` under this scientific value: the optimizer's
    own hyperparameter when the value is an optimizer (Nesterov's learning rate, not
    Adam's), else the draft's row, else a name with nothing known."""
    if scientific == "optimizer" and isinstance(value, str):
        from tunebook.core.training import OPTIMIZERS

        spec = OPTIMIZERS.get(value)
        for h in spec.hparams if spec is not None else ():
            if h.name == name:
                return DraftHParam(name, "optimizer", h.kind, h.default)
    try:
        return draft.row(name)
    except KeyError:
        return DraftHParam(name, "", "", None)


def default_conditional_space(
    draft: Draft, scientific: str, value: Any, name: str
) -> dict[str, Any]:
    """The range a new conditional dimension starts with: `DEFAULT_RANGES`' for the usual
    names, else around the hyperparameter's declared default (`default_space`)."""
    if name in DEFAULT_RANGES:
        return dict(DEFAULT_RANGES[name])
    declared = _declared(draft, scientific, value, name)
    like = DraftHParam(name, declared.group, declared.kind, declared.default, declared.choices)
    return default_space(like, draft.max_train_steps)


def add_conditional(draft: Draft, scientific: str, value_text: str, name: str) -> ConditionalDim:
    """Add nuisance `name`, searched only when scientific `scientific` takes the value
    `value_text` names (PB-8: Nesterov's momentum exists only for Nesterov), with its
    default range. BadInput when `scientific` is not scientific, the value is not one of
    its values, or the dimension exists already; the rest (an unknown name, a name in
    another role) `check` reports with `experiment add`'s words."""
    row = draft.row(scientific)
    if row.role is not Role.SCIENTIFIC:
        raise BadInput(
            f"{scientific} is not scientific: a conditional set hangs on a scientific value"
        )
    value = _value_named(row, value_text)
    name = name.strip()
    if not name:
        raise BadInput("name the nuisance hyperparameter, e.g. nesterov: momentum")
    tables = draft.conditional.setdefault(scientific, {})
    table = tables.setdefault(value_key(value), {})
    if name in table:
        raise BadInput(f"{name} is already conditional on {scientific} = {format_scalar(value)}")
    table[name] = default_conditional_space(draft, scientific, value, name)
    return ConditionalDim(scientific, value_key(value), name)


def remove_conditional(draft: Draft, dim: ConditionalDim) -> None:
    """Remove one conditional dimension, and the tables it leaves empty."""
    tables = draft.conditional[dim.scientific]
    del tables[dim.value][dim.name]
    if not tables[dim.value]:
        del tables[dim.value]
    if not tables:
        del draft.conditional[dim.scientific]


def suggest_conditional(draft: Draft, scientific: str) -> str:
    """What the designer offers to add under `scientific`, as ``VALUE: NAME``: for an
    optimizer value, its own hyperparameters the pipeline does not have yet first
    (Nesterov's momentum beside Adam), else a usual nuisance name not conditional yet."""
    row = draft.row(scientific)
    pipeline = {r.name for r in draft.hparams}
    candidates: list[tuple[Any, list[str]]] = []
    for value in row.values:
        own: list[str] = []
        if scientific == "optimizer" and isinstance(value, str):
            from tunebook.core.training import OPTIMIZERS

            spec = OPTIMIZERS.get(value)
            own = [h.name for h in spec.hparams] if spec is not None else []
        usual = [r.name for r in draft.hparams if r.role is Role.NUISANCE] + list(DEFAULT_RANGES)
        taken = set(draft.conditional.get(scientific, {}).get(value_key(value), {}))
        taken.add(scientific)
        new = [n for n in own if n not in pipeline and n not in taken]
        candidates.append((value, new + [n for n in own + usual if n not in taken]))
    for value, names in sorted(candidates, key=lambda c: not c[1] or c[1][0] in pipeline):
        if names:
            return f"{format_scalar(value)}: {names[0]}"
    return f"{format_scalar(row.values[0]) if row.values else ''}: learning_rate"


def reported_metrics(workload: Workload) -> tuple[str, ...]:
    """The validation metrics the workload reports, the objective's first: what an
    ``[objective] metric`` may name. Found as a trial finds them, by evaluating a model at
    the declared defaults on a few validation examples (`check_step`'s evaluation); a
    workload that cannot be evaluated offers its own objective only."""
    import torch

    from tunebook.core.training.loop import CHECK_EXAMPLES, evaluate
    from tunebook.core.workloads.base import split_tensors

    prefix, objective = "validation", workload.objective.metric
    try:
        validation = split_tensors(workload.splits(0).validation, CHECK_EXAMPLES)
        torch.manual_seed(0)
        model = workload.build_model({h.name: h.default for h in workload.hparams})
        values = evaluate(workload, model, validation, CHECK_EXAMPLES, prefix)
    except Exception:  # the workload's own code: any failure leaves its objective only
        return (objective,)
    names = sorted(k.removeprefix(f"{prefix}/") for k in values if k != f"{prefix}/count")
    return (objective, *(n for n in names if n != objective))


# -- the spec and its checks ------------------------------------------------------------------


def _row_entry(row: DraftHParam) -> Any:
    if row.role is Role.FIXED:
        return row.value
    if row.role is Role.SCIENTIFIC:
        return list(row.values)
    return dict(row.space)


def to_spec(draft: Draft) -> dict[str, Any]:
    """The draft as the TOML spec's dict (what `spec_to_toml` writes and `experiment add`
    reads); an empty name or goal is left out, so the check names it missing."""
    spec: dict[str, Any] = {}
    if draft.name:
        spec["name"] = draft.name
    if draft.goal:
        spec["goal"] = draft.goal
    if draft.max_train_steps is not None:
        spec["max_train_steps"] = draft.max_train_steps
    spec.update(draft.settings)
    sections: dict[str, dict[str, Any]] = {"fixed": {}, "scientific": {}, "nuisance": {}}
    conditional = {
        name: {key: dict(dims) for key, dims in by_value.items()}
        for name, by_value in draft.conditional.items()
    }
    owners = optimizer_owners(draft)
    for row in draft.hparams:
        if row.role is Role.FIXED and row.value is None:
            continue
        if row.name in owners:  # one optimizer's own: only in the studies of that optimizer
            if row.role is Role.NUISANCE:
                for owner in owners[row.name]:
                    by_value = conditional.setdefault("optimizer", {})
                    by_value.setdefault(value_key(owner), {}).setdefault(row.name, row.space)
            continue
        sections[row.role.value][row.name] = _row_entry(row)
    if conditional:
        sections["nuisance"][WHEN] = conditional
    spec.update(sections)
    spec["search"] = dict(draft.search)
    if draft.objective is not None:
        spec["objective"] = dict(draft.objective)
    return spec


def optimizer_owners(draft: Draft) -> dict[str, list[Any]]:
    """When the optimizer is scientific: each optimizer hyperparameter that not all of its
    values have (Adam's β2 when Nesterov is compared with Adam), with the optimizers that
    have it. `to_spec` puts such a nuisance hyperparameter in a conditional set per owner
    (PB-8) and leaves a fixed one out: each optimizer trains with its own default."""
    science = next(
        (r for r in draft.hparams if r.name == "optimizer" and r.role is Role.SCIENTIFIC), None
    )
    if science is None:
        return {}
    from tunebook.core.training import OPTIMIZERS

    names = {v: set(OPTIMIZERS[v].names) for v in science.values if v in OPTIMIZERS}
    owners: dict[str, list[Any]] = {}
    for row in draft.hparams:
        if row.group == "optimizer" and row.name != "optimizer":
            having = [v for v, declared in names.items() if row.name in declared]
            if len(having) < len(names):
                owners[row.name] = having
    return owners


@dataclass(frozen=True)
class Issue:
    """What `experiment add` would refuse: the key path at fault and its message."""

    key: str
    message: str


_SECTION = re.compile(r"^\[(?P<path>[^\]]+)\]( (?P<name>[^\s]+))?")
_TOP = re.compile(r"^(?P<name>\w+)")


def _message(exc: SpecError) -> str:
    return str(exc)[len(exc.source) + 2 :]


def issue_key(message: str) -> str:
    """The key path a message of the spec parser names (``nuisance.learning_rate``,
    ``fixed.batch_size``, ``search``, ``goal``); "" when it names none."""
    match = _SECTION.match(message)
    if match:
        path = match["path"]
        return f"fixed.{match['name']}" if path == "fixed" and match["name"] else path
    match = _TOP.match(message)
    return match["name"] if match else ""


def check(draft: Draft, known_hparams: Collection[str] | None) -> list[Issue]:
    """Everything `experiment add` would refuse in the draft, with its messages.

    Each hyperparameter is checked alone (so every wrong field shows its error at once),
    then the rest of the spec (name, goal, budget, search), then — when all of that
    passes — the whole spec (conflicts between sections, conditional sets, grid sizes).
    """
    issues = []
    spec = to_spec(draft)
    for row in draft.hparams:
        if row.role is Role.FIXED and row.value is None:
            continue
        alone = {
            "name": "x",
            "goal": "x",
            row.role.value: {row.name: _row_entry(row)},
            "search": {"trials": 1},
        }
        try:
            design_from_dict(alone, SOURCE, known_hparams)
        except SpecError as exc:
            issues.append(Issue(row.key, _message(exc)))
    for dim in conditional_dims(draft):
        row = next((r for r in draft.hparams if r.name == dim.scientific), None)
        scientific = (
            {dim.scientific: list(row.values)}
            if row is not None and row.role is Role.SCIENTIFIC
            else {}
        )
        table = {dim.name: conditional_space(draft, dim)}
        alone = {
            "name": "x",
            "goal": "x",
            "scientific": scientific,
            "nuisance": {WHEN: {dim.scientific: {dim.value: table}}},
            "search": {"trials": 1},
        }
        try:
            design_from_dict(alone, SOURCE, known_hparams)
        except SpecError as exc:
            message = _message(exc)
            key = dim.key if message.startswith(f"[{dim.key}]") else issue_key(message)
            issues.append(Issue(key, message))
    rest = {k: v for k, v in spec.items() if k not in ("fixed", "scientific", "nuisance")}
    try:
        design_from_dict(rest, SOURCE, known_hparams)
    except SpecError as exc:
        issues.append(Issue(issue_key(_message(exc)), _message(exc)))
    if not issues:
        try:
            design_from_dict(spec, SOURCE, known_hparams)
        except SpecError as exc:
            issues.append(Issue(issue_key(_message(exc)), _message(exc)))
    return issues


# -- what the design costs and samples --------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """How many studies and trials the design runs, and their wall time on one worker
    (None when no probe has measured a time per step)."""

    studies: int
    trials: int
    max_train_steps: int | None
    cost: CostEstimate | None

    def brief(self) -> str:
        """Studies, trials and the wall time, in a few words."""
        counts = f"{plural(self.studies, 'study')}, {plural(self.trials, 'trial')}"
        if self.cost is None:
            return f"{counts}, time unknown"
        return f"{counts}, about {duration(self.cost.wall_seconds)} on one worker"

    def text(self) -> str:
        """One line, as `experiment add` words its estimate."""
        counts = f"{plural(self.studies, 'study')}, {plural(self.trials, 'trial')}"
        if self.cost is None:
            return (
                f"{counts}; estimated time: unknown until the batch-size and "
                "initial-configuration probes are decided"
            )
        return (
            f"{counts}; estimated time: {self.cost.seconds_per_trial:.1f} s per trial "
            f"({self.max_train_steps} steps at {self.cost.seconds_per_step * 1000:.2f} ms), "
            f"about {duration(self.cost.wall_seconds)} on one worker"
        )


def duration(seconds: float) -> str:
    """Seconds under two minutes, else minutes, else hours."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def steps_of(session: Session, design: ExperimentDesign) -> int | None:
    """The design's step budget, or the session's decision when it leaves it out (PB-19)."""
    if design.max_train_steps is not None:
        return design.max_train_steps
    decision = session.decision(DecisionKind.MAX_TRAIN_STEPS)
    return None if decision is None else int(decision.value)


def estimate(
    session: Session, design: ExperimentDesign, plans: Sequence[StudyPlan] | None = None
) -> Estimate:
    """Studies and trials from `plans` (`plan_studies(design)` when not given), the wall
    time from the time per step the project-start probes measured (`estimate_cost`)."""
    from tunebook.core.project_start.cost import estimate_cost

    plans = plan_studies(design) if plans is None else plans
    trials = sum(plan.trials for plan in plans)
    steps = steps_of(session, design)
    cost = None if steps is None else estimate_cost(session, steps, trials)
    return Estimate(len(plans), trials, steps, cost)


@dataclass(frozen=True)
class Preview:
    """The first points of the first study on its two widest nuisance dimensions (PB-9),
    and for a combined layout how evenly the scientific values are covered."""

    study: str
    names: tuple[str, ...]
    points: tuple[tuple[float, ...], ...]
    log: tuple[bool, ...]
    coverage: Mapping[str, Coverage] = field(default_factory=dict)


def _width(dim: Any) -> float | None:
    """How wide a numeric dimension is, in decades (a linear range from zero counts as one);
    None for one that is not numeric."""
    if isinstance(dim, (Float, Int)):
        low, high = sorted((abs(dim.low), abs(dim.high)))
        return math.log10(high / low) if low > 0 else 1.0
    if isinstance(dim, Discrete) and all(is_number(v) for v in dim.values):
        return 0.0
    return None


def preview(design: ExperimentDesign, plans: Sequence[StudyPlan]) -> Preview:
    """Sample the first study's first `PREVIEW_POINTS` points (a bayesian study's are its
    quasi-random start-up) and keep its two widest nuisance dimensions."""
    plan = plans[0]
    widths = {
        name: width
        for name, dim in plan.space.items()
        if name not in plan.sampled_scientific and (width := _width(dim)) is not None
    }
    names = tuple(sorted(widths, key=lambda n: -widths[n])[:2])
    count = min(PREVIEW_POINTS, plan.trials)
    algorithm = plan.algorithm
    if algorithm == "bayesian":
        algorithm, count = "quasi-random", min(count, plan.startup_trials)
    sampler = make_sampler(algorithm, grid_points=plan.grid_points)
    drawn = [sampler.sample(plan.space, plan.seed, index) for index in range(count)]
    points = tuple(tuple(float(point[name]) for name in names) for point in drawn)
    log = tuple(getattr(plan.space[name], "scale", "linear") == "log" for name in names)
    covered: dict[str, Coverage] = {}
    if plan.sampled_scientific:
        trial_points = [plan.trial_hparams(index) for index in range(plan.trials)]
        covered = coverage(
            trial_points, {name: design.scientific[name] for name in plan.sampled_scientific}
        )
    return Preview(plan.name, names, points, log, covered)


def goal_examples(draft: Draft, metric: str) -> list[str]:
    """Narrow goals (PB-7) worded over this pipeline's own hyperparameters."""
    architecture = [row for row in draft.hparams if row.group == "architecture"]
    examples = []
    choice = next((row for row in architecture if row.kind == "categorical"), None)
    if choice is not None:
        options = " or ".join(map(str, choice.choices[:2]))
        examples.append(f"Which {choice.name}, {options}, gives the lower {metric}?")
    size = next((row for row in architecture if row.kind == "int"), None)
    if size is not None:
        examples.append(f"Does a larger {size.name} lower {metric}?")
    examples.append(f"Does a cosine schedule lower {metric} than a constant one?")
    return examples
