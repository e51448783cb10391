"""`tunebook workloads`, `experiment add`, `trial rerun`, `relocate` and `demo`: the engine
by command.

Each imports `tunebook.core` (and so torch) only when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunebook.sessions import Experiment, Session, Trial
from tunebook.sessions.text import plural, safe_text
from tunebook.tui.cli.output import finite_json

if TYPE_CHECKING:
    from tunebook.core.experiments import AddedExperiment


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to the parser."""
    workloads = commands.add_parser("workloads", help="list the built-in workloads")
    workloads.set_defaults(handler=cmd_workloads)

    experiment = commands.add_parser("experiment", help="design experiments")
    experiment_commands = experiment.add_subparsers(dest="experiment_command", required=True)
    add = experiment_commands.add_parser("add", help="add an experiment from a TOML spec")
    add.add_argument("path", help="the session file")
    add.add_argument("spec", help="the experiment spec (TOML)")
    add.set_defaults(handler=cmd_experiment_add, quick_exit=True)  # see entry_point

    trial = commands.add_parser("trial", help="work with one trial")
    trial_commands = trial.add_subparsers(dest="trial_command", required=True)
    rerun = trial_commands.add_parser(
        "rerun", help="re-run a trial headlessly into the same session and compare"
    )
    rerun.add_argument("path", help="the session file")
    rerun.add_argument("trial", type=int, help="the trial id")
    rerun.set_defaults(handler=cmd_trial_rerun)

    relocate = commands.add_parser(
        "relocate", help="point a session at its workload's files after they moved"
    )
    relocate.add_argument("path", help="the session file")
    relocate.add_argument(
        "--workload", "-w", help="the workload file's new place, NEWPATH.py:Class (same class)"
    )
    relocate.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=PATH",
        help="a file option's new place, e.g. -o csv=data/train.csv (repeatable)",
    )
    relocate.set_defaults(handler=cmd_relocate)

    demo = commands.add_parser(
        "demo", help="a complete small study on the built-in default workload"
    )
    demo.add_argument(
        "path", nargs="?", default="demo.tunebook", help="session file (default demo.tunebook)"
    )
    demo.add_argument(
        "--headless",
        action="store_true",
        help="print progress and results instead of opening the app (the default when "
        "there is no terminal)",
    )
    demo.add_argument("--workers", "-j", type=int, default=2, help="worker processes (default 2)")
    demo.set_defaults(handler=cmd_demo)


def cmd_workloads(args: argparse.Namespace) -> int:
    """List built-in workloads with their task, objective and hyperparameters."""
    from tunebook.core.workloads import builtin_workloads

    for name, cls in builtin_workloads().items():
        workload = cls()
        objective = workload.objective
        print(f"{name}: {cls.description}")
        print(f"  task {cls.task}, objective validation/{objective.metric} ({objective.mode})")
        for hparam in cls.hparams:
            choices = f" {{{', '.join(map(str, hparam.choices))}}}" if hparam.choices else ""
            print(f"  {hparam.name} = {hparam.default!r} ({hparam.kind}{choices}) {hparam.help}")
    return 0


def cmd_experiment_add(args: argparse.Namespace) -> int:
    """Validate the spec against the session's workload, store it, and print the advice."""
    from tunebook.core.execution.warm_client import start_soon
    from tunebook.core.experiments import add_experiment_from_spec

    with Session.open(args.path) as session:
        show_foreign_code_notice(session)
        start_soon()  # for the run likely to follow
        added = add_experiment_from_spec(session, args.spec)
    print_added(args.path, added)
    return 0


def print_added(path: str, added: AddedExperiment) -> None:
    """What `experiment add` says of a stored experiment: its studies, the coverage of
    the scientific values, the playbook's notes, the estimated time, how to run it."""
    name, studies = safe_text(added.experiment.name), plural(len(added.studies), "study")
    print(f"added experiment '{name}' with {studies}:")
    for study in added.studies:
        print(f"  {safe_text(study)}")
    for hparam, cover in added.coverage.items():
        counts = ", ".join(f"{value}: {count}" for value, count in cover.counts.items())
        print(
            f"coverage of {safe_text(hparam)} over the planned trials: {safe_text(counts)} "
            f"(max/min {cover.ratio:.2f})"
        )
    for advice in added.advice:
        print(f"note ({advice.playbook_id}): {safe_text(advice.message)}")
    print(cost_line(path, added.experiment))
    print(f"run it with 'tunebook run {safe_text(path)}'")


def print_planned(
    args: argparse.Namespace,
    plan: dict[str, Any],
    spec: dict[str, Any],
    added: AddedExperiment | None,
    print_plan: Callable[[], None],
) -> int:
    """How `exploit` and `promote` end: with `--json` the plan, the spec and the stored
    experiment's name; else the plan, then what `experiment add` says of the experiment,
    or that `--dry-run` stored nothing."""
    if args.json:
        document = {
            "plan": plan,
            "spec": spec,
            "experiment": None if added is None else added.experiment.name,
        }
        print(json.dumps(finite_json(document), indent=2, allow_nan=False))
        return 0
    print_plan()
    if added is None:
        print(f"nothing stored (--dry-run); the experiment would be '{safe_text(spec['name'])}'")
        return 0
    print_added(args.path, added)
    return 0


