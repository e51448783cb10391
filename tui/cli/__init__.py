"""The `tunebook` command: argument parsing, dispatch, and the error contract.

Bad input exits 2 with one sentence on stderr; a failure while running exits 1; `--debug`
adds the traceback. Each sub-command lives in its own module and imports heavy layers
(torch, textual) only when it runs, so `tunebook status` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from tunebook.sessions.errors import BadInput, TunebookError
from tunebook.sessions.text import safe_lines, safe_text
from tunebook.sessions.version import __version__
from tunebook.tui.cli import (
    adopt_commands,
    engine_commands,
    exploit_commands,
    probe_commands,
    promote_commands,
    review_commands,
    run_commands,
    session_commands,
)

COMMAND_MODULES = (
    session_commands,
    engine_commands,
    probe_commands,
    review_commands,
    adopt_commands,
    exploit_commands,
    promote_commands,
    run_commands,
)

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one sentence (exit 2) rather than a usage dump."""

    #: The sub-command names (set by `build_parser`); anything else opens the app.
    command_names: frozenset[str] = frozenset()

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"tunebook: {safe_text(message)} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> _Parser:
    """The full command-line grammar; documented in README.md (a test keeps them in sync)."""
    parser = _Parser(
        prog="tunebook",
        description="Tune deep-learning models the way the Deep Learning Tuning Playbook says.",
        epilog="With no COMMAND: 'tunebook [PATH] [--read-only]' opens the app (Home, or the "
        "session at PATH); run's --workers, --executor, --device, --address, "
        "--cpus-per-trial and --gpus-per-trial there say where the runs it starts train "
        "('o' on its run monitor changes them).",
    )
    parser.add_argument("--version", action="version", version=f"tunebook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(commands)
    parser.command_names = frozenset(commands.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    return execute(parse(argv))


def entry_point() -> NoReturn:
    """The `tunebook` script and `python -m tunebook.tui.cli`. A command marked
    `quick_exit` (`new`, `experiment add`: they load torch, and have closed what they
    opened by the time they return) ends without the interpreter's teardown, which with
    torch loaded costs about 0.3 s, a fifth of the command."""
    args = parse(None)
    code = execute(args)
    if getattr(args, "quick_exit", False):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command line (`handler` set), the app's when no command is named."""
    from tunebook.tui.cli.app_command import app_parser, interactive, open_app, wants_app

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not wants_app(argv, parser.command_names):
        return parser.parse_args(argv)
    args = app_parser().parse_args(argv)
    args.handler = open_app
    if args.path is None and not interactive():
        args.handler = lambda _: parser.print_help()
    return args


def execute(args: argparse.Namespace) -> int:
    """Run the parsed command: its exit code, an error as one sentence (see `_report`)."""
    try:
        return int(args.handler(args) or EXIT_OK)
    except BadInput as exc:
        return _report(args, exc, EXIT_BAD_INPUT)
    except TunebookError as exc:
        return _report(args, exc, EXIT_FAILURE)
    except KeyboardInterrupt:
        sys.stderr.write("tunebook: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        return _report(args, exc, EXIT_FAILURE, internal=True)


def _report(args: argparse.Namespace, exc: BaseException, code: int, internal: bool = False) -> int:
    """One line on stderr, its paths, keys and values escaped (they may come from a file)."""
    if args.debug:
        sys.stderr.write(safe_lines("".join(traceback.format_exception(exc))))
    message = f"internal error: {type(exc).__name__}: {exc}" if internal else str(exc)
    hint = "" if args.debug or code == EXIT_BAD_INPUT else " (run with --debug for the traceback)"
    sys.stderr.write(f"tunebook: {safe_text(message)}{hint}\n")
    return code
