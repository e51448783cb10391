"""Putting a designed experiment into a session: validate against the workload, then store
the experiment and one row per planned study (PB-5, PB-9).

The spec is checked against the hyperparameters the session's workload and the training
loop actually have, the project-start decisions fill what the spec leaves out
(`max_train_steps`, `batch_size`), each study runs one forward and backward pass on a few
examples (so a workload that cannot train is refused before any trial runs), bayesian
search checks that optuna is installed, and the playbook's advice is returned for the
caller to show. Nothing is written unless everything is valid. `check_workload` does the
same check for a new session and measures its data.

Checking needs the workload, so torch; storing does not. The modules that import torch are
imported inside the checking functions, and a check of the session's own workload runs in
a process of the warm worker server when one is ready (`call_warm`), where torch is
imported already: `experiment add` then takes a fraction of a second instead of the
second and more its own import of torch would take.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from tunebook.core.execution.warm_call import call_warm
from tunebook.core.search import BayesianSampler
from tunebook.core.search.bayesian import import_optuna
from tunebook.core.search.space import show
from tunebook.core.workload_source import session_workload_source
from tunebook.sessions import BadInput, DecisionKind, Experiment, Session, WorkloadFacts
from tunebook.sessions.report import HPARAM_DEFAULTS_KEY
from tunebook.sessions.text import plural

if TYPE_CHECKING:
    from tunebook.core.workloads import Workload

#: An experiment as given: a TOML spec's path (a str), a dict shaped like one, or a design.
Spec = str | Mapping[str, Any] | ExperimentDesign


@dataclass(frozen=True)
class AddedExperiment:
    """The stored experiment, its studies' names, and the advice to show the user."""

    experiment: Experiment
    studies: list[str]
    advice: list[Advice]
    #: Combined layout only: how evenly the planned trials cover each scientific value
    #: (PB-9). Non-adaptive points depend only on seed and index, so this is what will run.
    coverage: dict[str, Coverage] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionFacts:
    """What checking a design needs of the session: the experiment names taken, and the
    decisions that fill what a spec leaves out (`max_train_steps`, `batch_size`)."""

    path: str
    taken_names: tuple[str, ...]
    max_train_steps: int | None
    batch_size: int | None

    @classmethod
    def of(cls, session: Session) -> SessionFacts:
        def decided(kind: DecisionKind) -> int | None:
            decision = session.decision(kind)
            return None if decision is None else int(decision.value)

        return cls(
            str(session.path),
            tuple(e.name for e in session.experiments()),
            decided(DecisionKind.MAX_TRAIN_STEPS),
            decided(DecisionKind.BATCH_SIZE),
        )


@dataclass(frozen=True)
class CheckedDesign:
    """A design that passed every check against the workload, decisions filled in, with
    what storing it needs of the workload: its hyperparameters' defaults and objective.
    The design is kept in the spec's own shape (`ExperimentDesign.to_dict`, as it is
    stored), which travels between processes."""

    design: dict[str, Any]
    hparam_defaults: dict[str, Any]
    metric: str
    mode: str


def add_experiment(
    session: Session, spec: Spec, source: str, workload: Workload | None = None
) -> AddedExperiment:
    """Check `spec` against the session's workload (`workload`, when the caller has it
    loaded), then store it and its studies. Without `workload` the check runs in a process
    of the warm worker server when one is ready (`call_warm`): torch is imported there."""
    facts = SessionFacts.of(session)
    if isinstance(spec, ExperimentDesign):
        spec = spec.to_dict()  # the spec's own shape, read back as the runner reads it
    if workload is None:
        where = session_workload_source(session)
        where.check()
        checked = call_warm(_check_loaded, where.ref, where.config, spec, source, facts)
    else:
        checked = check_design(workload, spec, source, facts)
    return _store(session, checked, source)


def _check_loaded(
    ref: str,
    config: dict[str, Any],
    spec: str | Mapping[str, Any],
    source: str,
    facts: SessionFacts,
) -> CheckedDesign:
    """`check_design` against the workload `ref` with `config`, loaded here."""
    from tunebook.core.workloads import load_workload

    return check_design(load_workload(ref, config), spec, source, facts)


