"""`tunebook review PATH [--experiment NAME] [--json]`: an experiment read the playbook's way.

The checklist (PB-11 … PB-14, PB-19, PB-21) for the experiment and each study, the
isolation plot of each scientific hyperparameter (PB-15), each study's axis plots (PB-12:
infeasible trials as ✗) and its bootstrap of best-of-k (PB-13), and a ranking by any
recorded metric (PB-29). Every number comes from `tunebook.core.analysis`, which the app's
Review screen calls too; `--json` prints the same document for scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from enum import Enum
from typing import Any

from tunebook.sessions.text import safe_text
from tunebook.tui.cli.output import finite_json, text_chart, text_histogram, text_table
from tunebook.tui.probe_text import number

VERDICT_MARKS = {"pass": "✓ pass", "warn": "! warn", "fail": "✗ fail"}
TOP_RANKED = 10


def register(commands: argparse._SubParsersAction) -> None:
    """Add `review` to the parser."""
    review = commands.add_parser(
        "review", help="the playbook's checklist and plots for an experiment (PB-11 … PB-16)"
    )
    review.add_argument("path", help="the session file")
    review.add_argument(
        "--experiment", "-e", help="the experiment to review (default: the latest one)"
    )
    review.add_argument("--json", action="store_true", help="print the review as JSON")
    review.add_argument(
        "--rank-by",
        metavar="METRIC",
        help="rank the trials by this recorded series (e.g. validation/loss, train/loss; "
        "default: the objective)",
    )
    review.add_argument(
        "--at",
        choices=("best", "final", "min", "max"),
        default="best",
        help="rank by the metric at each trial's best step (default), its last value, or "
        "its lowest / highest over training",
    )
    review.set_defaults(handler=cmd_review)

    conclude = commands.add_parser(
        "conclude", help="record an experiment's conclusion: your note plus the evidence"
    )
    conclude.add_argument("path", help="the session file")
    conclude.add_argument("experiment", help="the experiment's name")
    conclude.add_argument("--note", default="", help="what you conclude, in your words")
    conclude.set_defaults(handler=cmd_conclude)


def review_document(session: Any, name: str | None, rank_by: str | None, at: str) -> dict:
    """The whole review of experiment `name` (the latest when None) as plain data: the
    document `--json` prints and the tests compare with the app."""
    from tunebook.core.analysis.checklist import experiment_checklist, study_checklist
    from tunebook.core.analysis.plots import axis_plots, grad_norms, isolation_plots, top_curves
    from tunebook.core.analysis.study import load_experiment
    from tunebook.sessions import BadInput

    experiments = session.experiments()
    if not experiments:
        raise BadInput(f"session '{session.path}' has no experiment to review")
    experiment = session.experiment(name) if name is not None else experiments[-1]
    views = load_experiment(session, experiment.name)
    studies = []
    for view in views:
        best = view.ranked()[0] if view.feasible else None
        metric = rank_by or f"validation/{view.metric}"
        studies.append(
            {
                "id": view.study.id,
                "name": view.study.name,
                "scientific": view.scientific,
                "objective": {"metric": view.metric, "mode": view.mode},
                "trials": {
                    "finished": len(view.finished),
                    "feasible": len(view.feasible),
                    "infeasible": len(view.infeasible),
                },
                "best": None
                if best is None
                else {
                    "trial_id": best.id,
                    "value": best.best_value,
                    "step": best.best_step,
                    "params": best.params,
                },
                "checklist": [plain(item) for item in study_checklist(session, view)],
                "axis_plots": [plain(plot) for plot in axis_plots(view)],
                "curves": [plain(curves) for curves in top_curves(session, view)],
                "gradients": None if best is None else plain(grad_norms(session, best.id)),
                "ranking": {
                    "metric": metric,
                    "at": at,
                    "trials": [plain(r) for r in ranking(session, view, rank_by, at)],
                },
            }
        )
    return finite_json(
        {
            "experiment": {
                "name": experiment.name,
                "goal": experiment.goal,
                "status": experiment.status.value,
                "max_train_steps": experiment.max_train_steps,
                "conclusion": experiment.conclusion,
            },
            "checklist": [plain(item) for item in experiment_checklist(session, views)],
            "isolation": [plain(plot) for plot in isolation_plots(session, views)],
            "studies": studies,
        }
    )


def ranking(session: Any, view: Any, rank_by: str | None, at: str) -> tuple[Any, ...]:
    """The top trials by `rank_by` (PB-29); by default by the objective at each trial's best
    step, which is its stored best value, so a study without curves still ranks."""
    from tunebook.core.analysis.ranking import RankedTrial, rerank

    if rank_by is None and at == "best":
        return tuple(
            RankedTrial(rank, t.id, t.best_value, t.params)
            for rank, t in enumerate(view.ranked()[:TOP_RANKED], start=1)
        )
    metric = rank_by or f"validation/{view.metric}"
    return rerank(session, view, metric, at)[:TOP_RANKED]


def plain(record: Any) -> Any:
    """A frozen dataclass as JSON-able data (enums as their values)."""
    return _plain(dataclasses.asdict(record))


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def cmd_review(args: argparse.Namespace) -> int:
    """Print the review: the checklist, then the plots and the ranking of each study."""
    from tunebook.sessions import Session

    with Session.open(args.path, read_only=True) as session:
        document = review_document(session, args.experiment, args.rank_by, args.at)
    if args.json:
        print(json.dumps(document, indent=2, allow_nan=False))
        return 0
    print_review(document)
    return 0


def cmd_conclude(args: argparse.Namespace) -> int:
    """Store the experiment's conclusion (the note, then the evidence) and mark it
    concluded; refused while a runner is alive or trials are unfinished."""
    from tunebook.core.analysis.conclusion import conclude
    from tunebook.sessions import Session

    with Session.open(args.path) as session:
        text = conclude(session, args.experiment, args.note)
    print(f"concluded experiment '{safe_text(args.experiment)}': {safe_text(text)}")
    return 0


# -- printing ---------------------------------------------------------------------------------


def print_review(document: dict) -> None:
    """The review as a person reads it in a terminal."""
    from rich.console import Console

    console = Console(highlight=False)
    experiment = document["experiment"]
    console.print(
        f"experiment '{safe_text(experiment['name'])}' ({experiment['status']}): "
        f"{safe_text(experiment['goal'])}",
        markup=False,
        style="bold",
    )
    console.print(_checklist_table("checklist (PB-11)", document["checklist"]))
    for plot in document["isolation"]:
        _print_isolation(console, plot)
    for study in document["studies"]:
        _print_study(console, study)


def _checklist_table(title: str, items: list[dict]) -> Any:
    """The experiment's checklist: each item's verdict and how each study stands on it."""
    rows = []
    for item in items:
        studies = item.get("data", {}).get("studies", [])
        where = ", ".join(f"{s['study']}: {s['verdict']}" for s in studies)
        rows.append((item["title"], VERDICT_MARKS[item["verdict"]], where))
    table = text_table(title, ("check", "verdict", "studies"), rows)
    table.columns[0].justify = table.columns[2].justify = "left"
    return table


def _print_study_checklist(console: Any, items: list[dict]) -> None:
    """A study's checklist: each item that warns or fails with its evidence and next step,
    then the items that pass, in one line."""
    passed = [item["title"] for item in items if item["verdict"] == "pass"]
    for item in items:
        if item["verdict"] == "pass":
            continue
        console.print(
            f"{VERDICT_MARKS[item['verdict']]}  {item['title']} ({item['playbook']}): "
            f"{safe_text(item['evidence'])}",
            markup=False,
            style="yellow" if item["verdict"] == "warn" else "red",
        )
        if item["next_step"]:
            console.print(f"   next: {safe_text(item['next_step'])}", markup=False)
    if passed:
        console.print(f"✓ pass  {', '.join(passed)}", markup=False, style="green")


def _print_isolation(console: Any, plot: dict) -> None:
    rows = [
        (
            p["label"],
            number(p["best"]),
            "—" if p["trial_id"] is None else str(p["trial_id"]),
            str(p["trials"]),
        )
        for p in plot["points"]
    ]
    title = f"isolation plot: {plot['name']} (best over the nuisance hyperparameters, PB-15)"
    console.print(text_table(title, (plot["name"], "best", "trial", "trials"), rows))
    if plot["baseline"] is not None:
        console.print(f"baseline (latest launch): {number(plot['baseline'])}", markup=False)
    numeric = [p for p in plot["points"] if p["x"] is not None and p["best"] is not None]
    if len(numeric) > 1:
        xs = [p["x"] for p in numeric]
        series = [("best", xs, [p["best"] for p in numeric])]
        if plot["baseline"] is not None:
            series.append(("baseline", xs, [plot["baseline"]] * len(xs)))
        console.print(
            text_chart(series, f"best objective by {plot['name']}", plot["name"]), markup=False
        )


def _print_study(console: Any, study: dict) -> None:
    counts = study["trials"]
    head = (
        f"study '{safe_text(study['name'])}': {counts['finished']} finished, "
        f"{counts['feasible']} feasible, {counts['infeasible']} infeasible"
    )
    best = study["best"]
    if best is not None:
        head += (
            f"; best {study['objective']['metric']} {number(best['value'])} "
            f"(trial {best['trial_id']}, step {best['step']})"
        )
    console.print(head, markup=False, style="bold")
    _print_study_checklist(console, study["checklist"])
    for plot in study["axis_plots"]:
        _print_axis_plot(console, plot, study["objective"])
    _print_curves(console, study)
    density = next((i for i in study["checklist"] if i["key"] == "density"), None)
    points = (density or {}).get("data", {}).get("bootstrap") or []
    if points:
        ks = [p["k"] for p in points]
        console.print(
            text_chart(
                [
                    ("median", ks, [p["median"] for p in points]),
                    ("10th pct", ks, [p["low"] for p in points]),
                    ("90th pct", ks, [p["high"] for p in points]),
                ],
                "best objective found with k trials (bootstrap, PB-13)",
                "trials k",
            ),
            markup=False,
        )
    ranking = study["ranking"]
    rows = [
        (
            str(r["rank"]),
            str(r["trial_id"]),
            number(r["value"]),
            ", ".join(
                f"{k}={number(v) if isinstance(v, float) else v}" for k, v in r["params"].items()
            ),
        )
        for r in ranking["trials"]
    ]
    title = f"ranked by {ranking['metric']} ({ranking['at']}; PB-29)"
    console.print(text_table(title, ("rank", "trial", "value", "hyperparameters"), rows))


def _print_axis_plot(console: Any, plot: dict, objective: dict) -> None:
    """One axis plot: the objective of each trial against one hyperparameter; infeasible
    trials as ✗ at the worst feasible value (they have no objective)."""
    feasible = [p for p in plot["points"] if not p["infeasible"] and p["y"] is not None]
    if plot["scale"] == "categorical":
        _print_categories(console, plot, objective)
        return
    if not feasible:
        return
    worst = max if objective["mode"] == "min" else min
    top = worst(p["y"] for p in feasible)
    infeasible = [p for p in plot["points"] if p["infeasible"]]
    console.print(
        text_chart(
            [],
            f"axis plot: {objective['metric']} by {plot['name']} (PB-12; ✗ infeasible)",
            f"{plot['name']}{' (log)' if plot['scale'] == 'log' else ''}",
            xlog=plot["scale"] == "log",
            scatter=[
                ("trials", [p["x"] for p in feasible], [p["y"] for p in feasible]),
                ("infeasible", [p["x"] for p in infeasible], [top] * len(infeasible)),
            ],
            markers=["dot", "x"],
        ),
        markup=False,
    )


def _print_categories(console: Any, plot: dict, objective: dict) -> None:
    """A categorical axis plot as a table: each value's trials, infeasible ones, best."""
    pick = min if objective["mode"] == "min" else max
    rows = []
    for category in plot["categories"] or ():
        points = [p for p in plot["points"] if p["x"] == category]
        values = [p["y"] for p in points if not p["infeasible"] and p["y"] is not None]
        rows.append(
            (
                str(category),
                str(len(points)),
                str(sum(p["infeasible"] for p in points)),
                number(pick(values)) if values else "—",
            )
        )
    title = f"axis plot: {objective['metric']} by {plot['name']} (PB-12)"
    console.print(text_table(title, (plot["name"], "trials", "infeasible", "best"), rows))


