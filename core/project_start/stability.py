"""The stability probe (PB-30, PB-31): is training stable just above the best learning rate?

After the training-length sweep, the probe trains a short run at `RATE_FACTOR` (2×) the
sweep's best learning rate, evaluating every step. The documented rule: a run is unstable
when it diverges (non-finite or exploding loss) or its training loss climbs above
`SPIKE` × its first step's loss; the instability is *early* when it starts in the first
`EARLY_SHARE` (10%) of the steps, else *mid-training*. When it is unstable, a warmup sweep
follows: warmup lengths by orders of magnitude (10, 100, …) up to 10% of `max_train_steps`,
each run at the same 2× rate for the warmup plus about twice as long again, and the
shortest warmup whose run is stable is proposed. The clipping threshold is the 90th
percentile of the unclipped gradient norms of the best rate's sweep run, with the share of
the 2× run's steps it would clip; clipping more than half of them means the rate is too
high (PB-30). The loss curves of the sweep's rates above the best are shown alongside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tunebook.core.project_start.probe import (
    TRAIN_UNIT,
    Points,
    ProbePlan,
    Unit,
    lr_key,
    steps_option,
    train_payload,
)
from tunebook.sessions import DecisionKind, ProbeKind, Session

if TYPE_CHECKING:
    from tunebook.core.project_start.project import Project
    from tunebook.core.workloads import Workload

RATE_FACTOR = 2.0
SPIKE = 1.5
EARLY_SHARE = 0.1
DEFAULT_STEPS = 500
CLIP_PERCENTILE = 90
CLIP_WARNING_SHARE = 0.5


class StabilityProbe(ProbePlan):
    """A run at twice the best rate, then a warmup sweep and a clipping threshold."""

    kind = ProbeKind.STABILITY
    name = "stability"
    title = "Stability"
    playbook = ("PB-30", "PB-31")
    decision = DecisionKind.STABILITY

    def plan_config(
        self, session: Session, workload: Workload, project: Project, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        sweep = session.latest_probe(ProbeKind.LEARNING_RATE)
        best_lr, above, norms, sweep_id = project.learning_rate, [], [], None
        if (
            sweep is not None
            and sweep.status == "completed"
            and sweep.summary.get("best_learning_rate")
        ):
            best_lr = float(sweep.summary["best_learning_rate"])
            sweep_id = sweep.id
            norms = sweep.points.get(lr_key(best_lr), {}).get("grad_norm", [])
            above = [
                {
                    "learning_rate": float(k.removeprefix("lr=")),
                    "loss": p.get("loss", []),
                    "status": p.get("status"),
                }
                for k, p in sweep.points.items()
                if float(k.removeprefix("lr=")) > best_lr
            ]
        best_lr = float(options.get("learning_rate") or best_lr)
        budget = project.max_train_steps or int(options.get("steps") or DEFAULT_STEPS)
        steps = steps_option(options, min(DEFAULT_STEPS, budget), 10)
        warmups = [10**k for k in range(1, 9) if 10**k <= budget // 10] or [max(1, budget // 10)]
        return {
            "best_learning_rate": best_lr,
            "rate": best_lr * RATE_FACTOR,
            "steps": steps,
            "max_train_steps": budget,
            "warmups": warmups,
            "hparams": project.hparams(),
            "sweep_probe": sweep_id,
            "sweep_grad_norms": [n for n in norms if n is not None],
            "above_best": above,
            "inputs": project.inputs(),
        }

    def _unit(self, config: Mapping[str, Any], key: str, warmup: int) -> Unit:
        steps = max(config["steps"], 3 * warmup)
        hparams = {**config["hparams"], "learning_rate": config["rate"], "warmup_steps": warmup}
        payload = train_payload(config, hparams, max_train_steps=steps, eval_every=1)
        return Unit(key, TRAIN_UNIT, payload)

    def next_units(self, config: Mapping[str, Any], points: Points) -> list[Unit]:
        units = [self._unit(config, "2x", 0)]
        if "2x" in points and instability(points["2x"]) is not None:
            units += [self._unit(config, f"warmup={w}", w) for w in config["warmups"]]
        return units

    def summarize(self, config: Mapping[str, Any], points: Points) -> dict[str, Any]:
        return analyse_stability(config, points)


def instability(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where a run became unstable (`step`, `why`), or None when it trained stably."""
    losses = run.get("loss", [])
    if run.get("status") == "failed":
        return {"step": None, "why": run.get("error", "failed")}
    first = next((v for v in losses if v is not None), None)
    for step, value in enumerate(losses, start=1):
        if value is None or not math.isfinite(value):
            return {"step": step, "why": "the loss became non-finite"}
        if first is not None and step > 1 and value > SPIKE * first:
            return {"step": step, "why": f"the loss rose above {SPIKE:g}× its first value"}
    if run.get("status") == "infeasible":
        return {"step": len(losses), "why": run.get("reason") or "diverged"}
    return None


