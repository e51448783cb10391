"""Which torch device a trial or a measurement trains on: a GPU where one is visible to the
process that trains, unless the user says otherwise.

The runner stays light (no torch for `auto` or `cpu`), and the GPUs that count are those
of the process that trains, so a run's `--device` is checked in two halves: its spelling
at once (`requested_device`), and what it names where the trial trains (`trial_device`, in
the worker, with that worker's GPUs). Workers fork from a server that never touches CUDA,
so each initialises its own.
"""

from __future__ import annotations

import re

from tunebook.sessions import BadInput

AUTO = "auto"  # a GPU when the training process sees one, else the CPU
DEVICE_HELP = "auto (a GPU when one is visible, else cpu), cpu, cuda or cuda:N"
_SPELLING = re.compile(r"auto|cpu|cuda(:\d+)?")


def requested_device(device: str) -> str:
    """`device` as a run's option if it is spelled like one; BadInput otherwise (no torch)."""
    if not _SPELLING.fullmatch(device):
        raise BadInput(f"--device {device!r} is not one of {DEVICE_HELP}")
    return device


def default_device() -> str:
    """`cuda` when a GPU is visible to torch here, else `cpu`."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def checked_device(device: str) -> str:
    """`device` if torch can train on it here; BadInput saying why not otherwise."""
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError as exc:
        raise BadInput(
            f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:1)"
        ) from exc
    if kind not in ("cpu", "cuda"):
        raise BadInput(f"--device {device!r}: tunebook trains on cpu or cuda")
    if kind == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"--device {device!r}: no CUDA GPU is visible to torch on this machine")
    index = torch.device(device).index
    if index is not None and index >= torch.cuda.device_count():
        raise BadInput(
            f"--device {device!r}: torch sees {torch.cuda.device_count()} GPU(s) on this "
            "machine"
        )
    return device


def device_named(requested: str, slot: int = 0) -> str:
    """The device `trial_device` picks, for the record of where a trial trained; the request
    as given where it refuses (the trial then fails with that sentence)."""
    try:
        return trial_device(requested, slot)
    except BadInput:
        return requested


def trial_device(requested: str, slot: int = 0) -> str:
    """The device a trial trains on in this process. `auto` and `cuda` spread a pool's
    workers over the GPUs this process sees (worker `slot` takes GPU slot mod count; a Ray
    task sees only the GPUs it was given); `auto` falls back to the CPU where none is
    visible, `cuda` refuses (BadInput)."""
    if requested == "cpu" or requested.startswith("cuda:"):
        return checked_device(requested)
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count:
        return f"cuda:{slot % count}"
    if requested == "cuda":
        raise BadInput("--device 'cuda': no CUDA GPU is visible to the worker training it")
    return "cpu"
