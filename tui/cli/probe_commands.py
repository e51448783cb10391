"""`tunebook probe NAME PATH` and `tunebook decide PATH WHAT …`: starting a project.

`probe model` and `probe optimizer` show the choices (the architecture family, the seven
optimizers with a suggestion); `probe batch-size|initial-config|training-length|stability`
measure in worker processes with a progress line, then print the table, a plotext chart,
the warnings and the recommendation (`--json` prints the stored probe instead). The
review's probes, `seed-variance` and `final-test`, run here too (the app starts them
detached through this command). `decide` records a decision: the value given, or the
latest probe's recommendation.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from tunebook.core.session_map import describe_decision
from tunebook.sessions.text import safe_text
from tunebook.tui.cli.output import finite_json, text_chart, text_table
from tunebook.tui.probe_text import BATCH_SIZE_COLUMNS, batch_size_cells, number

MEASURING = ("batch-size", "initial-config", "training-length", "stability")
VIEWS = ("model", "optimizer")
#: The probes of the review's end (their own commands, `adopt` and `final-test`, run them
#: too; the app starts them detached through this one).
REVIEW_PROBES = ("seed-variance", "final-test")
#: Options that only some probes take (the others refuse them in one sentence).
PROBE_OPTIONS = {
    "start": ("batch-size",),
    "max_size": ("batch-size",),
    "device": ("batch-size",),
    "memory_budget": ("batch-size",),
    "min_steps": ("batch-size",),
    "min_seconds": ("batch-size",),
    "max_steps": ("batch-size",),
    "steps": ("initial-config", "training-length", "stability"),
    "learning_rate": ("initial-config", "training-length", "stability"),
    "trial": REVIEW_PROBES,
    "seeds": ("seed-variance",),
}
DECISIONS = {
    "model": "model",
    "optimizer": "optimizer",
    "batch-size": "batch_size",
    "initial-config": "initial_config",
    "training-length": "max_train_steps",
    "stability": "stability",
}


def register(commands: argparse._SubParsersAction) -> None:
    """Add `probe` and `decide` to the parser."""
    probe = commands.add_parser(
        "probe", help="measure what a project-start decision needs (PB-1 … PB-4, PB-19, PB-30)"
    )
    probe.add_argument(
        "name",
        choices=(*VIEWS, *MEASURING, *REVIEW_PROBES, "lr"),
        metavar="NAME",
        help=f"one of {', '.join((*VIEWS, *MEASURING, *REVIEW_PROBES))}",
    )
    probe.add_argument("path", help="the session file")
    probe.add_argument("--json", action="store_true", help="print the stored probe as JSON")
    probe.add_argument("--workers", "-j", type=int, default=2, help="worker processes (default 2)")
    probe.add_argument(
        "--executor",
        choices=("inline", "process"),
        default="process",
        help="process: measure in worker processes (default); inline: here",
    )
    probe.add_argument(
        "--show", action="store_true", help="show the latest probe of this kind; measure nothing"
    )
    probe.add_argument(
        "--restart",
        action="store_true",
        help="measure afresh instead of resuming an unfinished probe",
    )
    probe.add_argument(
        "--detach", action="store_true", help="measure in the background (log: PATH.log)"
    )
    probe.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)
    sizes = probe.add_argument_group("batch-size")
    sizes.add_argument("--start", type=int, help="the first batch size (a power of two; 16)")
    sizes.add_argument("--max-size", type=int, help="the largest batch size to try (65536)")
    sizes.add_argument("--device", help="cpu or cuda (default: cuda when a GPU is visible)")
    sizes.add_argument(
        "--memory-budget",
        type=float,
        metavar="MB",
        help="on CPU, the memory a size may use (default half the available RAM)",
    )
    sizes.add_argument("--min-steps", type=int, help="timed steps per size, at least (20)")
    sizes.add_argument("--min-seconds", type=float, help="timed seconds per size, at least (1)")
    sizes.add_argument("--max-steps", type=int, help="timed steps per size, at most (500)")
    runs = probe.add_argument_group("initial-config, training-length, stability")
    runs.add_argument("--steps", type=int, help="steps per run")
    runs.add_argument(
        "--learning-rate",
        type=float,
        help="the learning rate to centre on (default: the project's)",
    )
    review = probe.add_argument_group("seed-variance, final-test")
    review.add_argument("--trial", type=int, help="the trial to re-run or evaluate")
    review.add_argument("--seeds", type=int, help="seed-variance: new seeds per configuration")
    probe.set_defaults(handler=cmd_probe)

    decide = commands.add_parser("decide", help="record a project-start decision")
    decide.add_argument("path", help="the session file")
    decide.add_argument(
        "what", choices=tuple(DECISIONS), metavar="WHAT", help=f"one of {', '.join(DECISIONS)}"
    )
    decide.add_argument(
        "values",
        nargs="*",
        metavar="VALUE",
        help="model: NAME=VALUE…; optimizer: NAME [NAME=VALUE…]; batch-size, training-length: "
        "N; initial-config: LEARNING_RATE; stability: warmup_steps=N grad_clip=X; none: the "
        "latest probe's recommendation",
    )
    decide.add_argument(
        "--freeze",
        default="",
        metavar="NAMES",
        help="optimizer: hyperparameters to hold at their values for now (a,b)",
    )
    decide.add_argument("--rationale", default="", help="why, in your words")
    decide.set_defaults(handler=cmd_decide)


def probe_options(args: argparse.Namespace) -> dict[str, Any]:
    """The probe's options from the command line; one given to the wrong probe is refused."""
    from tunebook.core.project_start.registry import probe_plan
    from tunebook.sessions import BadInput

    name = probe_plan(args.name).name
    options = {}
    for key, probes in PROBE_OPTIONS.items():
        value = getattr(args, key)
        if value is None:
            continue
        if name not in probes:
            flag = "--" + key.replace("_", "-")
            raise BadInput(f"{flag} applies to the {' and '.join(probes)} probe, not {name}")
        options["memory_budget_mb" if key == "memory_budget" else key] = value
    return options


