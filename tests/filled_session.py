"""A session filled through the public record API, shared by CLI and report tests."""

from __future__ import annotations

from pathlib import Path

from tunebook.sessions import DecisionKind, Session, TrialStatus


def fill_session(path: Path) -> Path:
    """Two studies, trials in every finished state, curves, a decision and a launch."""
    with Session.create(path, "tabular", {"rows": 100}) as session:
        session.record_decision(DecisionKind.BATCH_SIZE, 128, "largest size that still gains")
        experiment = session.add_experiment("depth", "Does depth help?", {"fixed": {}}, 50)
        outcomes = [
            (TrialStatus.COMPLETED, 0.30),
            (TrialStatus.COMPLETED, 0.20),
            (TrialStatus.INFEASIBLE, None),
            (TrialStatus.FAILED, None),
        ]
        for depth in (2, 3):
            study = session.add_study(
                experiment.id,
                f"depth={depth}",
                {},
                "quasi-random",
                4,
                0,
                "error",
                "min",
                {"depth": depth},
            )
            for status, value in outcomes:
                trial = session.add_trial(study.id, {"learning_rate": 0.01 * depth}, 1, 2)
                session.start_trial(trial.id)
                writer = session.metrics_writer(trial.id)
                for step in range(10):
                    writer.add(step, {"train/loss": 1.0 / (step + 1), "train/lr": 0.01})
                best = None if value is None else value / depth
                session.finish_trial(
                    trial.id,
                    status,
                    best_step=None if best is None else 9,
                    best_value=best,
                    error="boom" if status is TrialStatus.FAILED else "",
                    writer=writer,
                )
                session.set_reproduce(trial.id, f"tunebook trial rerun {path} {trial.id}")
        session.add_launch({"depth": 3}, {"isolation": "depth=3 best"}, "adopted", trial_id=2)
    return path
