"""One trial in full, as plain data: what the trial detail screen shows.

Every hyperparameter the trial trained with and its role for its experiment's goal
(scientific / nuisance / fixed, PB-8; or a workload/optimizer default), its seeds, outcome,
the kept best checkpoints (PB-23), the reproduce command (PB-24), and its curves as plot
data: training loss, the validation objective, the learning rate and the unclipped gradient
norm as a line and as histogram bins (PB-31). Computed from records alone (no torch, no
textual), so it is quick to read and the numbers are tested without a screen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import pairwise
from typing import Any

import numpy as np

from tunebook.sessions import Session
from tunebook.sessions.records import (
    Checkpoint,
    CheckpointKind,
    Experiment,
    Study,
    Trial,
    TrialStatus,
    now,
)
from tunebook.sessions.report import trained_hparams, trial_sampler

#: The series the training loop reports (see `tunebook.core.training.reporter`).
TRAIN_LOSS, LEARNING_RATE, GRAD_NORM, CLIPPED = (
    "train/loss",
    "train/lr",
    "train/grad_norm",
    "train/clipped",
)
#: At most this many histogram bins: a terminal chart shows no more.
HISTOGRAM_BINS = 20
#: Values spanning more than this many decades get log-spaced histogram bins.
LOG_BINS_OVER_DECADES = 2.0


class Role(str, Enum):
    """A hyperparameter's role for its experiment's goal (PB-8), or a default nobody set."""

    SCIENTIFIC = "scientific"
    NUISANCE = "nuisance"
    FIXED = "fixed"
    DEFAULT = "default"
    #: Neither the design nor the recorded defaults name it (sessions from older tunebooks).
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class HParamRow:
    """One hyperparameter the trial trained with, its value and its role."""

    name: str
    value: Any
    role: Role


@dataclass(frozen=True)
class PlotSeries:
    """One curve: parallel steps and values (NaN kept: a chart skips it, a person sees it)."""

    name: str
    steps: tuple[int, ...]
    values: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class HistogramBins:
    """Counts of finite values in bins `edges[i]…edges[i+1]` (len(edges) = len(counts) + 1).

    `log` says the edges are spaced evenly in log10 (the values spanned more than two
    decades); `nonfinite` counts NaN/±inf values left out (a diverging trial's norms).
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    log: bool
    nonfinite: int

    @property
    def total(self) -> int:
        """Finite values counted."""
        return sum(self.counts)

    @property
    def centres(self) -> list[float]:
        """Where each bin's bar stands on a chart's x axis: its centre, in log10 units for
        log bins (charts draw log axes as log10 values with 1eN labels)."""
        if self.log:
            return [(math.log10(a) + math.log10(b)) / 2 for a, b in pairwise(self.edges)]
        return [(a + b) / 2 for a, b in pairwise(self.edges)]


@dataclass(frozen=True)
class GradNormSummary:
    """The unclipped gradient norm at a glance (PB-31), and the PB-30 clipping hint: the
    90th percentile is the suggested clipping threshold; `clipped_share` the share of steps
    clipped (over half means lower the learning rate). None where there are no values."""

    median: float | None
    p90: float | None
    maximum: float | None
    clipped_share: float | None


@dataclass(frozen=True)
class CheckpointRow:
    """One kept checkpoint: a best-N one (PB-23) or the resume state."""

    kind: CheckpointKind
    step: int
    value: float | None
    size: int


@dataclass(frozen=True)
class TrialDetail:
    """Everything the trial detail screen shows about one trial."""

    trial_id: int
    experiment: str
    study: str
    number: int
    sampler: str
    status: TrialStatus
    attempts: int
    error: str
    init_seed: int
    data_seed: int
    hparams: tuple[HParamRow, ...]
    #: False for sessions that did not record the defaults (their roles are unknown).
    defaults_known: bool
    objective_metric: str
    objective_mode: str
    best_step: int | None
    best_value: float | None
    final_value: float | None
    max_train_steps: int
    last_step: int | None
    compute_seconds: float
    data_seconds: float
    #: Seconds from start to finish (to `at` while running); None before it started.
    elapsed: float | None
    #: Where its latest attempt trained: worker (pid, or Ray node and pid) and device;
    #: empty before it started, and for trials run before tunebook recorded it.
    trained_on: str
    reproduce: str
    checkpoints: tuple[CheckpointRow, ...]
    train_loss: PlotSeries
    validation: PlotSeries
    learning_rate: PlotSeries
    grad_norm: PlotSeries
    grad_histogram: HistogramBins
    grad_summary: GradNormSummary

    @property
    def validation_series(self) -> str:
        """The objective's series name, e.g. `validation/error`."""
        return f"validation/{self.objective_metric}"


def hparam_roles(
    experiment: Experiment, study: Study, trial: Trial
) -> tuple[tuple[HParamRow, ...], bool]:
    """Every hyperparameter `trial` trained with and its role, sorted by role then name, and
    whether the session recorded the defaults.

    Roles come from the experiment's design: its `scientific` table, its `nuisance` table
    (with the conditional `nuisance.when` sets, PB-8) and its fixed values (the study's
    `fixed`, which also holds a per-value study's scientific value, and the design's).
    A searched hyperparameter the design does not name is tuned, so nuisance; one the
    trial trained with only because nobody set it is a default.
    """
    values, defaults = trained_hparams(experiment, study, trial)
    design = experiment.design
    scientific = set(_names(design.get("scientific")))
    nuisance = _nuisance_names(design.get("nuisance"))
    fixed = set(study.fixed) | set(_names(design.get("fixed")))
    default_names = set(defaults or ())
    rows = []
    for name, value in values.items():
        if name in scientific:
            role = Role.SCIENTIFIC
        elif name in nuisance or name in trial.params:
            role = Role.NUISANCE
        elif name in fixed:
            role = Role.FIXED
        elif name in default_names:
            role = Role.DEFAULT
        else:
            role = Role.UNKNOWN
        rows.append(HParamRow(name, value, role))
    order = list(Role)
    rows.sort(key=lambda row: (order.index(row.role), row.name))
    return tuple(rows), defaults is not None


def _names(table: Any) -> list[str]:
    return [str(name) for name in table] if isinstance(table, Mapping) else []


def _nuisance_names(table: Any) -> set[str]:
    """The nuisance names of a stored design, the conditional `when` sets' included."""
    if not isinstance(table, Mapping):
        return set()
    names = {str(name) for name in table if name != "when"}
    when = table.get("when")
    if isinstance(when, Mapping):
        for by_value in when.values():
            if isinstance(by_value, Mapping):
                for space in by_value.values():
                    names |= set(_names(space))
    return names


def histogram(values: Sequence[float], bins: int = HISTOGRAM_BINS) -> HistogramBins:
    """Histogram bins of the finite `values` (numpy.histogram): log-spaced when they are all
    positive and span more than two decades, else linear; at most `bins` bins, fewer for
    few values."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    nonfinite = int(array.size - finite.size)
    if finite.size == 0:
        return HistogramBins((), (), False, nonfinite)
    count = max(1, min(bins, int(finite.size)))
    low, high = float(finite.min()), float(finite.max())
    log = low > 0 and math.log10(high / low) > LOG_BINS_OVER_DECADES
    if log:
        edges = np.logspace(math.log10(low), math.log10(high), count + 1)
        edges[0], edges[-1] = low, high  # exact ends: logspace's rounding may drop a value
        counts, edges = np.histogram(finite, bins=edges)
    else:
        counts, edges = np.histogram(finite, bins=count)
    return HistogramBins(
        tuple(float(e) for e in edges), tuple(int(c) for c in counts), log, nonfinite
    )


def grad_summary(grad_norm: Sequence[float], clipped: Sequence[float]) -> GradNormSummary:
    """Median, 90th percentile and maximum of the finite gradient norms, and the share of
    steps that were clipped (PB-30, PB-31)."""
    array = np.asarray(grad_norm, dtype=float)
    finite = array[np.isfinite(array)]
    flags = np.asarray(clipped, dtype=float)
    flags = flags[np.isfinite(flags)]
    if finite.size == 0:
        median = p90 = maximum = None
    else:
        median = float(np.median(finite))
        p90 = float(np.percentile(finite, 90))
        maximum = float(finite.max())
    share = float(np.mean(flags > 0)) if flags.size else None
    return GradNormSummary(median, p90, maximum, share)


def trial_detail(session: Session, trial_id: int, at: float | None = None) -> TrialDetail:
    """Trial `trial_id` in full (BadInput when the session has no such trial); `at` is the
    time a running trial's elapsed seconds count to (now by default)."""
    trial = session.trial(trial_id)
    study = session.study(trial.study_id)
    experiment = session.experiment(study.experiment_id)
    hparams, defaults_known = hparam_roles(experiment, study, trial)
    validation_name = f"validation/{study.objective_metric}"
    names = [TRAIN_LOSS, validation_name, LEARNING_RATE, GRAD_NORM, CLIPPED]
    series = session.trial_series(trial_id, names)

    def plot(name: str) -> PlotSeries:
        found = series.get(name)
        if found is None:
            return PlotSeries(name, (), ())
        return PlotSeries(name, tuple(found.steps), tuple(found.values))

    grad = plot(GRAD_NORM)
    clipped = plot(CLIPPED)
    steps = [s.steps[-1] for s in series.values() if s.steps]
    return TrialDetail(
        trial_id=trial.id,
        experiment=experiment.name,
        study=study.name,
        number=trial.number,
        sampler=trial_sampler(trial, study),
        status=trial.status,
        attempts=trial.attempts,
        error=trial.error,
        init_seed=trial.init_seed,
        data_seed=trial.data_seed,
        hparams=hparams,
        defaults_known=defaults_known,
        objective_metric=study.objective_metric,
        objective_mode=study.objective_mode,
        best_step=trial.best_step,
        best_value=trial.best_value,
        final_value=trial.final_value,
        max_train_steps=experiment.max_train_steps,
        last_step=max(steps) if steps else None,
        compute_seconds=trial.compute_seconds,
        data_seconds=trial.data_seconds,
        elapsed=elapsed(trial, at),
        trained_on=session.trial_where(trial_id),
        reproduce=trial.reproduce,
        checkpoints=tuple(
            CheckpointRow(c.kind, c.step, c.value, c.size)
            for c in kept_checkpoints(session.checkpoints(trial_id), study.objective_mode)
        ),
        train_loss=plot(TRAIN_LOSS),
        validation=plot(validation_name),
        learning_rate=plot(LEARNING_RATE),
        grad_norm=grad,
        grad_histogram=histogram(grad.values),
        grad_summary=grad_summary(grad.values, clipped.values),
    )


def elapsed(trial: Trial, at: float | None = None) -> float | None:
    """Seconds from the trial's start to its finish, or to `at` (now) while it runs."""
    if trial.started_at is None:
        return None
    if trial.finished_at is not None and trial.status.is_finished():
        end = trial.finished_at
    elif trial.status is TrialStatus.RUNNING:
        end = now() if at is None else at
    else:
        return None  # pending again (stopped, or reset for a rerun): no span to show
    return max(0.0, end - trial.started_at)


def kept_checkpoints(checkpoints: Sequence[Checkpoint], mode: str) -> list[Checkpoint]:
    """The best checkpoints best first by the objective's `mode` (then by step), then the
    resume state."""
    sign = 1 if mode == "min" else -1

    def key(c: Checkpoint) -> tuple[bool, float, int]:
        value = math.inf if c.value is None or math.isnan(c.value) else sign * c.value
        return (c.kind is CheckpointKind.RESUME, value, c.step)

    return sorted(checkpoints, key=key)
