"""`python -m tunebook.tui.cli` runs the command line (same as the `tunebook` script)."""

import sys

from tunebook.tui.cli import main

sys.exit(main())
