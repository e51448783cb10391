"""`tunebook adopt PATH TRIAL`: adopt a trial as the new baseline on evidence (PB-5, PB-17).

It runs the seed-variance probe (`core.analysis.adoption`): the candidate trial re-run with
N new seeds, and the current baseline too unless its seeds were measured already, in worker
processes with a progress line (Ctrl-C stops; the same command resumes). Then it prints
both distributions, whether the difference is beyond the seed noise, and records the launch
with the summary as its evidence and `--note` as the user's words.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from tunebook.sessions.text import safe_text
from tunebook.tui.cli.output import finite_json, text_table
from tunebook.tui.probe_text import number


def register(commands: argparse._SubParsersAction) -> None:
    """Add `adopt` to the parser."""
    from tunebook.core.analysis.adoption import DEFAULT_SEEDS

    adopt = commands.add_parser(
        "adopt",
        help="re-run a trial with new seeds and adopt it as the baseline (PB-5, PB-17)",
    )
    adopt.add_argument("path", help="the session file")
    adopt.add_argument("trial", type=int, help="the id of the completed trial to adopt")
    adopt.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"new seeds per configuration (default {DEFAULT_SEEDS})",
    )
    adopt.add_argument("--note", default="", help="why, in your words (kept with the launch)")
    adopt.add_argument("--workers", "-j", type=int, default=2, help="worker processes (default 2)")
    adopt.add_argument(
        "--executor",
        choices=("inline", "process"),
        default="process",
        help="process: train in worker processes (default); inline: here",
    )
    adopt.add_argument(
        "--json", action="store_true", help="print the probe's summary and the launch id as JSON"
    )
    adopt.set_defaults(handler=cmd_adopt)


def cmd_adopt(args: argparse.Namespace) -> int:
    """Measure the seed variance, show it and record the launch; 130 when stopped."""
    from tunebook.core.analysis.adoption import launch_record
    from tunebook.core.project_start.runner import ProbeRunner
    from tunebook.sessions import Session
    from tunebook.tui.cli.engine_commands import print_notice
    from tunebook.tui.cli.probe_commands import probe_with_progress

    runner = ProbeRunner(
        args.path,
        "seed-variance",
        {"trial": args.trial, "seeds": args.seeds},
        workers=args.workers,
        executor=args.executor,
        notice=print_notice,
    )
    probe = runner.run() if args.json else probe_with_progress(runner)
    if probe.status != "completed":
        print(f"adoption {probe.status}; run the same command again to resume it")
        return 130
    if not args.json:
        print_adoption(probe.summary)
    with Session.open(args.path) as session:
        launch = launch_record(session, probe.id, args.note)
    if args.json:
        data = {"probe": probe.id, "summary": probe.summary, "launch": launch.id}
        print(json.dumps(finite_json(data), indent=2, allow_nan=False))
    else:
        print(f"launch {launch.id}: trial {launch.trial_id} is the new baseline")
    return 0


def print_adoption(summary: Mapping[str, Any]) -> None:
    """The seed runs of both configurations, their means ± std, the verdict, the warnings."""
    from rich.console import Console

    console = Console(highlight=False)
    objective = summary["objective"]
    sides = [(role, summary[role]) for role in ("candidate", "baseline") if summary[role]]
    rows = [
        (
            f"{role} (trial {side['trial']})",
            str(run["seed"]),
            run["status"] or "—",
            number(run["best_value"]),
            number(run["best_step"], "d") if run.get("best_step") is not None else "—",
        )
        for role, side in sides
        for run in side["runs"]
    ]
    console.print(
        text_table(
            f"seed variance: {summary['seeds']} new seeds per configuration (PB-17)",
            ("configuration", "seed", "status", f"best {objective}", "at step"),
            rows,
        )
    )
    for role, side in sides:
        reused = f" (seeds measured by probe {side['reused_from']})" if side["reused_from"] else ""
        console.print(
            f"{role}: {objective} {_mean_std(side)} over {side['n']} seeds{reused}", markup=False
        )
    comparison = summary.get("comparison")
    if comparison is not None:
        console.print(
            f"difference (candidate − baseline): {number(comparison['difference'])}; pooled "
            f"std {number(comparison['pooled_std'])}; Welch's p "
            f"{number(comparison['p_value'], '.3g')}",
            markup=False,
        )
    for warning in summary.get("warnings", []):
        console.print(f"warning: {safe_text(warning)}", style="yellow", markup=False)
    console.print(f"verdict: {safe_text(summary['verdict'])}", style="bold", markup=False)


def _mean_std(side: Mapping[str, Any]) -> str:
    return f"{number(side['mean'])} ± {number(side['std'])}"
