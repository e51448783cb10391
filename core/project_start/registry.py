"""Every probe by its command-line name: the project-start ones, the seed-variance probe
that adoption runs (`tunebook adopt`, PB-17) and the final test (`tunebook final-test`,
PB-18)."""

from __future__ import annotations

from tunebook.core.analysis.adoption import SeedVarianceProbe
from tunebook.core.analysis.final_test import FinalTestProbe
from tunebook.core.project_start.batch_size import BatchSizeProbe
from tunebook.core.project_start.initial_config import InitialConfigProbe
from tunebook.core.project_start.probe import ProbePlan
from tunebook.core.project_start.stability import StabilityProbe
from tunebook.core.project_start.training_length import TrainingLengthProbe
from tunebook.sessions import BadInput

PROBES: dict[str, ProbePlan] = {
    plan.name: plan
    for plan in (
        BatchSizeProbe(),
        InitialConfigProbe(),
        TrainingLengthProbe(),
        StabilityProbe(),
        SeedVarianceProbe(),
        FinalTestProbe(),
    )
}
#: Other names a probe answers to (DESIGN.md's `tunebook probe lr`).
ALIASES = {"lr": "training-length", "batch_size": "batch-size"}


def probe_plan(name: str) -> ProbePlan:
    """The probe called `name`; BadInput listing the probes otherwise."""
    plan = PROBES.get(ALIASES.get(name, name))
    if plan is None:
        raise BadInput(f"there is no probe {name!r} (probes: {', '.join(PROBES)})")
    return plan
