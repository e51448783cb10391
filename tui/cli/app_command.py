"""`tunebook [PATH] [--read-only] [RUN OPTIONS]`: the Textual app, on Home or on the
session at PATH; the run options (`tunebook run`'s executor, workers, device and Ray's) say
where the runs it starts train.

The app needs a terminal; without one (a pipe, a script) `tunebook` prints its help and
`tunebook PATH` says which command shows the session instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tunebook.sessions import BadInput
from tunebook.sessions.text import safe_text
from tunebook.tui.cli.run_commands import add_target_options, target_request


def wants_app(argv: Sequence[str], commands: frozenset[str]) -> bool:
    """True when `argv` names no sub-command: the app (on Home, or a session path)."""
    positional = [a for a in argv if not a.startswith("-")]
    if any(a in ("-h", "--help", "--version") for a in argv):
        return False
    return not positional or positional[0] not in commands


def app_parser(prog: str = "tunebook") -> argparse.ArgumentParser:
    """The grammar of the app's entry point."""
    from tunebook.tui.cli import _Parser

    parser = _Parser(
        prog=prog,
        description="Open the tunebook app. The run options say where the runs it starts "
        "train, as 'tunebook run' takes them (on a cluster's head node: --executor ray "
        "--address HEAD:6379 --gpus-per-trial 1).",
    )
    parser.add_argument("path", nargs="?", help="a session file to open (default: Home)")
    parser.add_argument(
        "--read-only", action="store_true", help="open the session without changing it"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    add_target_options(parser, default_workers="half the cores")
    return parser


def interactive() -> bool:
    """Whether a person is at a terminal (the app can draw)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def open_app(args: argparse.Namespace) -> int:
    """Run the app until the user quits; a run it started keeps running."""
    path = Path(args.path) if args.path else None
    if path is not None and not path.is_file():
        raise BadInput(
            f"'{safe_text(str(path))}' is not a session file; 'tunebook new {safe_text(str(path))}"
            " --workload W' creates one"
            if not path.exists()
            else f"'{safe_text(str(path))}' is not a session file"
        )
    run_request = target_request(args)
    if not interactive():
        raise BadInput(
            "the tunebook app needs a terminal; "
            + (f"'tunebook status {safe_text(str(path))}'" if path else "'tunebook --help'")
            + " works without one"
        )
    return run_app(path, read_only=args.read_only, run_request=run_request)


def run_app(path: Path | None, **options: object) -> int:
    """Start the app (Home when `path` is None) and block until it exits."""
    from tunebook.tui.app import TunebookApp

    TunebookApp(path, **options).run()  # type: ignore[arg-type]
    return 0