def cmd_probe(args: argparse.Namespace) -> int:
    """Show the model or optimizer choices, or run a measuring probe and show its result."""
    if args.name in VIEWS:
        return show_choices(args)
    options = probe_options(args)
    if args.show:
        return _show_latest(args)
    if args.detach:
        return _detach(args, options)
    from tunebook.core.project_start.runner import ProbeRunner
    from tunebook.tui.cli.engine_commands import print_notice

    runner = ProbeRunner(
        args.path,
        args.name,
        options,
        workers=args.workers,
        executor=args.executor,
        restart=args.restart,
        notice=print_notice,
        detached=args.detached_child,
    )
    quiet = args.detached_child or args.json
    probe = runner.run() if quiet else probe_with_progress(runner)
    if args.json:
        print(json.dumps(probe_json(probe), indent=2, allow_nan=False, default=_no_nan))
        return 0
    print_probe(args.path, runner.plan.name, probe.status, probe.summary)
    return 130 if probe.status == "stopped" and not args.detached_child else 0


def _show_latest(args: argparse.Namespace) -> int:
    """Print the latest stored probe of the kind (as measured, or as far as it got)."""
    from tunebook.core.project_start.registry import probe_plan
    from tunebook.sessions import BadInput, Session

    plan = probe_plan(args.name)
    with Session.open(args.path, read_only=True) as session:
        probe = session.latest_probe(plan.kind)
    if probe is None:
        raise BadInput(f"'{args.path}' has no {plan.name} probe yet; run it without --show")
    if args.json:
        print(json.dumps(probe_json(probe), indent=2, allow_nan=False, default=_no_nan))
    else:
        print_probe(args.path, plan.name, probe.status, probe.summary)
    return 0


def probe_json(probe: Any) -> dict[str, Any]:
    """The stored probe as `--json` prints it: id, kind, status, config, points, summary."""
    return finite_json(
        {
            "id": probe.id,
            "kind": probe.kind.value,
            "status": probe.status,
            "config": probe.config,
            "points": probe.points,
            "summary": probe.summary,
        }
    )