def check_design(
    workload: Workload, spec: str | Mapping[str, Any], source: str, facts: SessionFacts
) -> CheckedDesign:
    """Read `spec` against the workload's hyperparameters, fill in the decisions, and check
    every study's values and one training step (the module's docstring); raises SpecError
    naming `source` for the first problem."""
    from tunebook.core.execution.trial_config import hparam_defaults, known_hparams

    known = known_hparams(workload)
    if isinstance(spec, str):
        design = load_spec(spec, known_hparams=known)
    else:
        design = design_from_dict(spec, source, known)
    if design.name in facts.taken_names:
        raise SpecError(
            source,
            f"name: an experiment named {show(design.name)} already exists in "
            f"'{facts.path}'; choose another name",
        )
    design = _with_decisions(design, source, facts)
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
    objective = workload.objective
    defaults = hparam_defaults(workload)
    return CheckedDesign(design.to_dict(), defaults, objective.metric, objective.mode)


def _store(session: Session, checked: CheckedDesign, source: str) -> AddedExperiment:
    """Write a checked design and its studies in one transaction; the advice to show."""
    design = design_from_dict(checked.design, source)
    training = {
        key: getattr(design, key)
        for key in ("eval_every", "checkpoint_every")
        if getattr(design, key) is not None
    }
    plans = plan_studies(design)
    stored = {
        **design.to_dict(),
        "training": training,
        "source": source,
        HPARAM_DEFAULTS_KEY: checked.hparam_defaults,
    }
    with session.transaction():
        experiment = session.add_experiment(
            design.name, design.goal, stored, int(design.max_train_steps or 0)
        )
        for plan in plans:
            objective = plan.objective or design.objective
            session.add_study(
                experiment.id,
                plan.name,
                plan.to_dict(),
                plan.algorithm,
                plan.trials,
                plan.seed,
                objective.metric if objective else checked.metric,
                objective.mode if objective else checked.mode,
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
    from tunebook.core.execution.trial_config import check_hparams

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
    from tunebook.core.execution.trial_config import check_hparams

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
    from tunebook.core.execution.trial_config import config_from_hparams
    from tunebook.core.training import check_step

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
    from tunebook.core.execution.trial_config import BATCH_SIZE, config_from_hparams
    from tunebook.core.training import check_step
    from tunebook.core.workloads import split_tensors
    from tunebook.core.workloads.base import split_length

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


@dataclass(frozen=True)
class NewWorkload:
    """What a new session records of its workload: the facts `check_workload` measured,
    the options that name files, and its whole configuration (defaults filled in)."""

    facts: WorkloadFacts
    path_options: tuple[str, ...]
    config: dict[str, Any]


def check_new_workload(ref: str, config: dict[str, Any]) -> NewWorkload:
    """Load the workload `ref` with `config` and `check_workload` it, for a new session."""
    from tunebook.core.workloads import load_workload

    loaded = load_workload(ref, config)
    facts = check_workload(loaded)
    return NewWorkload(facts, tuple(type(loaded).path_options), loaded.config())


def _planned_coverage(plan: StudyPlan, design: ExperimentDesign) -> dict[str, Coverage]:
    if not plan.sampled_scientific:
        return {}
    points = [plan.trial_hparams(index) for index in range(plan.trials)]
    return coverage(points, {name: design.scientific[name] for name in plan.sampled_scientific})


def add_experiment_from_spec(session: Session, spec_path: str | Path) -> AddedExperiment:
    """Read a TOML spec, validate it against the session's workload, and store it."""
    return add_experiment(session, str(spec_path), str(spec_path))


def add_experiment_from_dict(
    session: Session, spec: Mapping[str, Any], source: str, workload: Workload | None = None
) -> AddedExperiment:
    """The same from a dict shaped like the TOML spec (scripts, the demo, the TUI)."""
    return add_experiment(session, dict(spec), source, workload)


def session_workload(session: Session) -> Workload:
    """The workload the session tunes, rebuilt from its stored reference and config with
    its files found from the session file's folder (a missing one is one sentence)."""
    from tunebook.core.workloads import load_workload

    source = session_workload_source(session)
    source.check()
    return load_workload(source.ref, source.config)


def _with_decisions(design: ExperimentDesign, source: str, facts: SessionFacts) -> ExperimentDesign:
    """Fill `max_train_steps` and `batch_size` from the session's decisions when the spec
    leaves them out (DESIGN.md); without a decision, the spec must give them."""
    if design.max_train_steps is None:
        if facts.max_train_steps is None:
            raise SpecError(
                source,
                "max_train_steps is missing; set it at the top of the spec "
                "(PB-19: one value for every trial)",
            )
        design = replace(design, max_train_steps=facts.max_train_steps)
    varied = set(design.scientific) | set(design.nuisance.names)
    left_out = "batch_size" not in design.fixed and "batch_size" not in varied
    if left_out and facts.batch_size is not None:
        design = replace(design, fixed={**design.fixed, "batch_size": facts.batch_size})
    return design