def analyse_stability(config: Mapping[str, Any], points: Points) -> dict[str, Any]:
    """The 2× run's verdict, the warmup sweep's answer and the clipping threshold."""
    warnings: list[str] = []
    steps = config["steps"]
    run = points.get("2x")
    verdict = None if run is None else instability(run)
    phase = None
    if verdict is not None and verdict["step"] is not None:
        phase = "early" if verdict["step"] <= max(1, EARLY_SHARE * steps) else "mid-training"
    warmups = []
    for w in config["warmups"]:
        point = points.get(f"warmup={w}")
        if point is not None:
            found = instability(point)
            warmups.append(
                {
                    "warmup_steps": w,
                    "stable": found is None,
                    "unstable_at": None if found is None else found["step"],
                    "loss": point.get("loss", []),
                }
            )
    stable_warmup = next((w["warmup_steps"] for w in warmups if w["stable"]), None)
    norms = [n for n in config.get("sweep_grad_norms", []) if n is not None]
    run_norms = [n for n in (run or {}).get("grad_norm", []) if n is not None]
    source = "the best learning rate's sweep run"
    if not norms:
        norms, source = run_norms, "the 2× run"
    threshold = float(np.percentile(norms, CLIP_PERCENTILE)) if norms else None
    clipped = None
    if threshold is not None and run_norms:
        clipped = sum(n > threshold for n in run_norms) / len(run_norms)
        if clipped > CLIP_WARNING_SHARE:
            warnings.append(
                f"clipping at {threshold:.3g} would clip {clipped:.0%} of the 2× run's steps, "
                f"more than {CLIP_WARNING_SHARE:.0%}: lower the learning rate instead (PB-30)"
            )
    if verdict is None:
        value = {"warmup_steps": 0, "grad_clip": None}
        why = (
            f"training at 2× the best learning rate ({config['rate']:.3g}) is stable: "
            "no warmup or clipping needed"
        )
    elif stable_warmup is not None:
        value = {"warmup_steps": stable_warmup, "grad_clip": None}
        why = (
            f"2× the best learning rate is unstable ({phase}, {verdict['why']}); a linear "
            f"warmup of {stable_warmup} steps makes it stable"
        )
    else:
        value = {"warmup_steps": 0, "grad_clip": threshold}
        why = (
            f"2× the best learning rate is unstable ({phase or 'at once'}, "
            f"{verdict['why']}) and no warmup up to "
            f"{max(config['warmups'])} steps fixed it; clip gradients at {threshold:.3g}"
            if threshold is not None
            else "no gradient norms were recorded"
        )
        if len(warmups) == len(config["warmups"]):
            warnings.append(
                "no warmup made the higher rate stable: try clipping, another optimizer, or "
                "residual connections with normalization; lower the learning rate last (PB-30)"
            )
    return {
        "rate": config["rate"],
        "best_learning_rate": config["best_learning_rate"],
        "unstable": verdict is not None,
        "unstable_at": None if verdict is None else verdict["step"],
        "why": None if verdict is None else verdict["why"],
        "phase": phase,
        "warmups": warmups,
        "stable_warmup": stable_warmup,
        "clip_threshold": threshold,
        "clip_source": source,
        "clipped_share": clipped,
        "loss": (run or {}).get("loss", []),
        "validation": (run or {}).get("validation", []),
        "grad_norm": run_norms,
        "above_best": config.get("above_best", []),
        "recommendation": None if run is None else {"value": value, "rationale": why},
        "warnings": warnings,
    }
