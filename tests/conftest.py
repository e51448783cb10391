"""Settings for the whole test run."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# The warm worker servers the tests' commands start live in a folder of this test run (a
# short path: a socket's name has a length limit) and end a minute after their last use,
# or as soon as the run ends and removes the folder. xdist's workers inherit the setting.
if "TUNEBOOK_WARM_DIR" not in os.environ:
    os.environ["TUNEBOOK_WARM_DIR"] = tempfile.mkdtemp(prefix="tbw-")
    os.environ.setdefault("TUNEBOOK_WARM_SECONDS", "60")
    _OWN_WARM_DIR = os.environ["TUNEBOOK_WARM_DIR"]
else:
    _OWN_WARM_DIR = None


def warm_settings() -> dict[str, str]:
    """The run's warm-server settings, for a test that builds a command's environment from
    nothing (so its commands' servers, too, end with the run)."""
    return {k: v for k, v in os.environ.items() if k.startswith("TUNEBOOK_WARM_")}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the run's server folder (its servers notice and exit within seconds)."""
    if _OWN_WARM_DIR is not None and not hasattr(session.config, "workerinput"):
        shutil.rmtree(_OWN_WARM_DIR, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first, `slow` (one to two minutes each) then `ray`: xdist hands
    tests out in this order, so they start at once on both workers and the short ones fill
    in around them, instead of a long test starting last and running on alone."""

    def rank(item: pytest.Item) -> int:
        return 0 if any(item.iter_markers("slow")) else 1 if any(item.iter_markers("ray")) else 2

    items.sort(key=rank)
