"""What the run monitor shows, computed from a session as plain frozen records (no UI).

The monitor (issue 9, item 4) watches a run (PB-9: a study's trials; PB-11: infeasible
trials are results too): one row per trial with its study, its scientific and nuisance
values (PB-5, from the experiment's design), status, step / max steps, latest training
loss, best validation objective and elapsed time; overall progress counted exactly as
`tunebook status` counts it (`sessions.report.counts_with_planned`: a study's planned
trials not yet created count as pending); an ETA; and the training and validation curves
of a few trials. Everything here is read through index seeks, so a session of 1,000
trials × 1,000 steps reads in a few tens of milliseconds: rows take one query for the
trials and one seek per trial for its latest training-loss point; curves are read only for
the trials the monitor draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunebook.sessions.records import Experiment, Series, Study, Trial, TrialStatus, now
from tunebook.sessions.report import RUNNER_STALE_AFTER, counts_with_planned
from tunebook.sessions.store import Session

TRAIN_LOSS = "train/loss"
#: The key of a design's nuisance table that holds conditional spaces (`[nuisance.when]`).
WHEN = "when"
#: At most this many trials' curves are drawn at once (the selected one and running ones).
MAX_CURVES = 8
#: At most this many points per drawn curve: a terminal chart has fewer columns than that.
MAX_POINTS = 400


@dataclass(frozen=True)
class HParamColumn:
    """A varied hyperparameter shown as a column: its name and role (PB-5)."""

    name: str
    role: str  # "scientific" or "nuisance"


@dataclass(frozen=True)
class TrialRow:
    """One trial as the monitor's table shows it."""

    trial_id: int
    study_id: int
    study: str
    number: int
    #: The trial's value of each of `MonitorData.columns`, in order (None: not used).
    values: tuple[Any, ...]
    status: TrialStatus
    #: The latest step with a training loss (for a finished trial, its last step).
    step: int | None
    max_steps: int
    train_loss: float | None
    best_value: float | None
    objective_metric: str
    objective_mode: str
    #: Seconds of the current (or last) attempt: started → finished, or → now while running.
    elapsed: float | None
    #: The failure's error, the infeasible trial's reason, or why a pending trial stopped.
    error: str
    #: When the trial finished (None while it has not): with `status`, what tells a later
    #: read that this row cannot have changed.
    finished_at: float | None = None

    def problem(self) -> str:
        """One line on what went wrong: a failed trial's error, an infeasible trial's step
        and reason (PB-11), a stopped trial's reason; "" for the others."""
        if self.status is TrialStatus.FAILED:
            return f"trial {self.trial_id} failed: {self.error or 'no error message recorded'}"
        if self.status is TrialStatus.INFEASIBLE:
            at = f" at step {self.step}" if self.step is not None else ""
            return f"trial {self.trial_id} infeasible{at}: {self.error or 'no reason recorded'}"
        if self.status is TrialStatus.PENDING and self.error:
            return f"trial {self.trial_id} pending, last attempt: {self.error}"
        return ""


@dataclass(frozen=True)
class Progress:
    """The whole session's progress: trials per status (planned ones counted as pending,
    as `tunebook status` counts them), finished of total, and an ETA in seconds."""

    counts: Mapping[str, int]
    eta_seconds: float | None

    @property
    def total(self) -> int:
        """Trials planned in all studies (their budgets, or more if more were created)."""
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        """Trials that count towards their study's budget."""
        return sum(self.counts.get(s.value, 0) for s in TrialStatus if s.is_finished())

    @property
    def running(self) -> int:
        """Trials training now."""
        return self.counts.get(TrialStatus.RUNNING.value, 0)

    @property
    def fraction(self) -> float:
        """finished / total (1.0 for a session without trials)."""
        return self.finished / self.total if self.total else 1.0


@dataclass(frozen=True)
class MonitorData:
    """Everything the monitor's table and progress bar show, read at `read_at`."""

    columns: tuple[HParamColumn, ...]
    rows: tuple[TrialRow, ...]
    progress: Progress
    read_at: float

    def row(self, trial_id: int) -> TrialRow | None:
        """The row of one trial, or None."""
        return next((r for r in self.rows if r.trial_id == trial_id), None)

    def running_ids(self) -> tuple[int, ...]:
        """Ids of the trials training now, in table order."""
        return tuple(r.trial_id for r in self.rows if r.status is TrialStatus.RUNNING)


@dataclass(frozen=True)
class TrialCurves:
    """One trial's training loss and validation objective series, for the charts."""

    trial_id: int
    objective_metric: str
    train: Series
    validation: Series


