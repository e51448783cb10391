"""The final test-set evaluation, run once at the very end (PB-18).

The test split is for reporting the chosen configuration, not for choosing it: each look
at it that informs a decision turns it into a second validation set. So the session
records one evaluation: the chosen trial's best checkpoint (by default the latest launch's
trial) on the workload's test split. A second one is refused while a completed one exists,
and a workload without a test split is told so before anything runs. The same checkpoint
is evaluated on the validation split too, and must reproduce the objective the session
stored for it: a difference means the data or the workload changed since training, and the
summary warns. The evaluation runs in a worker like every probe unit (`final_test_unit`),
which reads the checkpoint from the session file and loads it with `weights_only=True`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.probe import (
    FINAL_TEST_UNIT,
    Points,
    ProbePlan,
    Unit,
    train_payload,
)
from tunebook.core.trial_detail import kept_checkpoints
from tunebook.sessions import (
    BadInput,
    CheckpointKind,
    ProbeKind,
    Session,
    TrialStatus,
    current_baseline,
)
from tunebook.sessions.report import final_test

if TYPE_CHECKING:
    from tunebook.core.project_start.project import Project
    from tunebook.core.workloads import Workload

#: The checkpoint's validation objective may differ from the stored one by this much
#: (relative) before the summary warns: evaluation order changes the last bits only.
REPRODUCE_TOLERANCE = 1e-4
KEY = "test"


class FinalTestProbe(ProbePlan):
    """One evaluation of the chosen trial's best checkpoint on the test split (PB-18)."""

    kind = ProbeKind.FINAL_TEST
    name = "final-test"
    title = "Final test"
    playbook = ("PB-18",)
    decision = None
    parallel = False

    def plan_config(
        self, session: Session, workload: Workload, project: Project, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        done = final_test(session)
        if done is not None:
            raise BadInput(
                f"the test set of '{session.path}' was already evaluated (probe {done['probe']}: "
                f"trial {done['trial']}, test {done['objective']} {done['value']:.4g}); the "
                "playbook evaluates it once, on the final "
                f"choice (PB-18): see it with 'tunebook final-test {session.path} --show'"
            )
        if workload.splits(0).test is None:
            raise BadInput(
                f"workload {workload.ref!r} has no test split: there is nothing to evaluate "
                "(a workload provides one as Splits(test=...))"
            )
        trial_id = _chosen_trial(session, options.get("trial"))
        trial = session.trial(trial_id)
        if trial.status is not TrialStatus.COMPLETED:
            raise BadInput(
                f"trial {trial_id} is {trial.status.value}: only a completed trial has a "
                "final checkpoint"
            )
        study = session.study(trial.study_id)
        best = [
            c
            for c in kept_checkpoints(session.checkpoints(trial_id), study.objective_mode)
            if c.kind is CheckpointKind.BEST
        ]
        if not best:
            raise BadInput(f"trial {trial_id} kept no checkpoint to evaluate")
        experiment = session.experiment(study.experiment_id)
        return {
            "trial": trial_id,
            "experiment": experiment.name,
            "hparams": {**study.fixed, **trial.params},
            "max_train_steps": experiment.max_train_steps,
            "objective": study.objective_metric,
            "mode": study.objective_mode,
            "checkpoint": best[0].id,
            "checkpoint_step": best[0].step,
            "stored_value": best[0].value,
            "session": str(Path(session.path).resolve()),
        }

    def next_units(self, config: Mapping[str, Any], points: Points) -> list[Unit]:
        payload = train_payload(
            config,
            config["hparams"],
            max_train_steps=config["max_train_steps"],
            checkpoint=config["checkpoint"],
            session=config["session"],
        )
        return [Unit(KEY, FINAL_TEST_UNIT, payload)]

    def summarize(self, config: Mapping[str, Any], points: Points) -> dict[str, Any]:
        point = points.get(KEY, {})
        metric = config["objective"]
        test = point.get("test", {})
        validation = point.get("validation", {})
        warnings = []
        if point.get("status") != "ok":
            warnings.append(
                f"the evaluation {point.get('status', 'did not run')}: {point.get('error', '')}"
            )
        validation_value = validation.get(f"validation/{metric}")
        stored = config["stored_value"]
        if (
            validation_value is not None
            and stored is not None
            and not math.isclose(validation_value, stored, rel_tol=REPRODUCE_TOLERANCE)
        ):
            warnings.append(
                f"the checkpoint's validation {metric} is {validation_value:.6g} now but "
                f"{stored:.6g} when it was trained: the data or the workload changed since"
            )
        return {
            "trial": config["trial"],
            "experiment": config["experiment"],
            "objective": metric,
            "mode": config["mode"],
            "checkpoint_step": config["checkpoint_step"],
            "stored_value": stored,
            "test_value": test.get(f"test/{metric}"),
            "validation_value": validation_value,
            "test": test,
            "validation": validation,
            "warnings": warnings,
            "recommendation": None,
        }


def _chosen_trial(session: Session, trial: Any) -> int:
    """The trial named, else the latest launch's (the adopted configuration)."""
    if trial is not None:
        return int(trial)
    baseline = current_baseline(session.launches())
    if baseline is None:
        raise BadInput(
            "no trial to evaluate: adopt the final configuration first ('tunebook adopt "
            "PATH TRIAL') or name a trial with --trial"
        )
    return int(baseline.trial_id or 0)
