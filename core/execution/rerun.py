"""`tunebook trial rerun`: run one stored trial again, in this process, into the same row.

The trial keeps its hyperparameters and seeds (PB-24: the reproduce command); its old
metrics and checkpoints are replaced. On CPU with the same versions the numbers match,
which is what makes the reproduce command worth storing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from tunebook.core.execution.reporting import SessionReporter
from tunebook.core.execution.runner import record_outcome, task_for
from tunebook.core.execution.trial_task import run_trial_task
from tunebook.core.workload_source import announce_foreign_code, session_workload_source
from tunebook.sessions import Session, Trial
from tunebook.sessions.report import RUNNER_STALE_AFTER


def rerun_trial(
    path: str | os.PathLike[str], trial_id: int, notice: Callable[[str], None] | None = None
) -> tuple[Trial, Trial]:
    """Re-run trial `trial_id`; returns its record before and after. `notice` is shown a
    line before the workload is imported when another user or host created the session."""
    with Session.open(path) as session:
        session.trial(trial_id)  # no such trial: say so before anything else
        session_workload_source(session).check()  # before the trial's results are reset
        session.claim_runner(RUNNER_STALE_AFTER, command=f"trial rerun {trial_id}")
        try:
            announce_foreign_code(session, notice)
            before = reset_for_rerun(session, trial_id)
            trial = session.start_trial(trial_id)
            study = session.study(trial.study_id)
            reporter = SessionReporter(session, trial_id, study.objective_mode)
            outcome = run_trial_task(task_for(session, trial, os.cpu_count() or 1), reporter)
            record_outcome(session, reporter, outcome)
            session.log_event("user", "trial.rerun", f"trial {trial_id} re-run")
            return before, session.trial(trial_id)
        finally:
            session.release_runner()


def reset_for_rerun(session: Session, trial_id: int) -> Trial:
    """Put trial `trial_id` back to pending, cleared (its metrics, checkpoints and results
    go; its hyperparameters and seeds stay), after checking that the workload's files are
    here; returns its record from before. The caller holds the runner claim, so no runner
    writes the trial meanwhile."""
    before = session.trial(trial_id)
    session_workload_source(session).check()
    session.reset_trial(trial_id)
    return before
