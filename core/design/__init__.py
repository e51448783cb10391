"""Experiment design (PB-5…PB-10): the TOML spec, roles, advice and study layouts.

``load_spec(path)`` validates a spec into an `ExperimentDesign`; `plan_studies` splits it
into studies (PB-9); `advise` lists the playbook's warnings; `propose_roles` pre-fills
roles by PB-8's rules of thumb; `spec_to_toml` writes a spec dict back as the TOML file;
`draft` is what the app's designer edits.
Nothing here imports torch or textual.
"""

from tunebook.core.design.advice import Advice, advise
from tunebook.core.design.draft import (
    Draft,
    DraftHParam,
    Estimate,
    Issue,
    Preview,
    check,
    draft_from_experiment,
    draft_from_session,
    estimate,
    preview,
    to_spec,
)
from tunebook.core.design.layouts import Coverage, StudyPlan, Variant, coverage, plan_studies
from tunebook.core.design.roles import (
    TRAINING_HPARAMS,
    Role,
    adam_nuisance_set,
    explain_role,
    propose_roles,
)
from tunebook.core.design.spec import (
    ConditionalSpace,
    ExperimentDesign,
    Objective,
    SearchSettings,
    SpecError,
    design_from_dict,
    key_name,
    load_spec,
    parse_spec,
)
from tunebook.core.design.spec_toml import spec_to_toml

__all__ = [
    "TRAINING_HPARAMS",
    "Advice",
    "ConditionalSpace",
    "Coverage",
    "Draft",
    "DraftHParam",
    "Estimate",
    "ExperimentDesign",
    "Issue",
    "Objective",
    "Preview",
    "Role",
    "SearchSettings",
    "SpecError",
    "StudyPlan",
    "Variant",
    "adam_nuisance_set",
    "advise",
    "check",
    "coverage",
    "design_from_dict",
    "draft_from_experiment",
    "draft_from_session",
    "estimate",
    "explain_role",
    "key_name",
    "load_spec",
    "parse_spec",
    "plan_studies",
    "preview",
    "propose_roles",
    "spec_to_toml",
    "to_spec",
]
