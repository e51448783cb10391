"""`core.analysis.plots`: axis plots, isolation plots, top curves and gradient norms, with
known answers on session files written directly (no training)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from tests.analysis.sessions import LR, finished, per_value_experiment
from tunebook.core.analysis.plots import (
    AxisPoint,
    IsolationPoint,
    axis_plots,
    grad_norms,
    isolation_plots,
    top_curves,
)
from tunebook.core.analysis.ranking import rerank
from tunebook.core.analysis.study import load_experiment, load_study
from tunebook.sessions import BadInput, Session, TrialStatus


def test_axis_plots_place_each_trial_at_its_value_and_objective(tmp_path: Path) -> None:
    space = {
        "learning_rate": LR,
        "width": {"type": "int", "low": 16, "high": 128, "scale": "linear"},
        "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
    }
    with Session.create(tmp_path / "s.tunebook", "tabular", {}) as session:
        experiment = session.add_experiment("e", "goal", {}, 10)
        study = session.add_study(
            experiment.id, "s", {"space": space}, "quasi-random", 6, 0, "error", "min"
        )
        rows = [
            ({"learning_rate": 1e-3, "width": 32, "optimizer": "adam"}, 0.3),
            ({"learning_rate": 2e-2, "width": 64, "optimizer": "sgd"}, 0.2),
            ({"learning_rate": 5e-4, "width": 100, "optimizer": "sgd"}, 0.4),
        ]
        ids = [finished(session, study.id, params, best=best) for params, best in rows]
        diverged_params = {"learning_rate": 0.09, "width": 16, "optimizer": "adam"}
        diverged = finished(session, study.id, diverged_params, TrialStatus.INFEASIBLE)
        finished(session, study.id, diverged_params, TrialStatus.FAILED)
        session.add_trial(study.id, diverged_params, 1, 2)  # pending: not on any plot
        plots = {p.name: p for p in axis_plots(load_study(session, study.id))}

    assert sorted(plots) == ["learning_rate", "optimizer", "width"]
    lr, width, optimizer = plots["learning_rate"], plots["width"], plots["optimizer"]
    assert (lr.scale, lr.low, lr.high, lr.categories) == ("log", 1e-4, 1e-1, None)
    assert (width.scale, width.low, width.high) == ("linear", 16.0, 128.0)
    assert (optimizer.scale, optimizer.low, optimizer.categories) == (
        "categorical",
        None,
        ("adam", "sgd"),
    )
    expected = [
        AxisPoint(i, params["learning_rate"], best, False) for i, (params, best) in zip(ids, rows)
    ]
    assert list(lr.points) == [*expected, AxisPoint(diverged, 0.09, None, True)]
    assert [p.x for p in optimizer.points] == ["adam", "sgd", "sgd", "adam"]
    assert [p.y for p in width.points] == [0.3, 0.2, 0.4, None]


def test_a_conditional_coordinate_shows_only_the_trials_it_fed(tmp_path: Path) -> None:
    space = {
        "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
        "learning_rate": LR,
        "momentum[optimizer=sgd]": {"type": "float", "low": 0.8, "high": 0.99},
    }
    layout = {
        "space": space,
        "sampled_scientific": ["optimizer"],
        "variants": [
            ["learning_rate", "learning_rate", None],
            ["momentum[optimizer=sgd]", "momentum", ["optimizer", "sgd"]],
        ],
    }
    with Session.create(tmp_path / "s.tunebook", "tabular", {}) as session:
        experiment = session.add_experiment("e", "goal", {}, 10)
        study = session.add_study(experiment.id, "s", layout, "quasi-random", 2, 0, "error", "min")
        finished(session, study.id, {"optimizer": "adam", "learning_rate": 1e-3}, best=0.3)
        sgd = finished(
            session,
            study.id,
            {"optimizer": "sgd", "learning_rate": 1e-2, "momentum": 0.9},
            best=0.2,
        )
        plots = {p.name: p for p in axis_plots(load_study(session, study.id))}
    assert len(plots["learning_rate"].points) == 2
    assert plots["momentum[optimizer=sgd]"].points == (AxisPoint(sgd, 0.9, 0.2, False),)


def test_isolation_of_a_per_value_experiment_is_each_studys_best(tmp_path: Path) -> None:
    path, trials = per_value_experiment(tmp_path / "s.tunebook")
    with Session.open(path) as session:
        views = load_experiment(session, "depth")
        (plot,) = isolation_plots(session, views)
        assert plot.baseline is None  # no launch yet
        launched = trials[2][0][0]
        session.add_launch({"depth": 2}, {"isolation": "depth=2"}, trial_id=launched)
        (with_launch,) = isolation_plots(session, views)

    assert (plot.name, plot.mode) == ("depth", "min")
    expected = []
    for depth, pairs in trials.items():
        best_id, best = min(((tid, v) for tid, v in pairs if v is not None), key=lambda p: p[1])
        expected.append(IsolationPoint(str(depth), float(depth), best, best_id, 3))
    assert list(plot.points) == expected
    assert [p.best for p in plot.points] == [0.35, 0.25, 0.45]
    assert with_launch.baseline == 0.25


def test_isolation_of_a_combined_layout_buckets_a_continuous_value(tmp_path: Path) -> None:
    space = {
        "weight_decay": {"type": "float", "low": 1e-5, "high": 1e-1, "scale": "log"},
        "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
        "learning_rate": LR,
    }
    layout = {"space": space, "sampled_scientific": ["weight_decay", "optimizer"]}
    design = {"scientific": {"optimizer": ["adam", "sgd"]}}
    with Session.create(tmp_path / "s.tunebook", "tabular", {}) as session:
        experiment = session.add_experiment("wd", "goal", design, 10)
        study = session.add_study(experiment.id, "wd", layout, "quasi-random", 6, 0, "acc", "max")
        rows = [  # weight decay, optimizer, best (None: diverged)
            (2e-5, "adam", 0.5),
            (5e-5, "sgd", 0.7),
            (5e-4, "adam", None),
            (3e-3, "sgd", 0.6),
            (9e-3, "adam", 0.65),
            (1e-1, "sgd", 0.8),  # the top edge belongs to the last bucket
        ]
        ids = [
            finished(
                session,
                study.id,
                {"weight_decay": wd, "optimizer": opt, "learning_rate": 1e-3},
                TrialStatus.COMPLETED if best is not None else TrialStatus.INFEASIBLE,
                best,
            )
            for wd, opt, best in rows
        ]
        plots = {p.name: p for p in isolation_plots(session, [load_study(session, study.id)], 4)}

    assert list(plots) == ["optimizer", "weight_decay"]  # the design's names first
    decay = plots["weight_decay"]
    assert decay.mode == "max"
    assert [p.label for p in decay.points] == [
        "1e-05–0.0001",
        "0.0001–0.001",
        "0.001–0.01",
        "0.01–0.1",
    ]
    assert decay.points[0].x == pytest.approx(math.sqrt(1e-5 * 1e-4))
    assert [(p.best, p.trial_id, p.trials) for p in decay.points] == [
        (0.7, ids[1], 2),
        (None, None, 1),
        (0.65, ids[4], 2),
        (0.8, ids[5], 1),
    ]
    optimizer = plots["optimizer"]
    assert [(p.label, p.x, p.best, p.trial_id, p.trials) for p in optimizer.points] == [
        ("adam", None, 0.65, ids[4], 3),
        ("sgd", None, 0.8, ids[5], 3),
    ]


def test_top_curves_are_the_best_trials_curves_best_first(tmp_path: Path) -> None:
    with Session.create(tmp_path / "s.tunebook", "tabular", {}) as session:
        experiment = session.add_experiment("e", "goal", {}, 10)
        study = session.add_study(
            experiment.id,
            "s",
            {"space": {"learning_rate": LR}},
            "quasi-random",
            4,
            0,
            "error",
            "min",
        )
        ids = []
        for best in (0.4, 0.1, 0.3):
            curves = {
                "train/loss": [(5, 2 * best), (10, best)],
                "validation/error": [(10, best)],
                "train/lr": [(5, 0.1)],
            }
            ids.append(
                finished(session, study.id, {"learning_rate": best}, best=best, series=curves)
            )
        finished(session, study.id, {"learning_rate": 0.5}, TrialStatus.INFEASIBLE)
        curves = top_curves(session, load_study(session, study.id), k=2)
    assert [c.trial_id for c in curves] == [ids[1], ids[2]]
    assert (curves[0].train_steps, curves[0].train_loss) == ((5, 10), (0.2, 0.1))
    assert (curves[0].val_steps, curves[0].val_values) == ((10,), (0.1,))


def test_grad_norms_and_their_90th_percentile(tmp_path: Path) -> None:
    norms = [0.5 * (k + 1) for k in range(10)]
    norms[3] = math.inf
    with Session.create(tmp_path / "s.tunebook", "tabular", {}) as session:
        experiment = session.add_experiment("e", "goal", {}, 10)
        study = session.add_study(experiment.id, "s", {}, "quasi-random", 1, 0, "error", "min")
        trial = finished(
            session,
            study.id,
            {},
            best=0.1,
            series={"train/grad_norm": [(s + 1, n) for s, n in enumerate(norms)]},
        )
        found = grad_norms(session, trial)
        with pytest.raises(BadInput, match="no trial 999"):
            grad_norms(session, 999)
    assert found.steps == tuple(range(1, 11))
    assert found.norms[3] == math.inf and found.norms[4] == 2.5
    finite = [n for n in norms if math.isfinite(n)]
    assert found.p90 == pytest.approx(float(np.percentile(finite, 90)))
    assert sum(found.histogram.counts) == len(finite) and found.histogram.nonfinite == 1


def test_a_thousand_trials_are_read_in_well_under_a_second(tmp_path: Path) -> None:
    trials = 1000
    layout = {
        "space": {"learning_rate": LR, "weight_decay": {"type": "float", "low": 0.0, "high": 0.1}},
        "sampled_scientific": ["weight_decay"],
    }
    with Session.create(tmp_path / "s.tunebook", "tabular", {}) as session:
        experiment = session.add_experiment("big", "goal", {}, 100)
        study = session.add_study(
            experiment.id, "big", layout, "quasi-random", trials, 0, "error", "min"
        )
        rng = np.random.default_rng(0)
        rows, metrics = [], []
        for n in range(trials):
            trial_id = n + 1
            diverged = n % 10 == 9
            best = None if diverged else float(rng.uniform(0.1, 0.9))
            params = {
                "learning_rate": float(10 ** rng.uniform(-4, -1)),
                "weight_decay": float(rng.uniform(0, 0.1)),
            }
            status = TrialStatus.INFEASIBLE if diverged else TrialStatus.COMPLETED
            rows.append(
                (
                    trial_id,
                    study.id,
                    n,
                    json.dumps(params),
                    status.value,
                    None if diverged else 100,
                    best,
                    best,
                )
            )
            for step in (50, 100):
                metrics += [
                    (trial_id, "train/loss", step, float(rng.uniform(0, 2))),
                    (trial_id, "validation/error", step, best if step == 100 else 0.95),
                    (trial_id, "validation/loss", step, float(rng.uniform(0, 2))),
                ]
        with session.transaction() as conn:
            conn.executemany(
                "INSERT INTO trials (id, study_id, number, params, status, best_step, "
                "best_value, final_value, init_seed, data_seed, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 2, 0)",
                rows,
            )
            conn.executemany(
                "INSERT INTO metrics (trial_id, series, step, value) VALUES (?, ?, ?, ?)",
                metrics,
            )
        start = time.perf_counter()
        view = load_study(session, study.id)
        plots = axis_plots(view)
        (isolation,) = isolation_plots(session, [view])
        by_loss = rerank(session, view, "validation/loss", at="final")
        by_train = rerank(session, view, "train/loss", at="min")
        by_objective = rerank(session, view, "validation/error")
        elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"took {elapsed:.2f} s"
    assert sum(len(p.points) for p in plots) == 2 * trials
    assert sum(p.trials for p in isolation.points) == trials
    assert len(by_loss) == len(by_train) == len(by_objective) == 900
    assert by_objective[0].value == min(t.best_value for t in view.feasible)
