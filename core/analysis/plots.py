"""The review's plots of finished studies, as plain data (no drawing, no torch).

* `axis_plots` (PB-16): every trial's objective against each hyperparameter the study
  searched, on the range's own scale; diverged trials are flagged (drawn as ✗), so a bad
  search-space boundary shows as good trials or ✗ crowding one end.
* `isolation_plots` (PB-15): for each scientific hyperparameter, the best trial per
  scientific value over the nuisance ones. A per-value layout has one study per value; a
  combined layout samples the scientific value, so a continuous one is cut into `buckets`
  equal buckets of its range on the range's own scale (log ranges in equal decades) and a
  categorical one is grouped by value. The baseline is the latest launch's objective.
* `top_curves` (PB-12): the training loss and validation objective of the best trials.
* `grad_norms` (PB-31): one trial's unclipped gradient norm, its 90th percentile and
  histogram.

Reading stays quick at thousands of trials: the study's trials come loaded in its
`StudyView`, the axis and isolation plots need no series at all, and `top_curves` reads one
query per curve it returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tunebook.core.analysis.study import StudyView
from tunebook.core.search.space import Categorical, Discrete, Float, Int, is_number, same_value
from tunebook.core.trial_detail import GRAD_NORM, TRAIN_LOSS, HistogramBins, grad_summary, histogram
from tunebook.sessions import BadInput, Session, Trial

#: Buckets a continuous scientific hyperparameter's range is cut into (combined layout).
ISOLATION_BUCKETS = 8
#: Trials whose curves `top_curves` returns by default.
TOP_CURVES = 5


@dataclass(frozen=True)
class AxisPoint:
    """One trial on an axis plot: its value and objective (None when it diverged)."""

    trial_id: int
    x: Any
    y: float | None
    infeasible: bool


@dataclass(frozen=True)
class AxisPlot:
    """The objective against one searched hyperparameter (PB-16). `scale` is `linear`,
    `log` or `categorical`; `low`/`high` are the searched range (None when categorical),
    `categories` the searched values (None for a range)."""

    name: str
    scale: str
    low: float | None
    high: float | None
    categories: tuple[Any, ...] | None
    points: tuple[AxisPoint, ...]


@dataclass(frozen=True)
class IsolationPoint:
    """The best trial for one scientific value or bucket of values (PB-15). `x` is the
    value (a bucket's middle on the range's scale; None when categorical); `best` and
    `trial_id` are None when no trial there finished feasibly; `trials` counts the
    finished trials there."""

    label: str
    x: float | None
    best: float | None
    trial_id: int | None
    trials: int


@dataclass(frozen=True)
class IsolationPlot:
    """The best objective per value of one scientific hyperparameter, and the launched
    baseline's objective to compare with (None without a launch)."""

    name: str
    points: tuple[IsolationPoint, ...]
    baseline: float | None
    mode: str


@dataclass(frozen=True)
class TrialCurves:
    """One trial's training loss and validation objective curves (NaN kept)."""

    trial_id: int
    train_steps: tuple[int, ...]
    train_loss: tuple[float, ...]
    val_steps: tuple[int, ...]
    val_values: tuple[float, ...]


@dataclass(frozen=True)
class GradNorms:
    """One trial's unclipped gradient norm per step, its 90th percentile (PB-31: the
    suggested clipping threshold; None without finite values) and its histogram."""

    trial_id: int
    steps: tuple[int, ...]
    norms: tuple[float, ...]
    p90: float | None
    histogram: HistogramBins


# -- axis plots (PB-16) ------------------------------------------------------------------------


def axis_plots(view: StudyView) -> tuple[AxisPlot, ...]:
    """One plot per hyperparameter the study searched: each feasible or diverged trial's
    value and objective (the best over training, PB-12)."""
    variants = _variants(view)
    feasible = {t.id for t in view.feasible}
    shown = sorted((*view.feasible, *view.infeasible), key=lambda t: t.id)
    plots = []
    for name, dim in view.space.dims.items():
        if isinstance(dim, (Categorical, Discrete)):
            if len(dim.values) < 2:
                continue
            scale, low, high, categories = "categorical", None, None, tuple(dim.values)
        else:
            scale, low, high, categories = dim.scale, float(dim.low), float(dim.high), None
        hparam = variants.get(name, (name, None))[0]
        points = []
        for trial in shown:
            x = view.value_of(trial, hparam)
            if x is None or not _applies(view, trial, name, variants):
                continue
            good = trial.id in feasible
            points.append(AxisPoint(trial.id, x, trial.best_value if good else None, not good))
        plots.append(AxisPlot(name, scale, low, high, categories, tuple(points)))
    return tuple(plots)


