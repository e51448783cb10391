"""Confirming a decision: the values the user gives, or the latest probe's recommendation.

The command line (`tunebook decide`) and the app (through it) both come here, so a decision
records the same value, rationale and evidence whichever way it was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.decisions import decide
from tunebook.core.project_start.model import decide_model, parse_scalar, parse_values
from tunebook.core.project_start.optimizer import decide_optimizer, suggest_optimizer
from tunebook.core.project_start.registry import probe_plan
from tunebook.sessions import BadInput, Decision, Session

if TYPE_CHECKING:
    from tunebook.core.workloads import Workload


#: Decision name (as typed) → the probe whose recommendation it takes by default.
PROBED = {
    "batch-size": "batch-size",
    "initial-config": "initial-config",
    "training-length": "training-length",
    "stability": "stability",
}


def confirm_decision(
    session: Session,
    workload: Workload,
    what: str,
    words: Sequence[str],
    frozen: Sequence[str] = (),
    rationale: str = "",
) -> Decision:
    """Record decision `what` from command-line words; with none, a probed decision takes
    its probe's recommendation. BadInput names the word or the missing probe."""
    if what == "model":
        return decide_model(session, workload, parse_values(workload, list(words)), rationale)
    if what == "optimizer":
        name = words[0] if words else suggest_optimizer(workload).name
        hparams = _assignments(words[1:], f"optimizer {name}")
        return decide_optimizer(session, workload, name, hparams, frozen, rationale)
    if what not in PROBED:
        raise BadInput(
            f"there is no decision {what!r} (decisions: model, optimizer, {', '.join(PROBED)})"
        )
    plan = probe_plan(PROBED[what])
    if frozen:
        raise BadInput("--freeze applies to the optimizer decision only")
    probe = session.latest_probe(plan.kind)
    evidence: dict[str, Any] = {}
    if probe is not None and probe.status == "completed":
        evidence = {"probe": probe.id, **_evidence(what, probe.summary)}
    if words:
        value = _typed_value(what, words)
        why = rationale or "given by hand"
    else:
        found = (
            None
            if probe is None or probe.status != "completed"
            else plan.recommendation(probe.summary)
        )
        if found is None:
            raise BadInput(
                f"no completed {plan.name} probe with a recommendation in '{session.path}'; run "
                f"'tunebook probe {plan.name} {session.path}' first, or give the value"
            )
        value, why = found.value, rationale or found.rationale
    return decide(session, workload, plan.decision, value, why, evidence)


def _typed_value(what: str, words: Sequence[str]) -> Any:
    """The value of a probed decision from its words, checked."""
    if what == "stability":
        values = _assignments(words, "stability")
        unknown = set(values) - {"warmup_steps", "grad_clip"}
        if unknown:
            raise BadInput(
                f"stability takes warmup_steps=N and grad_clip=X, not {sorted(unknown)[0]}"
            )
        warmup = values.get("warmup_steps", 0)
        clip = values.get("grad_clip")
        if not isinstance(warmup, int) or warmup < 0:
            raise BadInput(f"warmup_steps must be a non-negative integer, got {warmup!r}")
        if clip is not None and not (isinstance(clip, (int, float)) and clip > 0):
            raise BadInput(f"grad_clip must be a positive number, got {clip!r}")
        return {"warmup_steps": warmup, "grad_clip": clip}
    if len(words) != 1:
        raise BadInput(f"{what} takes one value, got {len(words)}: {' '.join(words)}")
    value = parse_scalar(words[0])
    if what == "initial-config":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise BadInput(f"the learning rate must be a positive number, got {words[0]!r}")
        return {"learning_rate": float(value), "schedule": "constant"}
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInput(f"{what} must be a positive integer, got {words[0]!r}")
    return value


def _assignments(words: Sequence[str], where: str) -> dict[str, Any]:
    values = {}
    for word in words:
        name, sep, text = word.partition("=")
        if not sep or not name:
            raise BadInput(f"'{word}' is not NAME=VALUE ({where})")
        values[name] = parse_scalar(text)
    return values


def _evidence(what: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The numbers a decision keeps from its probe (the full probe stays in the session)."""
    keys = {
        "batch-size": ("saturates_at", "ceiling", "input_bound", "device"),
        "initial-config": (
            "chance",
            "best_value",
            "beats_chance",
            "seconds_per_step",
            "seconds_per_trial",
            "trial_steps",
        ),
        "training-length": ("best_learning_rate", "fastest_learning_rate", "edge", "steps"),
        "stability": (
            "unstable",
            "unstable_at",
            "phase",
            "stable_warmup",
            "clip_threshold",
            "clipped_share",
        ),
    }[what]
    return {key: summary.get(key) for key in keys} | {"warnings": summary.get("warnings", [])}
