"""The demo session: a real, small experiment on the built-in default workload.

`tunebook demo` shows the playbook's loop end to end in about a minute on a laptop CPU:
one goal (does depth help?), one study per scientific value, the learning rate as the
nuisance hyperparameter tuned by quasi-random search, then the comparison.
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


def prepare_demo(path: Path) -> bool:
    """Create the demo session at `path`, or reuse one made earlier (it resumes where it
    stopped). Returns True when it was created now."""
    if path.exists():
        with Session.open(path) as session:
            names = [e.name for e in session.experiments()]
            if session.info().workload != DEMO_WORKLOAD or DEMO_SPEC["name"] not in names:
                raise BadInput(f"'{path}' exists and is not a demo session; give another path")
        return False
    workload = load_workload(DEMO_WORKLOAD)
    facts = check_workload(workload)
    with Session.create(path, DEMO_WORKLOAD, workload.config()) as session:
        session.record_workload_facts(facts)
        add_experiment_from_dict(session, DEMO_SPEC, "<demo>", workload)
    return True
