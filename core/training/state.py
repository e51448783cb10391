"""A trial's full resume state as bytes: ``torch.save`` out, ``torch.load(weights_only=True)`` in.

Only tensors, numbers, strings, lists and dicts go in, so loading a state from someone
else's session file can never execute code (no arbitrary Python objects are rebuilt). RNG states
of torch, numpy and Python are converted to tensors and lists for that reason.
"""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
import torch

from tunebook.sessions.errors import BadInput

STATE_VERSION = 1


def to_bytes(payload: Any) -> bytes:
    """Serialize tensors/containers with ``torch.save``."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> Any:
    """Load bytes written by ``to_bytes`` on the CPU, refusing anything but plain data."""
    try:
        return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadInput(f"saved trial state is unreadable ({type(exc).__name__}: {exc})") from exc


def capture_rng(device: torch.device) -> dict[str, Any]:
    """The torch (and CUDA, for a CUDA device), numpy and Python global RNG states."""
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": version,
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, Any], device: torch.device) -> None:
    """Put back RNG states captured by ``capture_rng``."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate(
        (
            python_state["version"],
            tuple(python_state["internal"].tolist()),
            python_state["gauss_next"],
        )
    )
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def decode_state(blob: bytes) -> dict[str, Any]:
    """Load a resume state and check it is one this version of tunebook wrote."""
    payload = from_bytes(blob)
    if not isinstance(payload, dict) or payload.get("version") != STATE_VERSION:
        found = payload.get("version") if isinstance(payload, dict) else type(payload).__name__
        raise BadInput(f"saved trial state has version {found!r}, expected {STATE_VERSION}")
    return payload
