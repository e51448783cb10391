"""`core.analysis.ranking`: re-ranking a study by another recorded metric (PB-29), with
known answers where the best-step and final-step orders disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.sessions import finished
from tunebook.core.analysis.ranking import ranking_metrics, rerank
from tunebook.core.analysis.study import StudyView, load_study
from tunebook.sessions import BadInput, Session, TrialStatus


def ranked_study(path: Path) -> tuple[Session, StudyView, list[int]]:
    """Three trials: A peaks early (best 0.1 at step 10, final 0.5), B is steady (0.2),
    C ends best on the training loss; plus a diverged one that is never ranked."""
    session = Session.create(path, "tabular", {})
    experiment = session.add_experiment("e", "goal", {}, 20)
    study = session.add_study(experiment.id, "s", {}, "quasi-random", 4, 0, "error", "min")
    curves = {  # name: (validation/error, validation/loss, validation/accuracy, train/loss)
        "A": ([0.1, 0.5], [0.9, 0.3], [0.9, 0.5], [1.0, 0.8]),
        "B": ([0.2, 0.2], [0.5, 0.4], [0.8, 0.8], [0.6, 0.6]),
        "C": ([0.3, 0.25], [0.2, 0.6], [0.7, 0.75], [0.4, 0.2]),
    }
    ids = []
    for name, (error, loss, accuracy, train) in curves.items():
        series = {
            "validation/error": list(zip((10, 20), error)),
            "validation/loss": list(zip((10, 20), loss)),
            "validation/accuracy": list(zip((10, 20), accuracy)),
            "validation/count": [(10, 100.0), (20, 100.0)],
            "train/loss": list(zip((10, 20), train)),
            "train/lr": [(10, 0.1), (20, 0.1)],
        }
        ids.append(finished(session, study.id, {"name": name}, best=error[0], series=series))
    finished(
        session,
        study.id,
        {"name": "D"},
        TrialStatus.INFEASIBLE,
        series={"train/loss": [(10, 0.01)], "validation/error": [(10, 0.01)]},
    )
    return session, load_study(session, study.id), ids


def test_ranking_metrics_are_the_validation_series_then_the_training_loss(
    tmp_path: Path,
) -> None:
    session, view, _ = ranked_study(tmp_path / "s.tunebook")
    with session:
        assert ranking_metrics(session, view) == (
            "validation/error",  # the objective first
            "validation/accuracy",
            "validation/loss",
            "train/loss",
        )


def test_best_step_and_final_step_orders_disagree(tmp_path: Path) -> None:
    session, view, (a, b, c) = ranked_study(tmp_path / "s.tunebook")
    with session:
        best = rerank(session, view, "validation/error")
        final = rerank(session, view, "validation/error", at="final")
        lowest = rerank(session, view, "validation/error", at="min")
        highest = rerank(session, view, "validation/error", at="max", mode="min")
    assert [(r.rank, r.trial_id, r.value) for r in best] == [(1, a, 0.1), (2, b, 0.2), (3, c, 0.3)]
    assert [(r.trial_id, r.value) for r in final] == [(b, 0.2), (c, 0.25), (a, 0.5)]
    assert [r.trial_id for r in lowest] == [a, b, c]
    assert [(r.trial_id, r.value) for r in highest] == [(b, 0.2), (c, 0.3), (a, 0.5)]
    assert best[0].params == {"name": "A"}


def test_rerank_by_training_loss_and_by_an_accuracy(tmp_path: Path) -> None:
    session, view, (a, b, c) = ranked_study(tmp_path / "s.tunebook")
    with session:
        by_train = rerank(session, view, "train/loss", at="final")
        by_train_best_step = rerank(session, view, "train/loss")
        by_accuracy = rerank(session, view, "validation/accuracy", at="final")
        by_loss = rerank(session, view, "validation/loss", at="final")
    # The diverged trial's tiny training loss is not ranked: it has no feasible result.
    assert [(r.trial_id, r.value) for r in by_train] == [(c, 0.2), (b, 0.6), (a, 0.8)]
    assert [r.trial_id for r in by_train_best_step] == [c, b, a]
    assert [(r.trial_id, r.value) for r in by_accuracy] == [(b, 0.8), (c, 0.75), (a, 0.5)]
    assert [r.trial_id for r in by_loss] == [a, b, c]


def test_an_unknown_metric_is_one_sentence_naming_the_available_ones(tmp_path: Path) -> None:
    session, view, _ = ranked_study(tmp_path / "s.tunebook")
    with session:
        with pytest.raises(BadInput) as error:
            rerank(session, view, "validation/f1")
        with pytest.raises(BadInput, match="best, final, min, max"):
            rerank(session, view, "train/loss", at="middle")
        with pytest.raises(BadInput, match="'min' or 'max'"):
            rerank(session, view, "train/loss", mode="up")
    message = str(error.value)
    assert message == (
        "study 's' has no series 'validation/f1' to rank by (available: validation/error, "
        "validation/accuracy, validation/loss, train/loss)"
    )
    assert "\n" not in message and message.count(". ") == 0
