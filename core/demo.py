"""The demo session on the built-in default workload.

In a terminal, `tunebook demo` opens the app on an empty session: the guided path, from
the model to the first experiment, its review, adoption and exploitation. Headless (no
terminal, or `--headless`), it runs a ready-made small experiment in about a minute on a
laptop CPU: one goal (does depth help?), one study per scientific value, the learning rate
as the nuisance hyperparameter tuned by quasi-random search, then the comparison.
"""

from __future__ import annotations

from pathlib import Path

from tunebook.core.experiments import add_experiment_from_dict, check_workload
from tunebook.core.workloads import load_workload
from tunebook.sessions import BadInput, Session

DEMO_WORKLOAD = "tabular"
DEMO_SPEC = {
    "name": "depth",
    "goal": "Does a deeper MLP lower validation error?",
    "max_train_steps": 400,
    "eval_every": 20,
    "fixed": {"optimizer": "adam", "batch_size": 64, "width": 64},
    "scientific": {"depth": [1, 2, 3]},
    "nuisance": {"learning_rate": {"low": 3e-4, "high": 3e-2, "scale": "log"}},
    "search": {"algorithm": "quasi-random", "trials": 6, "seed": 0},
}


#: The `meta` entry that marks a session made by `tunebook demo`.
DEMO_META_KEY, DEMO_META_VALUE = "made_by", "tunebook demo"


def prepare_demo(path: Path, with_study: bool = True) -> bool:
    """Create the demo session at `path`, or reuse one made earlier (it resumes where it
    stopped). `with_study` adds the ready-made depth study that a headless demo runs; the
    app's demo leaves the session empty for the guided path (model → … → first experiment),
    where the user designs the first experiment. Returns True when it was created now."""
    if path.exists():
        with Session.open(path) as session:
            names = [e.name for e in session.experiments()]
            is_demo = (
                session.meta_value(DEMO_META_KEY) == DEMO_META_VALUE or DEMO_SPEC["name"] in names
            )
            if session.info().workload != DEMO_WORKLOAD or not is_demo:
                raise BadInput(f"'{path}' exists and is not a demo session; give another path")
            if with_study and DEMO_SPEC["name"] not in names:
                add_experiment_from_dict(session, DEMO_SPEC, "<demo>", load_workload(DEMO_WORKLOAD))
        return False
    workload = load_workload(DEMO_WORKLOAD)
    facts = check_workload(workload)
    with Session.create(
        path, DEMO_WORKLOAD, workload.config(), meta={DEMO_META_KEY: DEMO_META_VALUE}
    ) as session:
        session.record_workload_facts(facts)
        if with_study:
            add_experiment_from_dict(session, DEMO_SPEC, "<demo>", workload)
    return True
