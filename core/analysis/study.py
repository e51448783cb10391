"""A study's finished results, loaded once for every review computation.

Each analysis reads the same `StudyView`: the study, its experiment, its search space on
each range's own scale, the objective's direction and the trials with their outcomes. It
needs no torch: reviews open as fast as `status`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tunebook.core.search.space import SearchSpace
from tunebook.sessions import Experiment, Session, Study, Trial, TrialStatus


@dataclass(frozen=True)
class StudyView:
    """One study as the review reads it. `space` holds the sampled dimensions (nuisance,
    and in a combined layout the scientific ones too), on each range's own scale."""

    study: Study
    experiment: Experiment
    space: SearchSpace
    trials: tuple[Trial, ...]

    @property
    def scientific(self) -> dict[str, Any]:
        """The scientific values this study holds fixed (a per-value layout's one value)."""
        return dict(self.study.search_space.get("scientific", {}))

    @property
    def sampled_scientific(self) -> tuple[str, ...]:
        """Scientific hyperparameters sampled with the nuisance ones (a combined layout)."""
        return tuple(self.study.search_space.get("sampled_scientific", ()))

    @property
    def mode(self) -> str:
        """The objective's direction, `min` or `max`."""
        return self.study.objective_mode

    @property
    def metric(self) -> str:
        """The objective's metric name (`validation/<metric>` in the curves)."""
        return self.study.objective_metric

    @property
    def max_train_steps(self) -> int:
        """The experiment's step budget (PB-19: the same for every trial)."""
        return self.experiment.max_train_steps

    @property
    def finished(self) -> tuple[Trial, ...]:
        """Trials that count towards the budget: completed, infeasible, failed."""
        return tuple(t for t in self.trials if t.status.is_finished())

    @property
    def feasible(self) -> tuple[Trial, ...]:
        """Completed trials with a finite objective (the best over training, PB-12)."""
        return tuple(
            t
            for t in self.trials
            if t.status is TrialStatus.COMPLETED
            and t.best_value is not None
            and math.isfinite(t.best_value)
        )

    @property
    def infeasible(self) -> tuple[Trial, ...]:
        """Trials that diverged (a result, PB-11), not failed ones (a broken program)."""
        return tuple(t for t in self.trials if t.status is TrialStatus.INFEASIBLE)

    def better(self, a: float, b: float) -> bool:
        """True when objective `a` is better than `b` in this study's direction."""
        return a < b if self.mode == "min" else a > b

    def ranked(self) -> tuple[Trial, ...]:
        """The feasible trials, best first."""
        sign = 1.0 if self.mode == "min" else -1.0
        return tuple(sorted(self.feasible, key=lambda t: (sign * t.best_value, t.id)))

    def value_of(self, trial: Trial, name: str) -> Any:
        """The value a trial trained with for `name` (its sampled point, else the study's
        fixed value, e.g. the scientific value of a per-value study)."""
        if name in trial.params:
            return trial.params[name]
        return self.study.fixed.get(name)


def load_study(session: Session, study_id: int) -> StudyView:
    """The study with id `study_id` and everything the review needs of it."""
    study = session.study(study_id)
    return StudyView(
        study=study,
        experiment=session.experiment(study.experiment_id),
        space=SearchSpace.from_dict(study.search_space.get("space", {})),
        trials=tuple(session.trials(study_id=study_id)),
    )


def load_experiment(session: Session, name: str) -> tuple[StudyView, ...]:
    """Every study of the experiment `name` (BadInput naming it when there is none)."""
    experiment = session.experiment(name)
    return tuple(load_study(session, s.id) for s in session.studies(experiment.id))
