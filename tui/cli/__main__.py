"""`python -m tunebook.tui.cli` runs the command line (same as the `tunebook` script)."""

from tunebook.tui.cli import entry_point

entry_point()