def _no_nan(value: Any) -> Any:
    return str(value)


def _detach(args: argparse.Namespace, options: Mapping[str, Any]) -> int:
    from tunebook.core.execution.control import ProbeRequest, start_runner
    from tunebook.tui.cli.engine_commands import print_notice

    flags = tuple((_flag(k), str(v)) for k, v in options.items())
    request = ProbeRequest(args.name, flags, workers=args.workers, restart=args.restart)
    started = start_runner(args.path, request, notice=print_notice)
    print(
        f"probe started in the background: pid {started.pid}, log {started.log_path}; "
        f"see it with 'tunebook probe {args.name} {safe_text(args.path)}' once done"
    )
    return 0


def _flag(option: str) -> str:
    """The command-line flag of a probe option (`memory_budget_mb` → `--memory-budget`)."""
    return "--" + option.removesuffix("_mb").replace("_", "-")


def probe_with_progress(runner: Any) -> Any:
    """A live line while the probe measures: how many units are done, which are running. It
    appears once the probe has started, so a refused probe prints its one sentence only."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    )
    task = bar.add_task(f"probe {runner.plan.name}", total=None)

    def show(progress: Any) -> None:
        if not bar.live.is_started:
            bar.start()
        done = f"probe {runner.plan.name}: {progress.measured} measured"
        if progress.last is not None:
            done += f" (last {progress.last}); running {', '.join(progress.running) or 'next'}"
        bar.update(task, description=done)

    runner.progress = show
    try:
        return runner.run()
    finally:
        if bar.live.is_started:
            bar.stop()


# -- printing ---------------------------------------------------------------------------------


def print_probe(path: str, name: str, status: str, summary: Mapping[str, Any]) -> None:
    """The probe's table, chart, warnings and recommendation, as a person reads them."""
    from rich.console import Console

    from tunebook.core.project_start.registry import probe_plan

    console = Console(highlight=False)
    if status != "completed":
        console.print(
            f"probe {name} {status}; run the same command again to resume it", markup=False
        )
        return
    if name in REVIEW_PROBES:
        from tunebook.tui.cli.adopt_commands import print_adoption
        from tunebook.tui.cli.exploit_commands import print_final_test

        (print_adoption if name == "seed-variance" else print_final_test)(summary)
        return
    {
        "batch-size": _print_batch_sizes,
        "initial-config": _print_initial,
        "training-length": _print_sweep,
        "stability": _print_stability,
    }[name](console, summary)
    for warning in summary.get("warnings", []):
        console.print(f"warning: {safe_text(warning)}", style="yellow", markup=False)
    found = summary.get("recommendation")
    if found:
        shown = describe_decision(probe_plan(name).decision, found["value"])
        console.print(
            f"recommended: {safe_text(shown)} — {safe_text(found['rationale'])}",
            markup=False,
            style="bold",
        )
        console.print(f"record it with 'tunebook decide {safe_text(path)} {name}'", markup=False)


def _print_batch_sizes(console: Any, summary: Mapping[str, Any]) -> None:
    rows = summary["rows"]
    table = text_table(
        f"batch-size probe on {summary.get('device')} (PB-3, PB-21)",
        BATCH_SIZE_COLUMNS,
        [batch_size_cells(r) for r in rows],
    )
    console.print(table)
    ceiling = summary.get("ceiling")
    if ceiling:
        console.print(
            f"ceiling: batch size {ceiling['batch_size']}: {safe_text(ceiling['reason'])}",
            markup=False,
        )
    if summary.get("saturates_at"):
        console.print(
            f"doubling stops nearly doubling throughput at {summary['saturates_at']}", markup=False
        )
    if rows:
        sizes = [r["batch_size"] for r in rows]
        console.print(
            text_chart(
                [("examples/s", sizes, [r["examples_per_second"] for r in rows])],
                "throughput by batch size",
                "batch size (log)",
                xlog=True,
            ),
            markup=False,
            highlight=False,
        )
    console.print(safe_text(summary["no_accumulation"]), markup=False)


