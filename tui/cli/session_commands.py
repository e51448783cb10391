"""`tunebook new`, `status` and `export`: the session file from the command line.

`status` and `export` import only `tunebook.sessions` (no torch, no textual), so they answer
instantly even on a laptop without the training stack warmed up.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tunebook.sessions import BadInput, Session, WorkloadFacts, describe_facts
from tunebook.sessions.report import (
    EXPORT_FORMATS,
    WITHIN_ONE_EXAMPLE,
    WITHIN_ONE_EXAMPLE_NOTE,
    FailureGroup,
    best_label,
    best_study_id,
    chosen_by,
    data_notes,
    experiment_state,
    export_text,
    status_data,
    to_json,
)
from tunebook.sessions.text import safe_text


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to the parser."""
    new = commands.add_parser("new", help="create a session file for a workload")
    new.add_argument("path", help="the session file to create (e.g. mlp.tunebook)")
    new.add_argument(
        "--workload",
        "-w",
        required=True,
        help="built-in name, path/to/file.py:Class or pkg.mod:Class",
    )
    new.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="workload configuration, e.g. -o csv=data.csv -o target=label (repeatable)",
    )
    new.set_defaults(handler=cmd_new, quick_exit=True)  # see entry_point

    status = commands.add_parser("status", help="show a session's decisions, studies and runner")
    status.add_argument("path", help="the session file")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    export = commands.add_parser("export", help="write the session as CSV, JSON or Markdown")
    export.add_argument("path", help="the session file")
    export.add_argument("--format", "-f", choices=EXPORT_FORMATS, default="md")
    export.add_argument("--output", "-O", help="write to this file instead of standard output")
    export.set_defaults(handler=cmd_export)

    note = commands.add_parser(
        "note", help="attach a note to the session, an experiment or a trial (PB-24)"
    )
    note.add_argument("path", help="the session file")
    note.add_argument("text", help="the note")
    where = note.add_mutually_exclusive_group()
    where.add_argument("--experiment", "-e", help="attach it to this experiment")
    where.add_argument("--trial", "-t", type=int, help="attach it to this trial")
    note.set_defaults(handler=cmd_note)