def _variants(view: StudyView) -> dict[str, tuple[str, tuple[str, Any] | None]]:
    """A combined study's coordinates: the hyperparameter each feeds and its condition."""
    return {
        coordinate: (hparam, None if when is None else (when[0], when[1]))
        for coordinate, hparam, when in view.study.search_space.get("variants", ())
    }


def _applies(
    view: StudyView,
    trial: Trial,
    coordinate: str,
    variants: dict[str, tuple[str, tuple[str, Any] | None]],
) -> bool:
    """Whether `coordinate` fed the trial's hyperparameter: a conditional one for its
    scientific value only, an unconditional one unless a conditional one took over."""
    hparam, when = variants.get(coordinate, (coordinate, None))
    if when is not None:
        return same_value(view.value_of(trial, when[0]), when[1])
    return not any(
        other == hparam and cond is not None and same_value(view.value_of(trial, cond[0]), cond[1])
        for other, cond in variants.values()
    )


# -- isolation plots (PB-15) -------------------------------------------------------------------


def isolation_plots(
    session: Session, views: Sequence[StudyView], buckets: int = ISOLATION_BUCKETS
) -> tuple[IsolationPlot, ...]:
    """Per scientific hyperparameter of the experiment whose studies are `views`, the best
    trial per scientific value (or bucket of values) over the nuisance hyperparameters."""
    if buckets < 1:
        raise BadInput(f"isolation plots need at least one bucket, got {buckets}")
    if not views:
        return ()
    mode = views[0].mode
    baseline = _baseline(session, views[0])
    plots = []
    for name in _scientific_names(views):
        sampled = [v for v in views if name in v.sampled_scientific]
        if sampled:
            points = _sampled_points(sampled, name, buckets)
        else:
            points = _per_value_points([v for v in views if name in v.scientific], name)
        plots.append(IsolationPlot(name, points, baseline, mode))
    return tuple(plots)


def _scientific_names(views: Sequence[StudyView]) -> list[str]:
    """The scientific names in the design's order, then any only the studies name."""
    design = views[0].experiment.design.get("scientific")
    names = [str(n) for n in design] if isinstance(design, dict) else []
    for view in views:
        for name in (*view.scientific, *view.sampled_scientific):
            if name not in names:
                names.append(name)
    return names


def _baseline(session: Session, view: StudyView) -> float | None:
    """The latest launch's objective when it measured the same metric as `view`."""
    launches = session.launches()
    if not launches or launches[-1].trial_id is None:
        return None
    trial = session.trial(launches[-1].trial_id)
    if trial.best_value is None or not math.isfinite(trial.best_value):
        return None
    same_metric = session.study(trial.study_id).objective_metric == view.metric
    return trial.best_value if same_metric else None


def _best(view: StudyView, trials: Iterable[Trial]) -> tuple[float | None, int | None, int]:
    """The best feasible objective among `trials`, its trial id, and the finished count."""
    feasible = {t.id for t in view.feasible}
    best: Trial | None = None
    count = 0
    for trial in trials:
        count += trial.status.is_finished()
        if trial.id not in feasible:
            continue
        if (
            best is None
            or view.better(trial.best_value, best.best_value)
            or (trial.best_value == best.best_value and trial.id < best.id)
        ):
            best = trial
    return (None, None, count) if best is None else (best.best_value, best.id, count)


def _per_value_points(views: Sequence[StudyView], name: str) -> tuple[IsolationPoint, ...]:
    """One point per scientific value: the best over every study holding that value."""
    design = views[0].experiment.design.get("scientific")
    order = design.get(name, []) if isinstance(design, dict) else []
    values: list[Any] = []
    for value in [*order, *(v.scientific[name] for v in views)]:
        if not any(same_value(value, seen) for seen in values):
            values.append(value)
    points = []
    for value in values:
        group = [v for v in views if same_value(v.scientific[name], value)]
        trials = [(v, t) for v in group for t in v.trials]
        points.append(_merged(group, trials, _label(value), _numeric(value)))
    return tuple(points)


