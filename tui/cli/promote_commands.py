"""`tunebook promote`: the next, longer round of compute-bound tuning (PB-20).

`promote PATH EXPERIMENT` takes the best trials of each study of a finished experiment,
scales the step budget (`--factor`, default 2, or `--steps`) and extends each trial's
schedule by PB-20's rule (`core.design.promotion`), prints the plan, and stores it as a
new experiment with a listed search, like `experiment add`; `--dry-run` only shows it.
"""

from __future__ import annotations

import argparse
from typing import Any

from tunebook.tui.cli.output import text_table


def register(commands: argparse._SubParsersAction) -> None:
    """Add `promote` to the parser."""
    from tunebook.core.design.promotion import DEFAULT_FACTOR, DEFAULT_TOP

    promote = commands.add_parser(
        "promote",
        help="re-run the best configurations with a longer step budget (PB-20)",
    )
    promote.add_argument("path", help="the session file")
    promote.add_argument("experiment", help="the finished experiment to promote")
    budget = promote.add_mutually_exclusive_group()
    budget.add_argument(
        "--factor",
        type=float,
        help=f"how many times more steps (default {DEFAULT_FACTOR:g})",
    )
    budget.add_argument("--steps", type=int, help="the new max_train_steps instead of a factor")
    promote.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        help=f"best trials per study (default {DEFAULT_TOP})",
    )
    promote.add_argument("--name", help="the new experiment's name (default EXPERIMENT-long)")
    promote.add_argument("--dry-run", action="store_true", help="show the plan; store nothing")
    promote.add_argument("--json", action="store_true", help="print the plan and spec as JSON")
    promote.set_defaults(handler=cmd_promote)


def cmd_promote(args: argparse.Namespace) -> int:
    """Show the longer round and, unless `--dry-run`, store it as an experiment."""
    from tunebook.core.design.promotion import plan_promotion, promotion_spec
    from tunebook.sessions import Session

    with Session.open(args.path, read_only=args.dry_run) as session:
        plan = plan_promotion(
            session, args.experiment, factor=args.factor, steps=args.steps, top=args.top
        )
        spec = promotion_spec(plan, args.name)
        added = None
        if not args.dry_run:
            from tunebook.core.experiments import add_experiment_from_dict

            added = add_experiment_from_dict(session, spec, f"promotion of {args.experiment}")
    from tunebook.tui.cli.engine_commands import print_planned
    from tunebook.tui.cli.review_commands import plain

    return print_planned(
        args, {**plain(plan), "factor": plan.factor}, spec, added, lambda: print_plan(plan)
    )


def print_plan(plan: Any) -> None:
    """The promoted trials as a table, then the step budget and cadence before → after."""
    from rich.console import Console

    from tunebook.core.design.promotion import budget_text, plan_columns, plan_rows

    console = Console(highlight=False)
    table = text_table(
        f"longer round of '{plan.source}': the best {plan.top} per study (PB-20)",
        plan_columns(plan),
        plan_rows(plan),
    )
    for column in (2, 3, 5):
        table.columns[column].justify = "left"
        table.columns[column].overflow = "fold"
    console.print(table)
    console.print(budget_text(plan), markup=False)
