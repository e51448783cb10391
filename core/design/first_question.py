"""The first experiment's suggested question (PB-7): one narrow goal over the model's size.

A new session's first round has no earlier result to follow up, so the designer starts
from the question most projects ask first: does a larger model help? The first integer
architecture hyperparameter (width, depth, …) becomes scientific at its decided value and
twice that; the learning rate and the optimizer's other hyperparameters stay nuisance as
`draft_from_session` proposed them (PB-8, PB-28). The user can change all of it.
"""

from __future__ import annotations

from tunebook.core.design.draft import Draft, set_role
from tunebook.core.design.roles import Role


def suggest_first_question(draft: Draft, metric: str) -> Draft:
    """`draft` with a scientific size hyperparameter, a goal and a name, when the pipeline
    has an integer architecture hyperparameter and nothing is scientific yet; else `draft`
    as it is."""
    if any(row.role is Role.SCIENTIFIC for row in draft.hparams):
        return draft
    size = next(
        (row for row in draft.hparams if row.group == "architecture" and row.kind == "int"),
        None,
    )
    if size is None:
        return draft
    set_role(size, Role.SCIENTIFIC, draft.max_train_steps)  # its value and twice that
    size.reason = f"{size.name}: scientific — the suggested first question (PB-7)"
    draft.goal = draft.goal or f"Does a larger {size.name} lower {metric}?"
    draft.name = draft.name or size.name
    return draft