def _print_initial(console: Any, summary: Mapping[str, Any]) -> None:
    objective = summary["objective"]
    console.print(
        text_table(
            "initial configuration: short constant-rate runs (PB-4)",
            ("learning rate", "status", f"best {objective}", "at step", "s/step"),
            [
                (
                    number(r["learning_rate"], ".3g"),
                    r["status"],
                    number(r["best_value"]),
                    number(r["best_step"], "d") if r["best_step"] is not None else "—",
                    number(r["seconds_per_step"], ".3g"),
                )
                for r in summary["runs"]
            ],
        )
    )
    chance = summary.get("chance")
    verdict = {True: "clearly beats it", False: "does NOT clearly beat it", None: "—"}
    console.print(
        f"chance level ({objective}): {number(chance)}; the best run "
        f"{verdict[summary.get('beats_chance')]}",
        markup=False,
    )
    if summary.get("seconds_per_trial") is not None:
        console.print(
            f"estimated time per trial at {summary['trial_steps']} steps: "
            f"{summary['seconds_per_trial']:.1f} s",
            markup=False,
        )
    series = [
        (
            f"lr {r['learning_rate']:.3g}",
            [p[0] for p in r["validation"] or []],
            [p[1] for p in r["validation"] or []],
        )
        for r in summary["runs"]
    ]
    console.print(text_chart(series, f"validation {objective}", "step"), markup=False)


def _print_sweep(console: Any, summary: Mapping[str, Any]) -> None:
    objective = summary["objective"]
    console.print(
        text_table(
            f"training length: constant-rate sweep, {summary['steps']} steps (PB-19)",
            ("learning rate", "status", f"best {objective}", "at step", "fits at step"),
            [
                (
                    number(r["learning_rate"], ".3g"),
                    r["status"] or "—",
                    number(r["best_value"]),
                    number(r["best_step"], "d") if r["best_step"] is not None else "—",
                    number(r["fit_step"], "d") if r["fit_step"] is not None else "—",
                )
                for r in summary["rows"]
            ],
        )
    )
    rows = [r for r in summary["rows"] if r["best_value"] is not None]
    if rows:
        console.print(
            text_chart(
                [
                    (
                        f"best {objective}",
                        [r["learning_rate"] for r in rows],
                        [r["best_value"] for r in rows],
                    )
                ],
                f"best validation {objective} by learning rate",
                "learning rate",
                xlog=True,
            ),
            markup=False,
        )


def _print_stability(console: Any, summary: Mapping[str, Any]) -> None:
    rate = summary["rate"]
    if summary["unstable"]:
        console.print(
            f"2× the best learning rate ({rate:.3g}) is unstable from step "
            f"{summary['unstable_at']} ({summary['phase']}): {summary['why']}",
            markup=False,
        )
    else:
        console.print(f"2× the best learning rate ({rate:.3g}) trains stably", markup=False)
    if summary["warmups"]:
        console.print(
            text_table(
                "warmup sweep at 2× the best rate (PB-30)",
                ("warmup steps", "stable", "unstable at"),
                [
                    (
                        str(w["warmup_steps"]),
                        "yes" if w["stable"] else "no",
                        number(w["unstable_at"], "d") if w["unstable_at"] else "—",
                    )
                    for w in summary["warmups"]
                ],
            )
        )
    if summary.get("clip_threshold") is not None:
        share = summary.get("clipped_share")
        console.print(
            f"clipping threshold (90th percentile of {summary['clip_source']}'s "
            f"gradient norms): {summary['clip_threshold']:.3g}"
            + ("" if share is None else f"; it would clip {share:.0%} of the 2× run's steps"),
            markup=False,
        )
    loss = summary.get("loss") or []
    series = [("2× best", list(range(1, len(loss) + 1)), loss)]
    for above in summary.get("above_best", []):
        curve = above.get("loss") or []
        series.append((f"lr {above['learning_rate']:.3g}", list(range(1, len(curve) + 1)), curve))
    console.print(text_chart(series, "training loss", "step"), markup=False)
    norms = summary.get("grad_norm") or []
    if norms:
        console.print(
            text_chart(
                [("grad norm", list(range(1, len(norms) + 1)), norms)],
                "gradient norm of the 2× run (PB-31)",
                "step",
            ),
            markup=False,
        )


