"""From a trial's flat hyperparameters to a `TrialConfig` for the training loop.

A study stores every hyperparameter in one flat dict (fixed, scientific and sampled
nuisance values together). The runner-level ones (`optimizer`, `batch_size`, `grad_clip`)
become `TrialConfig` fields; the rest — architecture, optimizer and schedule hyperparameters
— stay in `hparams`, where the loop sorts them and refuses any nobody declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunebook.core.training import (
    OPTIMIZERS,
    SCHEDULE_HPARAMS,
    Schedule,
    TrialConfig,
    check_optimizer,
    split_hparams,
)
from tunebook.core.workloads import HParam, Workload

if TYPE_CHECKING:
    from tunebook.core.execution.trial_task import TrialTask

#: Hyperparameters the loop takes as `TrialConfig` fields rather than from `hparams`.
RUN_HPARAMS = ("optimizer", "batch_size", "grad_clip")
#: How `batch_size` is read from a trial's hyperparameters (a spec may hold any TOML value).
BATCH_SIZE = HParam("batch_size", TrialConfig.batch_size, "int", help="examples per step")
#: Experiment-level training settings an experiment's design may set (DESIGN.md spec).
SETTINGS = ("eval_every", "checkpoint_every", "keep_best")
#: Defaults of the experiment-level settings when a design leaves them out.
DEFAULT_EVAL_EVERY_FRACTION = 20  # evaluate 20 times per trial
DEFAULT_CHECKPOINTS_PER_TRIAL = 10  # a resume state every tenth of the step budget
#: ... but, unless the design sets `checkpoint_every`, not sooner than this many seconds after
#: the last one: a trial of a few seconds is cheaper to re-run after a crash than to save
#: ten times (a 0.4 s trial spent 7% of its time writing its resume states; issue 13).
DEFAULT_CHECKPOINT_MIN_SECONDS = 30.0


def known_hparams(workload: Workload) -> set[str]:
    """Every hyperparameter name a spec may use with this workload."""
    names = {h.name for h in workload.hparams} | {h.name for h in SCHEDULE_HPARAMS}
    for spec in OPTIMIZERS.values():
        names |= set(spec.names)
    return names | set(RUN_HPARAMS)


def hparam_defaults(workload: Workload) -> dict[str, Any]:
    """What a trial trains with for each hyperparameter its study leaves out, as recorded
    in an experiment's design for the exports (`tunebook.sessions.report.trained_hparams`):
    `common` (the workload's, the schedule's and the runner-level ones) and, per optimizer,
    its `defaults` and `aliases` (alias → the name it sets)."""
    run_defaults = {
        "optimizer": TrialConfig.optimizer,
        "batch_size": TrialConfig.batch_size,
        "grad_clip": TrialConfig.grad_clip,
    }
    return {
        "common": {
            **{h.name: h.default for h in (*workload.hparams, *SCHEDULE_HPARAMS)},
            **run_defaults,
        },
        "optimizers": {
            name: {
                "defaults": {h.name: h.default for h in spec.hparams},
                "aliases": {alias: target for alias, (target, _) in spec.aliases.items()},
            }
            for name, spec in OPTIMIZERS.items()
        },
    }


def config_from_hparams(
    workload: Workload,
    hparams: Mapping[str, Any],
    *,
    max_train_steps: int,
    settings: Mapping[str, Any] | None = None,
    objective: tuple[str, str] | None = None,
    init_seed: int = 0,
    data_seed: int = 0,
    threads: int | None = None,
    device: str = "cpu",
) -> TrialConfig:
    """Build and check the loop's config; raises BadInput naming an undeclared hparam."""
    settings = dict(settings or {})
    rest = dict(hparams)
    optimizer = str(rest.pop("optimizer", "adam"))
    run = {name: rest.pop(name) for name in RUN_HPARAMS[1:] if name in rest}
    split_hparams(workload, optimizer, rest)  # refuses names nobody declares, now
    eval_every = settings.get("eval_every", max(1, max_train_steps // DEFAULT_EVAL_EVERY_FRACTION))
    checkpoint_every = settings.get(
        "checkpoint_every", max(1, max_train_steps // DEFAULT_CHECKPOINTS_PER_TRIAL)
    )
    checkpoint_min_seconds = (
        0.0 if "checkpoint_every" in settings else DEFAULT_CHECKPOINT_MIN_SECONDS
    )
    return TrialConfig(
        hparams=rest,
        optimizer=optimizer,
        batch_size=BATCH_SIZE.coerce(run.get("batch_size", BATCH_SIZE.default)),
        grad_clip=run.get("grad_clip"),
        max_train_steps=int(max_train_steps),
        eval_every=int(eval_every),
        checkpoint_every=int(checkpoint_every),
        checkpoint_min_seconds=checkpoint_min_seconds,
        keep_best=int(settings.get("keep_best", 1)),
        init_seed=init_seed,
        data_seed=data_seed,
        threads=threads,
        device=device,
        objective_metric=None if objective is None else objective[0],
        objective_mode=None if objective is None else objective[1],
    )


def check_hparams(workload: Workload, hparams: Mapping[str, Any], max_train_steps: int) -> None:
    """Refuse, now, values a trial would refuse later: an architecture value outside its
    kind or choices, an optimizer value torch rejects, a bad schedule (BadInput, one sentence)."""
    config = config_from_hparams(workload, hparams, max_train_steps=max_train_steps)
    architecture, optimizer, schedule = split_hparams(workload, config.optimizer, config.hparams)
    workload.resolve_hparams(architecture)
    check_optimizer(config.optimizer, optimizer)
    Schedule.from_hparams(schedule, max_train_steps)


def build_trial_config(workload: Workload, task: TrialTask, device: str) -> TrialConfig:
    """The config of a runner's trial task, trained on `device`."""
    return config_from_hparams(
        workload,
        task.hparams,
        max_train_steps=task.max_train_steps,
        settings=task.settings,
        objective=(task.objective_metric, task.objective_mode),
        init_seed=task.init_seed,
        data_seed=task.data_seed,
        threads=task.threads,
        device=device,
    )
