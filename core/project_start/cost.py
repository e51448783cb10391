"""What a trial will cost, from the project-start measurements (PB-4, PB-10).

The initial-configuration decision keeps the time per step the batch-size probe measured at
the decided size plus the evaluation overhead of its short runs; a trial of N steps costs
about N times that. `experiment add` prints the estimate for the design's trials.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunebook.sessions import DecisionKind, Session


@dataclass(frozen=True)
class CostEstimate:
    """Seconds per trial and for the whole design, run on `workers` workers."""

    seconds_per_step: float
    seconds_per_trial: float
    trials: int
    workers: int

    @property
    def wall_seconds(self) -> float:
        """The design's trials spread over the workers (whole waves of trials)."""
        waves = -(-self.trials // self.workers)
        return waves * self.seconds_per_trial


def estimate_cost(
    session: Session, max_train_steps: int, trials: int, workers: int = 1
) -> CostEstimate | None:
    """The estimate from the initial-configuration decision's evidence, or None when the
    session has no measured time per step (no probe yet)."""
    decision = session.decision(DecisionKind.INITIAL_CONFIG)
    per_step = None if decision is None else decision.evidence.get("seconds_per_step")
    if not per_step:
        return None
    return CostEstimate(per_step, per_step * max_train_steps, trials, max(1, workers))