def cmd_new(args: argparse.Namespace) -> int:
    """Check the workload loads, then create the file (the app's new-session form calls
    the same `parse_options` and `create_session`)."""
    Session.check_new_path(args.path)  # before importing torch: a quick refusal
    from tunebook.core.execution.warm_client import start_soon

    start_soon()  # the trials to come fork from it; it imports torch while this one does
    from tunebook.core.api import create_session
    from tunebook.core.workload_source import parse_options

    info = create_session(args.path, args.workload, parse_options(args.option))
    print(f"created {safe_text(info.path)} for workload {safe_text(info.workload)}")
    print(describe_facts(info.workload_facts))
    for note in info.workload_facts.notes if info.workload_facts else ():
        print(f"note: {safe_text(note)}")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    """Store the note on its target (which must exist) and say where it went."""
    from tunebook.sessions import BadInput
    from tunebook.sessions.report import note_target

    text = args.text.strip()
    if not text:
        raise BadInput("the note is empty; write what you want to remember")
    with Session.open(args.path) as session:
        target = note_target(session, args.experiment, args.trial)
        stored = session.add_note(target, text)
    where = (
        f"experiment '{safe_text(args.experiment)}'"
        if args.experiment is not None
        else (f"trial {args.trial}" if args.trial is not None else "the session")
    )
    print(f"note {stored.id} on {where}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print the session summary, as text or as the documented JSON."""
    from tunebook.core.session_map import session_map

    with Session.open(args.path, read_only=True) as session:
        data = status_data(session)
        stages = session_map(session)
    data["stages"] = [stage.to_dict() for stage in stages.stages]
    data["next_step"] = stages.next.key if stages.next else None
    if args.json:
        sys.stdout.write(to_json(data))
    else:
        print_status(data)
    return 0


def print_status(data: dict[str, Any]) -> None:
    """The human view of `status_data`, as rich tables. Markup is off and every text from
    the file goes through `safe_text`: names and errors are shown, never interpreted."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(markup=False, highlight=False, soft_wrap=True)
    console.print(
        Text.assemble(
            (safe_text(data["name"]), "bold"),
            f"  {safe_text(data['path'])}  workload ",
            (safe_text(data["workload"]["ref"]), "cyan"),
        )
    )
    facts = data["workload_facts"] and WorkloadFacts.from_dict(data["workload_facts"])
    console.print(describe_facts(facts))
    for note in data_notes(facts):
        console.print(f"note: {safe_text(note)}")
    if data["read_only"]:
        console.print("read-only: you cannot write this file; status and export still work")
    runner = data["runner"]
    if runner is None:
        console.print("runner: none")
    else:
        state = ("alive", "green") if runner["alive"] else ("stale (not running)", "red")
        detached = ", detached" if runner["detached"] else ""
        console.print(
            Text.assemble(
                f"runner: pid {runner['pid']} on {safe_text(runner['host'])}{detached} — ",
                state,
                f", heartbeat {runner['heartbeat_age_s']} s ago",
            )
        )
    for decision in data["decisions"]:
        stale = ("  (stale)", "yellow") if decision["stale"] else ""
        value = safe_text(decision["value"])
        console.print(Text.assemble(f"decision {safe_text(decision['kind'])}: {value}", stale))
    if not data["experiments"]:
        console.print("no experiments yet: add one with 'tunebook experiment add PATH SPEC.toml'")
    for experiment in data["experiments"]:
        title = (
            f"{safe_text(experiment['name'])} ({experiment_state(experiment)}): "
            f"{safe_text(experiment['goal'])}"
        )
        table = Table(title=title, title_justify="left")
        for column in ("study", "chosen by", "done", "infeasible", "failed", "best"):
            table.add_column(column, no_wrap=column not in ("study", "chosen by"))
        best_id = best_study_id(experiment["studies"])
        labels = [best_label(s, s["id"] == best_id) for s in experiment["studies"]]
        for study, label in zip(experiment["studies"], labels):
            counts = study["counts"]
            table.add_row(
                safe_text(study["name"]),
                safe_text(chosen_by(study)),
                f"{study['finished']}/{study['budget']}",
                str(counts["infeasible"]),
                str(counts["failed"]),
                label,
            )
        console.print(table)
        if any(label.endswith(WITHIN_ONE_EXAMPLE) for label in labels):
            console.print(WITHIN_ONE_EXAMPLE_NOTE)
        for group in experiment["failures"]:
            console.print(Text(FailureGroup.from_dict(group).line(), style="red"))
    totals = data["trials"]
    console.print(
        f"trials: {totals['total']} total, {totals['completed']} completed, "
        f"{totals['infeasible']} infeasible, {totals['failed']} failed, "
        f"{totals['running']} running, {totals['pending']} pending"
    )
    found = data["final_test"]
    if found is not None:
        console.print(
            f"final test: {safe_text(found['objective'])} {found['value']:.4g} (trial "
            f"{found['trial']}, step {found['checkpoint_step']}; evaluated once, PB-18)",
            markup=False,
        )
    print_stages(console, data.get("stages", []))


def print_stages(console: Any, stages: list[dict[str, Any]]) -> None:
    """The playbook's stages, one line each, and the recommended next step with its command
    (the same map the app's Session map screen draws)."""
    from rich.text import Text

    if not stages:
        return
    console.print("playbook stages:")
    for stage in stages:
        console.print(
            Text.assemble(
                f"  {stage['state']:<12} ",
                (safe_text(stage["title"]), "bold"),
                f": {safe_text(stage['summary'])}",
            )
        )
    for stage in stages:
        if stage["state"] == "next":
            how = f"; run '{safe_text(stage['command'])}'" if stage["command"] else ""
            reason = f" ({safe_text(stage['reason'])})" if stage["reason"] else ""
            console.print(f"next step: {safe_text(stage['title'])}{reason}{how}")


def review_checklists(session: Session) -> dict[str, list[tuple[str, str, str]]]:
    """Each experiment's review checklist as (check, verdict, next step) rows, for the
    Markdown report (PB-24); `tunebook.core.analysis` reads rows only, never torch."""
    from tunebook.core.analysis.checklist import experiment_checklist
    from tunebook.core.analysis.study import load_experiment

    return {
        e.name: [
            (item.title, item.verdict.value, item.next_step)
            for item in experiment_checklist(session, load_experiment(session, e.name))
        ]
        for e in session.experiments()
    }


def cmd_export(args: argparse.Namespace) -> int:
    """Export to stdout, or atomically to --output (never a half-written file)."""
    with Session.open(args.path, read_only=True) as session:
        checklists = review_checklists(session) if args.format == "md" else None
        text = export_text(session, args.format, checklists)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    if target.is_dir():
        raise BadInput(f"--output '{target}' is a directory")
    if not target.parent.is_dir():
        raise BadInput(f"--output '{target}': folder '{target.parent}' does not exist")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    print(f"wrote {safe_text(target)}", file=sys.stderr)
    return 0
