"""A bayesian study's sampler lives in the scheduler: kept between proposals, rebuilt from
the session by a new scheduler, rebuilt when the history is not an extension of what it
holds; the spec's start-up size reaches it. Trials are finished by hand (no training)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunebook.core.design.layouts import StudyPlan, plan_studies
from tunebook.core.design.spec import parse_spec
from tunebook.core.execution.scheduler import Scheduler, objective_value
from tunebook.core.search import BayesianSampler
from tunebook.sessions import Session, Trial, TrialStatus

SPEC = """
name = "exploit"
goal = "Find the bottom of the bowl"
max_train_steps = 10

[nuisance]
x = { low = 0.0, high = 1.0 }
y = { low = 0.0, high = 1.0 }

[search]
algorithm = "bayesian"
trials = 8
startup_trials = 3
seed = 4
"""


def bowl(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


def bayesian_session(folder: Path) -> Path:
    """A session holding SPEC's one study, stored as `experiment add` stores it."""
    design = parse_spec(SPEC)
    [plan] = plan_studies(design)
    path = folder / "bo.tunebook"
    with Session.create(path, "tabular") as session:
        experiment = session.add_experiment(design.name, design.goal, {}, 10)
        session.add_study(
            experiment.id,
            plan.name,
            plan.to_dict(),
            plan.algorithm,
            plan.trials,
            plan.seed,
            "error",
            "min",
        )
    return path


def run_next(session: Session, scheduler: Scheduler, value: float | None = None) -> Trial:
    """Draw the next trial and finish it with `value` (by default the bowl at its point)."""
    trial = scheduler.next_trial(busy=())
    assert trial is not None
    session.start_trial(trial.id)
    return session.finish_trial(
        trial.id, TrialStatus.COMPLETED, best_value=bowl(trial.params) if value is None else value
    )


def kept(scheduler: Scheduler, session: Session) -> tuple[StudyPlan, BayesianSampler]:
    [study] = session.studies()
    plan, sampler = scheduler.sampler(study)
    assert isinstance(sampler, BayesianSampler)
    return plan, sampler


def history(session: Session) -> list[tuple[dict[str, Any], float | None]]:
    return [(t.params, objective_value(t)) for t in session.trials() if t.status.is_finished()]


def test_the_sampler_and_its_model_live_between_proposals(tmp_path: Path) -> None:
    with Session.open(bayesian_session(tmp_path)) as session:
        scheduler = Scheduler(session, session.experiments())
        seen = []
        for _ in range(8):
            trial = run_next(session, scheduler)
            _, sampler = kept(scheduler, session)
            model = sampler.model
            seen.append((trial.sampler, sampler, model, model and model.gp, model and model.held))
        assert scheduler.next_trial(busy=()) is None
        finished = history(session)
    # [search] startup_trials = 3 reached the sampler: three quasi-random points, then the GP.
    assert [s[0] for s in seen] == ["quasi-random"] * 3 + ["bayesian"] * 5
    assert all(s[1] is seen[0][1] for s in seen)
    assert seen[2][2] is None
    models, gps = {id(s[2]) for s in seen[3:]}, {id(s[3]) for s in seen[3:]}
    assert len(models) == len(gps) == 1  # one Optuna study and GPSampler for the five
    held = seen[-1][4]
    assert len(held) == 7  # it learnt every trial finished before the last proposal, once
    assert held == finished[:7]


def test_a_new_scheduler_builds_the_model_from_the_session(tmp_path: Path) -> None:
    path = bayesian_session(tmp_path)
    with Session.open(path) as session:
        first = Scheduler(session, session.experiments())
        for _ in range(5):
            run_next(session, first)
        finished = history(session)
        resumed = Scheduler(session, session.experiments())  # as a new runner makes it
        trial = resumed.next_trial(busy=())
        assert trial is not None
        plan, sampler = kept(resumed, session)
        assert sampler is not kept(first, session)[1]
    assert trial.sampler == "bayesian"
    assert plan.space.contains(trial.params)
    assert sampler.model is not None and sampler.model.held == finished
    # Built from the history alone: what a fresh process proposes for it.
    fresh = BayesianSampler(n_startup=3).sample(plan.space, plan.seed, 5, finished)
    assert trial.params == fresh


def test_a_rerun_trial_makes_the_scheduler_rebuild_the_model(tmp_path: Path) -> None:
    with Session.open(bayesian_session(tmp_path)) as session:
        scheduler = Scheduler(session, session.experiments())
        for _ in range(5):
            run_next(session, scheduler)
        plan, sampler = kept(scheduler, session)
        before = sampler.model
        rerun = session.trials()[1]
        session.reset_trial(rerun.id)
        again = run_next(session, scheduler, value=0.75)  # the pending trial comes first
        assert again.id == rerun.id and sampler.model is before  # nothing proposed yet
        changed = history(session)
        trial = run_next(session, scheduler)
    assert sampler.model is not before
    assert sampler.model is not None and sampler.model.held == changed
    assert sampler.model.held[1][1] == 0.75
    fresh = BayesianSampler(n_startup=3).sample(plan.space, plan.seed, 5, changed)
    assert trial.params == fresh
