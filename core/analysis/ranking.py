"""Re-ranking a finished study by another recorded metric (PB-29), reading only.

The objective chose the best trial; a person may also want to see which trial was best by
validation loss, or at the end of training rather than at its best step. `rerank` orders
the study's feasible trials (completed with a finite objective) by any validation series
or the training loss, taken:

* `best`: at each trial's best step (where its retrospective checkpoint is, PB-23);
* `final`: at its last logged step;
* `min` / `max`: the series' lowest / highest value over training.

The direction defaults to the study's for its own objective, else "max" for a name with an
accuracy-like word (`MAXIMIZED_WORDS`) and "min" for losses, errors and anything else.
Each ranking reads one or two queries whatever the number of trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunebook.core.analysis.study import StudyView
from tunebook.core.trial_detail import TRAIN_LOSS
from tunebook.sessions import BadInput, Session

#: Prefix of the series logged at each evaluation.
VALIDATION_PREFIX = "validation/"
#: Validation series that count examples rather than measure the model.
NOT_METRICS = ("validation/count",)
#: Where in training a metric's value is read (see the module docstring).
POSITIONS = ("best", "final", "min", "max")
#: Words that make a metric higher-is-better when the study does not say otherwise.
MAXIMIZED_WORDS = ("acc", "auc", "f1", "precision", "recall", "score", "top1", "top5")


@dataclass(frozen=True)
class RankedTrial:
    """One trial's place when ranked by a metric (1 is best), its value and its point."""

    rank: int
    trial_id: int
    value: float
    params: dict[str, Any]


def ranking_metrics(session: Session, view: StudyView) -> tuple[str, ...]:
    """The recorded series the study's trials can be ranked by: the objective's first, then
    the other validation series, then the training loss. Every trial of a study logs the
    same series, so the best trial's (else the first finished one's) names stand for all."""
    sample = view.ranked()[:1] or view.finished[:1]
    if not sample:
        return ()
    names = session.series_names(sample[0].id)
    objective = f"{VALIDATION_PREFIX}{view.metric}"
    validation = [n for n in names if n.startswith(VALIDATION_PREFIX) and n not in NOT_METRICS]
    validation.sort(key=lambda n: (n != objective, n))
    return (*validation, *([TRAIN_LOSS] if TRAIN_LOSS in names else []))


def default_mode(view: StudyView, metric: str) -> str:
    """The direction `metric` is better in: the study's for its objective, else by name."""
    if metric == f"{VALIDATION_PREFIX}{view.metric}":
        return view.mode
    name = metric.rsplit("/", 1)[-1].lower()
    if "loss" in name or "err" in name:
        return "min"
    return "max" if any(word in name for word in MAXIMIZED_WORDS) else "min"


def rerank(
    session: Session, view: StudyView, metric: str, at: str = "best", mode: str | None = None
) -> tuple[RankedTrial, ...]:
    """The study's feasible trials ranked by `metric` read `at` its best step, its final
    step, or its min/max over training, best first in `mode` (default: `default_mode`).
    BadInput naming the available metrics when the study has no series `metric`."""
    available = ranking_metrics(session, view)
    if metric not in available:
        names = ", ".join(available) or "none"
        raise BadInput(
            f"study '{view.study.name}' has no series '{metric}' to rank by (available: {names})"
        )
    if at not in POSITIONS:
        raise BadInput(f"cannot read a metric at '{at}' (choose one of: {', '.join(POSITIONS)})")
    mode = default_mode(view, metric) if mode is None else mode
    if mode not in ("min", "max"):
        raise BadInput(f"a ranking's direction is 'min' or 'max', not '{mode}'")
    values = _values(session, view, metric, at)
    rows = [
        (values[t.id], t) for t in view.feasible if t.id in values and math.isfinite(values[t.id])
    ]
    sign = 1.0 if mode == "min" else -1.0
    rows.sort(key=lambda row: (sign * row[0], row[1].id))
    return tuple(
        RankedTrial(rank, trial.id, value, dict(trial.params))
        for rank, (value, trial) in enumerate(rows, start=1)
    )


def _values(session: Session, view: StudyView, metric: str, at: str) -> dict[int, float]:
    """Each trial's value of `metric` read `at` a position, keyed by trial id."""
    if at == "best":
        return session.values_at_best_step(metric, view.study.id)
    if at == "final":
        latest = session.latest_points(metric, [t.id for t in view.feasible])
        return {trial_id: value for trial_id, (_, value) in latest.items()}
    reduce = np.fmin.reduce if at == "min" else np.fmax.reduce
    return {
        trial_id: float(reduce(np.asarray(series.values, dtype=float)))
        for trial_id, series in session.study_series(view.study.id, metric).items()
        if series.values
    }
