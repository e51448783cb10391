"""A session whose first trial has every detail the trial detail shows: roles of each kind
(a conditional nuisance one included), curves with a non-finite gradient norm, two best
checkpoints and a reproduce command; filled through the `Session` API."""

from __future__ import annotations

import math
from pathlib import Path

from tunebook.sessions import Session, TrialStatus

#: What `experiment add` records: the defaults a trial trains with when nothing sets them.
DEFAULTS = {
    "common": {"width": 64, "dropout": 0.0, "warmup_steps": 0, "optimizer": "adam",
               "batch_size": 32, "grad_clip": None},
    "optimizers": {
        "adam": {
            "defaults": {"learning_rate": 1e-3, "beta1": 0.9},
            "aliases": {"lr": "learning_rate"},
        },
        "sgd": {"defaults": {"learning_rate": 0.1, "momentum": 0.0}, "aliases": {}},
    },
}
DESIGN = {
    "scientific": {"optimizer": ["adam", "sgd"]},
    "nuisance": {
        "learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"},
        "when": {"optimizer": {"sgd": {"momentum": {"low": 0.8, "high": 0.99}}}},
    },
    "fixed": {"batch_size": 64},
    "hparam_defaults": DEFAULTS,
}


def make_session(path: Path) -> tuple[Path, int, int]:
    """One experiment with an sgd study; a completed trial with curves and checkpoints, and
    a pending one. Returns the path and both trial ids."""
    with Session.create(path, "tabular", {"rows": 100}) as session:
        experiment = session.add_experiment("opt", "Which optimizer?", DESIGN, 40)
        study = session.add_study(
            experiment.id, "optimizer=sgd", {}, "quasi-random", 2, 0, "error", "min",
            {"optimizer": "sgd", "batch_size": 64},
        )
        trial = session.add_trial(study.id, {"learning_rate": 0.05, "momentum": 0.9}, 11, 22)
        pending = session.add_trial(study.id, {"learning_rate": 0.01, "momentum": 0.95}, 12, 23)
        session.start_trial(trial.id)
        writer = session.metrics_writer(trial.id)
        norms = [0.1 * 10 ** (k / 10) for k in range(20)]  # 0.1 … ~7.9: 1.9 decades
        norms[5] = math.inf
        for step in range(1, 21):
            writer.add(step, {
                "train/loss": 2.0 / step,
                "train/lr": 0.05,
                "train/grad_norm": norms[step - 1],
                "train/clipped": 1.0 if step % 4 == 0 else 0.0,
            })
            if step % 10 == 0:
                writer.add(step, {"validation/error": 0.5 - step / 100})
        writer.flush()
        for step, value in ((10, 0.4), (20, 0.3)):
            session.save_best_checkpoint(trial.id, step, value, b"x" * (100 * step), 2, "min")
        session.finish_trial(
            trial.id, TrialStatus.COMPLETED, best_step=20, best_value=0.3, final_value=0.3,
            compute_seconds=1.5, data_seconds=0.25, writer=writer,
        )
        session.set_reproduce(trial.id, f"tunebook trial rerun {path} {trial.id}")
    return path, trial.id, pending.id
