"""How the project-start probes' numbers read as text: shared by `tunebook probe` and the
app's probe screens, so both show a measurement the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def number(value: Any, fmt: str = ".4g") -> str:
    """A number for a person: `—` when missing or not finite, else formatted by `fmt`."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, fmt)


#: The batch-size table's columns, as `batch_size_cells` fills them.
BATCH_SIZE_COLUMNS = ("batch", "examples/s", "gain", "s/step", "spread", "data wait", "peak MB")


def batch_size_cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    """One measured batch size as the table's cells (see `BATCH_SIZE_COLUMNS`)."""
    return (
        str(row["batch_size"]),
        f"{row['examples_per_second']:,.0f}",
        "—" if row["gain"] is None else f"×{row['gain']:.2f}",
        number(row["seconds_per_step"], ".3g"),
        f"{row['spread']:.0%}",
        f"{row['data_share']:.0%}",
        number(row.get("peak_memory_mb"), ".0f"),
    )