def _sampled_points(
    views: Sequence[StudyView], name: str, buckets: int
) -> tuple[IsolationPoint, ...]:
    """One point per bucket of a sampled continuous value, or per categorical value."""
    dim = views[0].space.dims[name]
    trials = [(v, t) for v in views for t in v.trials]
    if isinstance(dim, (Categorical, Discrete)):
        return tuple(
            _merged(
                views,
                [(v, t) for v, t in trials if same_value(v.value_of(t, name), value)],
                _label(value),
                _numeric(value),
            )
            for value in dim.values
        )
    edges = _edges(dim, buckets)
    groups: list[list[tuple[StudyView, Trial]]] = [[] for _ in range(buckets)]
    for view, trial in trials:
        value = view.value_of(trial, name)
        if is_number(value):
            groups[_bucket(dim, float(value), buckets)].append((view, trial))
    return tuple(
        _merged(
            views,
            groups[i],
            f"{edges[i]:.3g}–{edges[i + 1]:.3g}",
            _middle(dim, edges[i], edges[i + 1]),
        )
        for i in range(buckets)
    )


def _merged(
    views: Sequence[StudyView],
    trials: Sequence[tuple[StudyView, Trial]],
    label: str,
    x: float | None,
) -> IsolationPoint:
    """The best feasible trial among `trials` (each judged by its own study's view)."""
    best_value: float | None = None
    best_id: int | None = None
    count = 0
    for view in views:
        value, trial_id, finished = _best(view, (t for v, t in trials if v is view))
        count += finished
        if value is None or trial_id is None:
            continue
        if (
            best_value is None
            or views[0].better(value, best_value)
            or (value == best_value and best_id is not None and trial_id < best_id)
        ):
            best_value, best_id = value, trial_id
    return IsolationPoint(label, x, best_value, best_id, count)


def _edges(dim: Float | Int, buckets: int) -> list[float]:
    """`buckets + 1` equally spaced edges of the range on its own scale."""
    low, high = float(dim.low), float(dim.high)
    if dim.scale == "log":
        a, b = math.log(low), math.log(high)
        return [math.exp(a + (b - a) * i / buckets) for i in range(buckets + 1)]
    return [low + (high - low) * i / buckets for i in range(buckets + 1)]


def _bucket(dim: Float | Int, value: float, buckets: int) -> int:
    """The bucket holding `value` (the top edge belongs to the last bucket)."""
    low, high = float(dim.low), float(dim.high)
    if dim.scale == "log":
        low, high, value = math.log(low), math.log(high), math.log(max(value, float(dim.low)))
    share = (value - low) / (high - low) if high > low else 0.0
    return min(max(int(share * buckets), 0), buckets - 1)


def _middle(dim: Float | Int, a: float, b: float) -> float:
    """A bucket's middle on the range's scale (geometric for a log range)."""
    return math.sqrt(a * b) if dim.scale == "log" else (a + b) / 2


def _label(value: Any) -> str:
    """A scientific value as the design writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


def _numeric(value: Any) -> float | None:
    """The value as a coordinate, None for a categorical one."""
    return float(value) if is_number(value) else None


# -- curves (PB-12, PB-31) ---------------------------------------------------------------------


def top_curves(session: Session, view: StudyView, k: int = TOP_CURVES) -> tuple[TrialCurves, ...]:
    """The training loss and validation objective curves of the `k` best feasible trials,
    best first."""
    validation = f"validation/{view.metric}"
    curves = []
    for trial in view.ranked()[: max(k, 0)]:
        series = session.trial_series(trial.id, [TRAIN_LOSS, validation])
        loss, val = series.get(TRAIN_LOSS), series.get(validation)
        curves.append(
            TrialCurves(
                trial_id=trial.id,
                train_steps=tuple(loss.steps) if loss else (),
                train_loss=tuple(loss.values) if loss else (),
                val_steps=tuple(val.steps) if val else (),
                val_values=tuple(val.values) if val else (),
            )
        )
    return tuple(curves)


def grad_norms(session: Session, trial_id: int) -> GradNorms:
    """Trial `trial_id`'s unclipped gradient norms, their 90th percentile and histogram
    (BadInput naming the id when there is no such trial)."""
    session.trial(trial_id)
    found = session.trial_series(trial_id, [GRAD_NORM]).get(GRAD_NORM)
    steps, norms = (tuple(found.steps), tuple(found.values)) if found else ((), ())
    return GradNorms(trial_id, steps, norms, grad_summary(norms, ()).p90, histogram(norms))
