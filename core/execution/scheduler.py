"""Which trial runs next: interrupted and pending trials first, then new points.

New trials are drawn lazily, one at a time, at each study's next sequence index, so a
study always ends with exactly its budget of trials. Non-adaptive algorithms give the same
point for the same (seed, index) whatever the number of workers. A bayesian study waits
until every earlier trial has finished before proposing the next one, so its proposals are
also the same whatever the number of workers (they depend only on finished history).

Each study's sampler is made once and kept for the scheduler's lifetime (one runner), so a
bayesian study's Optuna study and Gaussian process live between proposals and learn only
the trials finished since the previous one. A new runner builds them from the session's
finished trials the first time it needs them; it may therefore propose other points than
an uninterrupted runner would have (`tunebook.core.search.bayesian`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence

import numpy as np

from tunebook.core.design.layouts import StudyPlan
from tunebook.core.search import Observation, Sampler
from tunebook.sessions import Experiment, Session, Study, Trial, TrialStatus


def trial_seeds(study_seed: int, number: int) -> tuple[int, int]:
    """Init and data seeds of a study's trial `number` (separate streams, PB-26)."""
    init_seed, data_seed = np.random.SeedSequence([study_seed, number]).generate_state(2)
    return int(init_seed % 2**31), int(data_seed % 2**31)


def reproduce_command(path: str, trial_id: int) -> str:
    """The command that re-runs a trial headlessly into the same session (PB-24)."""
    return f"tunebook trial rerun {path} {trial_id}"


def objective_value(trial: Trial) -> float | None:
    """What a sampler learns from a trial: its best value, None if infeasible (failed
    trials broke for reasons unrelated to their point and are left out of the history)."""
    if trial.status is TrialStatus.COMPLETED and trial.best_value is not None:
        return trial.best_value
    return None


class Scheduler:
    """Hands out the next trial to run for a set of experiments of one session."""

    def __init__(self, session: Session, experiments: Sequence[Experiment]) -> None:
        self.session = session
        self.experiments = list(experiments)
        self.studies: list[Study] = [
            study for e in self.experiments for study in session.studies(e.id)
        ]
        #: Each study's plan and sampler by study id, made when first needed and kept.
        self._samplers: dict[int, tuple[StudyPlan, Sampler]] = {}

    def study_ids(self) -> list[int]:
        """Ids of the studies this scheduler covers."""
        return [s.id for s in self.studies]

    def trials(self) -> list[Trial]:
        """Every trial of the covered experiments, in creation order."""
        trials = [t for e in self.experiments for t in self.session.trials(experiment_id=e.id)]
        return sorted(trials, key=lambda t: t.id)

    def budget(self) -> int:
        """Trials the covered studies will have when they are done."""
        return sum(s.budget for s in self.studies)

    def has_work(self) -> bool:
        """Whether a trial is pending or a study has budget left (drawing nothing)."""
        trials = self.trials()
        if any(t.status is TrialStatus.PENDING for t in trials):
            return True
        drawn = Counter(t.study_id for t in trials)
        return any(drawn[s.id] < s.budget for s in self.studies)

    def next_trial(self, busy: Collection[int]) -> Trial | None:
        """A pending trial not already running, or a newly drawn one; None when nothing can
        start now (all drawn, or a bayesian study waits for its running trials)."""
        trials = self.trials()
        for trial in trials:
            if trial.status is TrialStatus.PENDING and trial.id not in busy:
                return trial
        for study in self.studies:
            mine = [t for t in trials if t.study_id == study.id]
            if len(mine) >= study.budget:
                continue
            if self.sampler(study)[1].adaptive and not all(t.status.is_finished() for t in mine):
                continue
            return self._draw(study, mine)
        return None

    def sampler(self, study: Study) -> tuple[StudyPlan, Sampler]:
        """The study's plan and the sampler kept for it (made on the first call)."""
        if study.id not in self._samplers:
            plan = StudyPlan.from_json(json.dumps(study.search_space))
            self._samplers[study.id] = (plan, plan.sampler())
        return self._samplers[study.id]

    def _draw(self, study: Study, mine: list[Trial]) -> Trial:
        """Sample the study's next point; the trial stores what varies (what is not fixed)
        and which algorithm chose the point.

        Adaptive (bayesian) studies are per-value, where a trial's params are exactly the
        point of the study's space, so they serve as the sampler's history.
        """
        study = self.session.study(study.id)  # fresh next_index
        plan, sampler = self.sampler(study)
        history: list[Observation] = [
            (t.params, objective_value(t))
            for t in mine
            if t.status in (TrialStatus.COMPLETED, TrialStatus.INFEASIBLE)
        ]
        hparams, chooser = plan.draw(study.next_index, history, sampler=sampler)
        params = {k: v for k, v in hparams.items() if k not in study.fixed}
        init_seed, data_seed = trial_seeds(study.seed, len(mine))
        trial = self.session.add_trial(
            study.id,
            params,
            init_seed,
            data_seed,
            sequence_index=study.next_index,
            sampler=chooser,
        )
        self.session.set_reproduce(trial.id, reproduce_command(str(self.session.path), trial.id))
        return self.session.trial(trial.id)
