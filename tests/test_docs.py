"""Docs that cannot drift: every CLI command is in the README, and the code is lint-clean."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tunebook.tui.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def command_names(parser: argparse.ArgumentParser, prefix: str = "tunebook") -> list[str]:
    """Every sub-command path, e.g. 'tunebook experiment add'."""
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names.append(f"{prefix} {name}")
                names.extend(command_names(sub, f"{prefix} {name}"))
    return names


@pytest.mark.parametrize("command", command_names(build_parser()))
def test_every_command_is_documented(command: str) -> None:
    assert f"`{command}" in README


def test_quick_start_is_exactly_two_commands() -> None:
    block = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = block.strip().splitlines()
    assert len(lines) == 2
    assert "pytest" in lines[1]


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