def design_columns(experiments: Iterable[Experiment]) -> tuple[HParamColumn, ...]:
    """The scientific, then the nuisance hyperparameters of the experiments' designs, each
    once, in the designs' order (conditional nuisance spaces included)."""
    scientific: dict[str, None] = {}
    nuisance: dict[str, None] = {}
    for experiment in experiments:
        design = experiment.design
        scientific.update(dict.fromkeys(design.get("scientific") or {}))
        space = design.get("nuisance") or {}
        nuisance.update(dict.fromkeys(name for name in space if name != WHEN))
        for by_value in (space.get(WHEN) or {}).values():
            for conditional in by_value.values():
                nuisance.update(dict.fromkeys(conditional))
    return tuple(HParamColumn(n, "scientific") for n in scientific) + tuple(
        HParamColumn(n, "nuisance") for n in nuisance if n not in scientific
    )


def trial_value(trial: Trial, study: Study, name: str) -> Any:
    """A hyperparameter's value in a trial: sampled (`params`) or its study's fixed value
    (a study fixes its scientific value, PB-5); None when the trial does not use it."""
    if name in trial.params:
        return trial.params[name]
    return study.fixed.get(name)


def elapsed(trial: Trial, at: float) -> float | None:
    """Seconds of the trial's latest attempt: to its end when finished, to `at` while
    running; None when it has not started (or is pending again after a stop)."""
    if trial.started_at is None:
        return None
    if trial.status.is_finished():
        return None if trial.finished_at is None else max(0.0, trial.finished_at - trial.started_at)
    if trial.status is TrialStatus.RUNNING:
        return max(0.0, at - trial.started_at)
    return None


def estimate_eta(
    durations: Sequence[float],
    running_elapsed: Sequence[float],
    waiting: int,
    runner_alive: bool = True,
) -> float | None:
    """Seconds until the last trial finishes, or None when that cannot be told.

    The rule: with D the mean duration of the finished trials that trained (completed and
    infeasible; failures often end at once and would bias it) and c the trials running now
    (the run's parallelism), the work left is D − elapsed (at least 0) for each running
    trial plus D for each of the `waiting` trials, spread over c workers:
    ETA = (Σ max(D − eᵢ, 0) + waiting × D) / c. It is 0 when nothing is left, and None
    (unknown) when no runner is alive or nothing runs (no run, so no rate: trials left
    "running" by a killed runner do not count) or no trial has finished yet.
    """
    if not running_elapsed and waiting == 0:
        return 0.0
    if not runner_alive or not running_elapsed or not durations:
        return None
    mean = sum(durations) / len(durations)
    left = sum(max(mean - e, 0.0) for e in running_elapsed) + waiting * mean
    return left / len(running_elapsed)


def monitor_data(
    session: Session, at: float | None = None, previous: MonitorData | None = None
) -> MonitorData:
    """The monitor's table and progress of the whole session.

    With `previous` (the last read), the rows of trials that were finished then and still
    are (same status, same finish time) are kept as they were, and only the others are
    read again: a read during a run costs a scan of two columns plus the running and
    pending trials, not a decode of every trial.
    """
    at = now() if at is None else at
    experiments = {e.id: e for e in session.experiments()}
    studies = {s.id: s for s in session.studies()}
    columns = design_columns(experiments.values())
    kept: dict[int, TrialRow] = {}
    if previous is not None and previous.columns == columns:
        marks = session.trial_marks()
        for row in previous.rows:
            if row.status.is_finished() and marks.get(row.trial_id) == (
                row.status.value,
                row.finished_at,
            ):
                kept[row.trial_id] = row
        changed = [tid for tid in marks if tid not in kept]
        trials = session.trials_by_id(changed)
        latest = session.latest_points(TRAIN_LOSS, changed)
    else:
        trials = session.trials()
        latest = session.latest_points(TRAIN_LOSS)
    fresh = {
        t.id: trial_row(t, studies[t.study_id], experiments, columns, latest.get(t.id), at)
        for t in trials
    }
    rows = sorted([*kept.values(), *fresh.values()], key=lambda r: r.trial_id)
    return MonitorData(columns, tuple(rows), session_progress(session, studies, rows), at)


def trial_row(
    trial: Trial,
    study: Study,
    experiments: Mapping[int, Experiment],
    columns: Sequence[HParamColumn],
    point: tuple[int, float] | None,
    at: float,
) -> TrialRow:
    """One trial's row; `point` is its latest training-loss `(step, value)`."""
    experiment = experiments.get(study.experiment_id)
    return TrialRow(
        trial_id=trial.id,
        study_id=study.id,
        study=study.name,
        number=trial.number,
        values=tuple(trial_value(trial, study, c.name) for c in columns),
        status=trial.status,
        step=None if point is None else point[0],
        max_steps=experiment.max_train_steps if experiment else 0,
        train_loss=None if point is None else _finite(point[1]),
        best_value=_finite(trial.best_value),
        objective_metric=study.objective_metric,
        objective_mode=study.objective_mode,
        elapsed=elapsed(trial, at),
        error=trial.error,
        finished_at=trial.finished_at,
    )


