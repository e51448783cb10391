"""Putting a designed experiment into a session: validate against the workload, then store
the experiment and one row per planned study (PB-5, PB-9).

The spec is checked against the hyperparameters the session's workload and the training
loop actually have, the project-start decisions fill what the spec leaves out
(`max_train_steps`, `batch_size`), each study runs one forward and backward pass on a few
examples (so a workload that cannot train is refused before any trial runs), bayesian
search checks that optuna is installed, and the playbook's advice is returned for the
caller to show. Nothing is written unless everything is valid. `check_workload` does the
same check for a new session and measures its data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tunebook.core.design import (
    Advice,
    Coverage,
    ExperimentDesign,
    SpecError,
    StudyPlan,
    advise,
    coverage,
    design_from_dict,
    key_name,
    load_spec,
    plan_studies,
)
from tunebook.core.execution.trial_config import (
    BATCH_SIZE,
    check_hparams,
    config_from_hparams,
    hparam_defaults,
    known_hparams,
)
from tunebook.core.search import BayesianSampler
from tunebook.core.search.bayesian import import_optuna
from tunebook.core.search.space import show
from tunebook.core.training import check_step
from tunebook.core.workload_source import session_workload_source
from tunebook.core.workloads import Workload, load_workload, split_tensors
from tunebook.core.workloads.base import split_length
from tunebook.sessions import BadInput, DecisionKind, Experiment, Session, WorkloadFacts
from tunebook.sessions.report import HPARAM_DEFAULTS_KEY
from tunebook.sessions.text import plural


@dataclass(frozen=True)
class AddedExperiment:
    """The stored experiment, its studies' names, and the advice to show the user."""

    experiment: Experiment
    studies: list[str]
    advice: list[Advice]
    #: Combined layout only: how evenly the planned trials cover each scientific value
    #: (PB-9). Non-adaptive points depend only on seed and index, so this is what will run.
    coverage: dict[str, Coverage] = field(default_factory=dict)


def add_experiment(
    session: Session, design: ExperimentDesign, source: str, workload: Workload | None = None
) -> AddedExperiment:
    """Store `design` (already validated against this session's workload) and its studies."""
    if any(e.name == design.name for e in session.experiments()):
        raise SpecError(
            source,
            f"name: an experiment named {show(design.name)} already exists in "
            f"'{session.path}'; choose another name",
        )
    workload = workload or session_workload(session)
    design = _with_decisions(session, design, source)
    training = {
        key: getattr(design, key)
        for key in ("eval_every", "checkpoint_every")
        if getattr(design, key) is not None
    }
    plans = plan_studies(design)
    steps = int(design.max_train_steps or 0)
    if any(plan.algorithm == BayesianSampler.name for plan in plans):
        try:
            import_optuna()
        except BadInput as exc:
            raise SpecError(source, f'[search] algorithm = "bayesian": {exc}') from None
    checked: set[str] = set()
    for plan in plans:
        _check_values(workload, plan, design, steps, source)
        _check_trains(workload, plan, design, steps, source, checked)
    stored = {
        **design.to_dict(),
        "training": training,
        "source": source,
        HPARAM_DEFAULTS_KEY: hparam_defaults(workload),
    }
    with session.transaction():
        experiment = session.add_experiment(
            design.name, design.goal, stored, int(design.max_train_steps or 0)
        )
        for plan in plans:
            objective = plan.objective or design.objective
            metric = objective.metric if objective else workload.objective.metric
            mode = objective.mode if objective else workload.objective.mode
            session.add_study(
                experiment.id,
                plan.name,
                plan.to_dict(),
                plan.algorithm,
                plan.trials,
                plan.seed,
                metric,
                mode,
                fixed={**plan.fixed, **plan.scientific},
            )
        studies = plural(len(plans), "study")
        session.log_event(
            "user", "experiment.added", f"{design.name}: {studies}", {"source": source}
        )
    optimizer = design.fixed.get("optimizer")
    planned_coverage: dict[str, Coverage] = {}
    for plan in plans:
        planned_coverage.update(_planned_coverage(plan, design))
    return AddedExperiment(
        experiment,
        [p.name for p in plans],
        [*advise(design, optimizer=optimizer), *_startup_advice(plans)],
        planned_coverage,
    )


def _check_values(
    workload: Workload,
    plan: StudyPlan,
    design: ExperimentDesign,
    max_train_steps: int,
    source: str,
) -> None:
    """Try the study's values at both corners of its space, as a trial would use them; a
    [fixed] value that is wrong on its own is named by its key path."""
    for corner in (0.0, 1.0 - 1e-12):
        try:
            check_hparams(workload, _corner(plan, corner), max_train_steps)
        except BadInput as exc:
            _check_fixed_alone(workload, design, max_train_steps, source)
            raise SpecError(source, f"study {plan.name!r}: {exc}") from exc


def _check_fixed_alone(
    workload: Workload, design: ExperimentDesign, max_train_steps: int, source: str
) -> None:
    """Check each [fixed] value alone (with the fixed optimizer, if any): the first that is
    wrong by itself is refused with its key path, e.g. ``[fixed] batch_size``."""
    optimizer = {k: v for k, v in design.fixed.items() if k == "optimizer"}
    for name, value in design.fixed.items():
        try:
            check_hparams(workload, {**optimizer, name: value}, max_train_steps)
        except BadInput as exc:
            raise SpecError(source, f"[fixed] {key_name(name)}: {exc}") from exc