def _print_curves(console: Any, study: dict) -> None:
    """The top trials' training loss and validation objective (PB-14), then the best
    trial's gradient norm by step and its histogram (PB-31)."""
    curves = study["curves"]
    metric = study["objective"]["metric"]
    for label, steps, values in (
        ("training loss", "train_steps", "train_loss"),
        (f"validation {metric}", "val_steps", "val_values"),
    ):
        series = [(f"trial {c['trial_id']}", c[steps], c[values]) for c in curves if c[steps]]
        if series:
            title = f"{label} of the best {len(series)} trials (PB-14)"
            console.print(text_chart(series, title, "step"), markup=False)
    gradients = study["gradients"]
    if not gradients or not gradients["steps"]:
        return
    trial = gradients["trial_id"]
    console.print(
        text_chart(
            [("grad norm", gradients["steps"], gradients["norms"])],
            f"gradient norm of the best trial {trial} (unclipped, PB-31)",
            "step",
        ),
        markup=False,
    )
    from tunebook.core.trial_detail import HistogramBins

    bins = HistogramBins(**gradients["histogram"])
    if bins.counts:
        console.print(
            text_histogram(bins, f"gradient norms of trial {trial}", "norm"), markup=False
        )
    if gradients["p90"] is not None:
        console.print(
            f"90th percentile of trial {trial}'s gradient norms: {number(gradients['p90'])} "
            "(a clipping threshold, PB-31)",
            markup=False,
        )