def cost_line(path: str, experiment: Experiment) -> str:
    """The estimated time of an experiment's trials (PB-10), from the project-start probes."""
    from tunebook.core.project_start.cost import estimate_cost

    with Session.open(path, read_only=True) as session:
        trials = sum(study.budget for study in session.studies(experiment.id))
        cost = estimate_cost(session, experiment.max_train_steps, trials)
    if cost is None:
        return (
            "estimated time: unknown until the batch-size and initial-configuration probes "
            "are decided ('tunebook probe batch-size PATH')"
        )
    return (
        f"estimated time: {cost.seconds_per_trial:.1f} s per trial ({experiment.max_train_steps} "
        f"steps at {cost.seconds_per_step * 1000:.2f} ms, measured by the project-start probes), "
        f"about {cost.wall_seconds / 60:.1f} min for {trials} trials on one worker"
    )


def cmd_trial_rerun(args: argparse.Namespace) -> int:
    """Re-run a finished trial with its stored hyperparameters and seeds; print both results."""
    from tunebook.core.execution.rerun import rerun_trial

    before, after = rerun_trial(args.path, args.trial, notice=print_notice)
    print(f"trial {args.trial}: before {_outcome(before)}")
    print(f"trial {args.trial}: now    {_outcome(after)}")
    same = (before.best_value, before.best_step) == (after.best_value, after.best_step)
    print("same numbers" if same else "the numbers differ (nondeterministic kernels or settings)")
    return 0


def cmd_relocate(args: argparse.Namespace) -> int:
    """Store the workload's files' new places, after checking that they load."""
    from tunebook.core.api import relocate
    from tunebook.core.workload_source import parse_options, session_workload_source

    if args.workload is None:  # the session's own workload file is imported to check it
        with Session.open(args.path, read_only=True) as session:
            show_foreign_code_notice(session, check_files=False)
    relocate(args.path, args.workload, parse_options(args.option, typed=False))
    with Session.open(args.path, read_only=True) as session:
        source = session_workload_source(session)
    print(f"session {safe_text(args.path)} now loads workload {safe_text(repr(source.stored_ref))}")
    for option in source.path_options:
        if option in source.stored_config:
            stored, found = source.stored_config[option], source.config[option]
            shown = f"{option} = {stored!r} (here: {found!r})"
            print(f"  {safe_text(shown)}")
    return 0


def show_foreign_code_notice(session: Session, check_files: bool = True) -> None:
    """Before a command imports the session's workload code: check that its files are here,
    and name that code when another user or host created the session (it runs as you)."""
    from tunebook.core.workload_source import announce_foreign_code, session_workload_source

    if check_files:
        session_workload_source(session).check()
    announce_foreign_code(session, print_notice)


def print_notice(line: str) -> None:
    """A notice goes to stderr, so that stdout stays the command's result."""
    print(line, file=sys.stderr, flush=True)


def _outcome(trial: Trial) -> str:
    """`completed, best 0.1 at step 20`, or `failed, no best value: the error`."""
    if trial.best_value is None:
        result = "no best value"
    else:
        result = f"best {trial.best_value:.6g} at step {trial.best_step}"
    error = f": {safe_text(trial.error)}" if trial.error else ""
    return f"{trial.status.value}, {result}{error}"


def cmd_demo(args: argparse.Namespace) -> int:
    """Create (or resume) the demo session, then open the app on it at the guided path's
    next step, or, headless, run its ready-made study with a progress bar and print the
    results."""
    from tunebook.core.demo import prepare_demo
    from tunebook.core.execution.control import RunRequest
    from tunebook.sessions.report import status_data
    from tunebook.tui.cli.app_command import interactive, run_app
    from tunebook.tui.cli.run_commands import run_with_progress
    from tunebook.tui.cli.session_commands import print_status

    path = Path(args.path)
    guided = not args.headless and interactive()
    created = prepare_demo(path, with_study=not guided)
    if guided:  # the app on the guided path: its session map shows the first step
        return run_app(path, run_request=RunRequest(workers=args.workers))
    print(("created " if created else "resuming ") + f"{safe_text(path)}: {DEMO_BLURB}")
    run_with_progress(str(path), {"workers": args.workers})
    with Session.open(path, read_only=True) as session:
        print_status(status_data(session))
    print(
        f"export a report with 'tunebook export {safe_text(path)} --format md', "
        f"or list every trial with --format csv"
    )
    return 0


DEMO_BLURB = (
    "does a deeper MLP lower validation error on the built-in tabular task? "
    "One study per depth, each tuning the learning rate with quasi-random search (PB-9, PB-29)."
)
