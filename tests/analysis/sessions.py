"""Sessions of finished studies written row by row (no training), shared by the review tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunebook.sessions import Session, TrialStatus

LR = {"type": "float", "low": 1e-4, "high": 1e-1, "scale": "log"}


def finished(
    session: Session,
    study_id: int,
    params: Mapping[str, Any],
    status: TrialStatus = TrialStatus.COMPLETED,
    best: float | None = None,
    series: Mapping[str, Sequence[tuple[int, float]]] | None = None,
) -> int:
    """A trial finished with `status`, objective `best` (at the last step) and `series`."""
    trial = session.add_trial(study_id, params, 1, 2)
    session.start_trial(trial.id)
    writer = session.metrics_writer(trial.id)
    for name, points in (series or {}).items():
        for step, value in points:
            writer.add(step, {name: value})
    session.finish_trial(
        trial.id,
        status,
        best_step=None if best is None else 10,
        best_value=best,
        final_value=best,
        error="boom" if status is TrialStatus.FAILED else "",
        writer=writer,
    )
    return trial.id


def per_value_experiment(path: Path) -> tuple[Path, dict[int, list[tuple[int, float | None]]]]:
    """Three per-value studies, depth 1/2/3; returns each depth's (trial id, best) pairs."""
    bests = {1: [0.5, 0.35, None], 2: [0.25, 0.4, 0.3], 3: [0.45, None, 0.6]}
    out: dict[int, list[tuple[int, float | None]]] = {}
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment(
            "depth", "Does depth help?", {"scientific": {"depth": [1, 2, 3]}}, 10
        )
        for depth, values in bests.items():
            layout = {"space": {"learning_rate": LR}, "scientific": {"depth": depth}}
            study = session.add_study(
                experiment.id,
                f"depth={depth}",
                layout,
                "quasi-random",
                3,
                0,
                "error",
                "min",
                {"depth": depth},
            )
            out[depth] = [
                (
                    finished(
                        session,
                        study.id,
                        {"learning_rate": 1e-3 * (i + 1)},
                        TrialStatus.COMPLETED if value is not None else TrialStatus.INFEASIBLE,
                        value,
                    ),
                    value,
                )
                for i, value in enumerate(values)
            ]
    return path, out