# -- choices (model, optimizer) ---------------------------------------------------------------


def show_choices(args: argparse.Namespace) -> int:
    """`probe model` and `probe optimizer`: what there is to choose, and the suggestion."""
    from tunebook.core.experiments import session_workload
    from tunebook.core.project_start.model import model_family
    from tunebook.core.project_start.optimizer import optimizer_catalogue, suggest_optimizer
    from tunebook.sessions import Session
    from tunebook.tui.cli.engine_commands import show_foreign_code_notice

    with Session.open(args.path, read_only=True) as session:
        show_foreign_code_notice(session)
        workload = session_workload(session)
        if args.name == "model":
            family = model_family(session, workload)
            data = {
                "workload": family.workload,
                "task": family.task,
                "decided": family.decided,
                "advice": family.advice,
                "hparams": [vars(h) for h in family.hparams],
            }
        else:
            suggestion = suggest_optimizer(workload)
            data = {
                "suggestion": vars(suggestion),
                "optimizers": [
                    {**vars(o), "hparams": [vars(h) for h in o.hparams]}
                    for o in optimizer_catalogue()
                ],
            }
    if args.json:
        print(json.dumps(data, indent=2, default=list))
        return 0
    from rich.console import Console

    console = Console(highlight=False)
    if args.name == "model":
        console.print(safe_text(data["advice"]), markup=False)
        console.print(
            text_table(
                f"model family of {data['workload']} (PB-1, PB-4)",
                ("hyperparameter", "kind", "default", "now", "help"),
                [
                    (h["name"], h["kind"], str(h["default"]), str(h["value"]), h["help"])
                    for h in data["hparams"]
                ],
            )
        )
        console.print(
            f"record it with 'tunebook decide {safe_text(args.path)} model [NAME=VALUE …]'",
            markup=False,
        )
        return 0
    for info in data["optimizers"]:
        console.print(f"{info['name']}: {safe_text(info['rule'])}", markup=False, style="bold")
        console.print(
            "  " + ", ".join(f"{h['name']}={h['default']}" for h in info["hparams"]), markup=False
        )
    s = data["suggestion"]
    console.print(
        f"suggested: {s['name']} — {safe_text(s['reason'])}; early on, freeze "
        f"{', '.join(s['frozen'])} (PB-2, PB-28)",
        markup=False,
    )
    console.print(
        f"record it with 'tunebook decide {safe_text(args.path)} optimizer "
        f"{s['name']} --freeze {','.join(s['frozen'])}'",
        markup=False,
    )
    return 0


# -- decide -----------------------------------------------------------------------------------


def cmd_decide(args: argparse.Namespace) -> int:
    """Record a decision: the values given, else the latest completed probe's recommendation."""
    from tunebook.core.experiments import session_workload
    from tunebook.core.project_start.confirm import confirm_decision
    from tunebook.sessions import Session
    from tunebook.tui.cli.engine_commands import show_foreign_code_notice

    with Session.open(args.path) as session:
        show_foreign_code_notice(session)
        workload = session_workload(session)
        decision = confirm_decision(
            session,
            workload,
            args.what,
            args.values,
            frozen=[f for f in args.freeze.split(",") if f],
            rationale=args.rationale,
        )
        stale = [
            d.kind.value for d in session.decisions() if d.stale and session.decision(d.kind) == d
        ]
    print(
        f"decided {args.what}: {safe_text(describe_decision(decision.kind, decision.value))} "
        f"({safe_text(decision.rationale)})"
    )
    if stale:
        print(f"now stale (decide again after a new probe): {', '.join(stale)}")
    return 0
