"""What `tunebook run --executor ray` takes: the cluster to join and what each trial asks
of it. Plain data, importable without Ray (the CLI checks it before Ray is imported)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tunebook.sessions import BadInput


@dataclass(frozen=True)
class RayOptions:
    """`address`: a running cluster's head (`HOST:PORT`, or `auto` for the one started on
    this machine by `ray start`); None starts a local Ray instance for the run.
    `cpus_per_trial`: the CPUs Ray reserves for each trial (its torch threads, rounded
    down, at least 1). `gpus_per_trial`: GPUs per trial; a fraction below 1 lets trials
    share a GPU (0.5: two per GPU), above 1 it must be whole."""

    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0

    def __post_init__(self) -> None:
        cpus, gpus = self.cpus_per_trial, self.gpus_per_trial
        if not (math.isfinite(cpus) and cpus > 0):
            raise BadInput(f"--cpus-per-trial must be more than 0, got {cpus:g}")
        if not (math.isfinite(gpus) and gpus >= 0):
            raise BadInput(f"--gpus-per-trial must be 0 or more, got {gpus:g}")
        if gpus > 1 and gpus != int(gpus):
            raise BadInput(
                f"--gpus-per-trial above 1 must be a whole number (Ray shares a GPU only "
                f"in fractions below 1), got {gpus:g}"
            )
        if self.address is not None and not self.address.strip():
            raise BadInput("--address is empty; give the head node's HOST:PORT, or leave it out")

    @property
    def threads(self) -> int:
        """Torch threads for each trial: its CPUs, rounded down, at least 1."""
        return max(1, int(self.cpus_per_trial))
