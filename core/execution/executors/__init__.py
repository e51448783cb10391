"""Where trials train: one `Executor` contract (`base`) and its implementations.

- `inline`: a thread of the runner's process, one trial at a time (tests, debugging);
- `process`: N worker processes on this machine (the default);
- `ray`: Ray tasks on a local Ray instance or a cluster (the optional `tunebook[ray]`).

Whichever runs them, the runner stays the session file's only writer (PB-26).
"""

from __future__ import annotations

from tunebook.core.execution.executors.base import Executor
from tunebook.core.execution.executors.ray_options import RayOptions

EXECUTORS = ("inline", "process", "ray")


def make_executor(
    name: str,
    workers: int | None = None,
    memory_limit_mb: int | None = None,
    ray: RayOptions | None = None,
    workload: str = "",
) -> Executor:
    """The executor `tunebook run --executor NAME` means, started and ready for trials of
    the workload `workload` (a reference, as the session stores it resolved)."""
    if name == "inline":
        from tunebook.core.execution.executors.inline import InlineExecutor

        return InlineExecutor()
    if name == "process":
        from tunebook.core.execution.executors.processes import ProcessExecutor

        return ProcessExecutor(workers or 1, memory_limit_mb)
    if name == "ray":
        from tunebook.core.execution.executors.ray_cluster import RayExecutor

        return RayExecutor(ray or RayOptions(), workload, workers)
    raise ValueError(f"no executor {name!r} (known: {', '.join(EXECUTORS)})")


__all__ = ["EXECUTORS", "Executor", "RayOptions", "make_executor"]
