"""What every pilot test of the app needs: waiting until the app reaches a state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


async def wait_for(
    pilot: Pilot, condition: Callable[[], Any], timeout: float = 10.0, what: str = ""
) -> Any:
    """Let the app run until `condition()` is truthy (returned), or fail naming `what`
    (workers report through the event loop, so the test must yield to it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
