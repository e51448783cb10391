"""Recording a project-start decision, and marking the ones built on it stale.

Each decision depends on the ones before it in the playbook's order: the batch size was
measured with a model and an optimizer (PB-3: re-probe when they change), the initial
configuration and the training length with a batch size (changing it means re-tuning most
hyperparameters), the stability fixes with a learning rate and a step budget. A decision
stores the values it was made with (`evidence.inputs`); deciding anything again marks every
later decision made with another value stale, with the reason, until it is decided anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.project import project_of
from tunebook.sessions import Decision, DecisionKind, Session

if TYPE_CHECKING:
    from tunebook.core.workloads import Workload


#: Each decision and the decisions it is made with.
DEPENDS_ON: dict[DecisionKind, tuple[DecisionKind, ...]] = {
    DecisionKind.MODEL: (),
    DecisionKind.OPTIMIZER: (),
    DecisionKind.BATCH_SIZE: (DecisionKind.MODEL, DecisionKind.OPTIMIZER),
    DecisionKind.INITIAL_CONFIG: (
        DecisionKind.MODEL,
        DecisionKind.OPTIMIZER,
        DecisionKind.BATCH_SIZE,
    ),
    DecisionKind.MAX_TRAIN_STEPS: (
        DecisionKind.MODEL,
        DecisionKind.OPTIMIZER,
        DecisionKind.BATCH_SIZE,
        DecisionKind.INITIAL_CONFIG,
    ),
    DecisionKind.STABILITY: (
        DecisionKind.MODEL,
        DecisionKind.OPTIMIZER,
        DecisionKind.BATCH_SIZE,
        DecisionKind.INITIAL_CONFIG,
        DecisionKind.MAX_TRAIN_STEPS,
    ),
}

#: How a decision is named in messages.
DECISION_TITLES = {
    DecisionKind.MODEL: "model",
    DecisionKind.OPTIMIZER: "optimizer",
    DecisionKind.BATCH_SIZE: "batch size",
    DecisionKind.INITIAL_CONFIG: "initial configuration",
    DecisionKind.MAX_TRAIN_STEPS: "training length",
    DecisionKind.STABILITY: "stability",
}


def decide(
    session: Session,
    workload: Workload,
    kind: DecisionKind,
    value: Any,
    rationale: str = "",
    evidence: Mapping[str, Any] | None = None,
) -> Decision:
    """Record `value` as the decision of `kind`, with the values of the decisions it was
    made with, and mark stale each later decision that was made with a different one."""
    inputs = project_of(session, workload).inputs()
    evidence = {
        **dict(evidence or {}),
        "inputs": {k.value: inputs[k.value] for k in DEPENDS_ON[kind]},
    }
    with session.transaction():
        decision = session.record_decision(kind, value, rationale, evidence)
        now = project_of(session, workload).inputs()
        for later, depends in DEPENDS_ON.items():
            current = session.decision(later)
            if kind not in depends or current is None or current.stale:
                continue
            made_with = current.evidence.get("inputs", {}).get(kind.value)
            if made_with != now[kind.value]:
                session.mark_stale(
                    later,
                    f"the {DECISION_TITLES[kind]} decision changed after it was made "
                    f"(now {_short(now[kind.value])}); decide it again"
                    + (" after a new probe" if later is not DecisionKind.MODEL else ""),
                )
    return decision


def _short(value: Any) -> str:
    if isinstance(value, dict):
        if "name" in value:
            return str(value["name"])
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