def session_progress(
    session: Session, studies: Mapping[int, Study], rows: Sequence[TrialRow]
) -> Progress:
    """Counts per status as `tunebook status` has them, and the ETA (`estimate_eta`)."""
    by_study: dict[int, dict[str, int]] = {study_id: {} for study_id in studies}
    durations, running_elapsed = [], []
    for row in rows:
        counts = by_study[row.study_id]
        counts[row.status.value] = counts.get(row.status.value, 0) + 1
        if row.status is TrialStatus.RUNNING and row.elapsed is not None:
            running_elapsed.append(row.elapsed)
        elif row.status in (TrialStatus.COMPLETED, TrialStatus.INFEASIBLE) and row.elapsed:
            durations.append(row.elapsed)
    totals = {s.value: 0 for s in TrialStatus}
    for study_id, counts in by_study.items():
        for status, count in counts_with_planned(studies[study_id], counts).items():
            totals[status] += count
    runner = session.runner()
    alive = runner is not None and runner.is_alive(RUNNER_STALE_AFTER)
    waiting = totals[TrialStatus.PENDING.value]
    return Progress(totals, estimate_eta(durations, running_elapsed, waiting, alive))


def default_selection(data: MonitorData) -> int | None:
    """The trial the monitor's cursor starts on: the first running one, else the first."""
    running = data.running_ids()
    if running:
        return running[0]
    return data.rows[0].trial_id if data.rows else None


def curve_ids(data: MonitorData, selected: int | None, limit: int = MAX_CURVES) -> tuple[int, ...]:
    """The trials whose curves are drawn: the selected one first, then the running ones
    (at most `limit` in all)."""
    ids = [] if selected is None or data.row(selected) is None else [selected]
    ids += [tid for tid in data.running_ids() if tid != selected]
    return tuple(ids[:limit])


def thin(series: Series, limit: int = MAX_POINTS) -> Series:
    """`series` with at most about `limit` points, evenly spaced, always keeping the last."""
    count = len(series.steps)
    if count <= limit:
        return series
    stride = math.ceil(count / limit)
    keep = list(range(0, count, stride))
    if keep[-1] != count - 1:
        keep.append(count - 1)
    return Series(series.name, [series.steps[i] for i in keep], [series.values[i] for i in keep])


def trial_curves(
    session: Session, trial_ids: Iterable[int], objective_metrics: Mapping[int, str]
) -> tuple[TrialCurves, ...]:
    """The training loss and validation objective (`validation/<metric>`) of each trial,
    thinned to what a terminal chart can draw; `objective_metrics` maps a trial to its
    study's objective metric."""
    out = []
    for trial_id in trial_ids:
        metric = objective_metrics.get(trial_id, "")
        validation = f"validation/{metric}"
        series = session.trial_series(trial_id, [TRAIN_LOSS, validation])
        out.append(
            TrialCurves(
                trial_id,
                metric,
                thin(series.get(TRAIN_LOSS, Series(TRAIN_LOSS, [], []))),
                thin(series.get(validation, Series(validation, [], []))),
            )
        )
    return tuple(out)


def log_scale_fits(curves: Iterable[TrialCurves]) -> bool:
    """True when every finite training loss drawn is positive (and there is one): then the
    training chart uses a log scale."""
    values = [v for c in curves for v in c.train.values if math.isfinite(v)]
    return bool(values) and min(values) > 0


def matches(row: TrialRow, text: str) -> bool:
    """The monitor's filter: `text` (case-insensitive, surrounding spaces ignored) starts
    the trial's status or occurs in its study's name; an empty filter matches all."""
    wanted = text.strip().casefold()
    if not wanted:
        return True
    return row.status.value.startswith(wanted) or wanted in row.study.casefold()


def format_value(value: Any) -> str:
    """A hyperparameter value in a few characters: `0.0031`, `3e-05`, `adam`, `—`."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


#: The most characters `format_number` writes: the monitor's loss and best columns.
NUMBER_WIDTH = 6


def format_number(value: float | None) -> str:
    """A loss or objective value in at most `NUMBER_WIDTH` characters (one more below
    1e-99): three significant digits, fewer in scientific notation with a short exponent
    when that is too wide (``0.000491`` is ``4.9e-4``); `—` when there is none."""
    if value is None:
        return "—"
    text = f"{value:.3g}"
    for digits in (2, 1, 0):
        if len(text) <= NUMBER_WIDTH:
            break
        mantissa, exponent = f"{value:.{digits}e}".split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def format_duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `2h07m`, `3d04h`, `—` when unknown: at most 6 characters."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def format_step(row: TrialRow) -> str:
    """`120/1000`, or `—/1000` before the first step."""
    step = "—" if row.step is None else str(row.step)
    return f"{step}/{row.max_steps}"


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value