def _corner(plan: StudyPlan, u: float) -> dict[str, Any]:
    """The study's hyperparameters at the corner of its space where every coordinate is u."""
    return plan.hparams(plan.space.decode([u] * len(plan.space)))


def _check_trains(
    workload: Workload,
    plan: StudyPlan,
    design: ExperimentDesign,
    max_train_steps: int,
    source: str,
    checked: set[str],
) -> None:
    """Run the study's lower corner forward and backward on a few examples (`check_step`);
    a configuration already in `checked` (another study's corner) is not run again."""
    objective = plan.objective or design.objective
    config = config_from_hparams(
        workload,
        _corner(plan, 0.0),
        max_train_steps=max_train_steps,
        objective=None if objective is None else (objective.metric, objective.mode),
    )
    key = json.dumps(config.to_json(), sort_keys=True, default=str)
    if key in checked:
        return
    checked.add(key)
    try:
        check_step(workload, config)
    except BadInput as exc:
        raise SpecError(source, f"study {plan.name!r}: {exc}") from exc


def _startup_advice(plans: list[StudyPlan]) -> list[Advice]:
    """PB-18: a bayesian study whose budget fits in its quasi-random start-up never uses
    the model; say so rather than let it pass for Bayesian optimization."""
    short = [
        plan
        for plan in plans
        if plan.algorithm == BayesianSampler.name and plan.trials <= plan.startup_trials
    ]
    if not short:
        return []
    plan = short[0]
    return [
        Advice(
            "bayesian-startup-only",
            "PB-18",
            f"every one of the {plan.trials} trials per study falls in the quasi-random "
            f"start-up ([search] startup_trials = {plan.startup_trials}), so no point is "
            "chosen by Bayesian optimization; raise trials above startup_trials or lower "
            "startup_trials",
        )
    ]


def check_workload(workload: Workload) -> WorkloadFacts:
    """Run the workload's default configuration forward and backward on a few examples
    (refusing a workload that cannot train, in one sentence) and measure its data."""
    splits = workload.splits(0)
    train_examples = split_length(splits.train)
    # No batch size is chosen yet: the default, or every example of a smaller training split.
    batch_size = max(1, min(BATCH_SIZE.default, train_examples))
    check_step(
        workload, config_from_hparams(workload, {"batch_size": batch_size}, max_train_steps=1)
    )
    classes = None
    if workload.task == "classification":
        classes = int(split_tensors(splits.train)[-1].max()) + 1
    return WorkloadFacts(
        task=workload.task,
        train_examples=train_examples,
        validation_examples=split_length(splits.validation),
        test_examples=None if splits.test is None else split_length(splits.test),
        classes=classes,
        notes=tuple(workload.data_notes()),
    )


def _planned_coverage(plan: StudyPlan, design: ExperimentDesign) -> dict[str, Coverage]:
    if not plan.sampled_scientific:
        return {}
    points = [plan.trial_hparams(index) for index in range(plan.trials)]
    return coverage(points, {name: design.scientific[name] for name in plan.sampled_scientific})


def add_experiment_from_spec(session: Session, spec_path: str | Path) -> AddedExperiment:
    """Read a TOML spec, validate it against the session's workload, and store it."""
    workload = session_workload(session)
    design = load_spec(spec_path, known_hparams=known_hparams(workload))
    return add_experiment(session, design, str(spec_path), workload)


def add_experiment_from_dict(
    session: Session, spec: Mapping[str, Any], source: str, workload: Workload | None = None
) -> AddedExperiment:
    """The same from a dict shaped like the TOML spec (scripts, the demo, the TUI)."""
    workload = workload or session_workload(session)
    design = design_from_dict(spec, source, known_hparams(workload))
    return add_experiment(session, design, source, workload)


def session_workload(session: Session) -> Workload:
    """The workload the session tunes, rebuilt from its stored reference and config with
    its files found from the session file's folder (a missing one is one sentence)."""
    source = session_workload_source(session)
    source.check()
    return load_workload(source.ref, source.config)


def _with_decisions(session: Session, design: ExperimentDesign, source: str) -> ExperimentDesign:
    """Fill `max_train_steps` and `batch_size` from the session's decisions when the spec
    leaves them out (DESIGN.md); without a decision, the spec must give them."""
    if design.max_train_steps is None:
        decision = session.decision(DecisionKind.MAX_TRAIN_STEPS)
        if decision is None:
            raise SpecError(
                source,
                "max_train_steps is missing; set it at the top of the spec "
                "(PB-19: one value for every trial)",
            )
        design = replace(design, max_train_steps=int(decision.value))
    varied = set(design.scientific) | set(design.nuisance.names)
    if "batch_size" not in design.fixed and "batch_size" not in varied:
        decision = session.decision(DecisionKind.BATCH_SIZE)
        if decision is not None:
            design = replace(design, fixed={**design.fixed, "batch_size": int(decision.value)})
    return design
