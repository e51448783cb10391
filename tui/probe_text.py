"""How probes' numbers read as text (the project-start ones, exploitation's ranges, the final
test): shared by the commands and the app's screens, so both show a measurement the same way."""

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


def range_text(low: Any, high: Any, values: tuple[Any, ...], scale: str) -> str:
    """A search range as `low … high (log)`, or a set of values: how `tunebook exploit`
    and the Exploitation screen show the exploration's and the refined ranges."""
    if values:
        return ", ".join(str(v) for v in values)
    return f"{number(low)} … {number(high)}{' (log)' if scale == 'log' else ''}"


def final_test_rows(summary: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The final test's (metric, test, validation) cells, metrics by name, then the
    examples counted: what `tunebook final-test` and the Final test screen show."""
    test, validation = summary.get("test", {}), summary.get("validation", {})
    names = sorted({key.split("/", 1)[1] for key in test} - {"count"})
    rows = [
        (name, number(test.get(f"test/{name}")), number(validation.get(f"validation/{name}")))
        for name in names
    ]
    count = (
        number(test.get("test/count"), ".0f"),
        number(validation.get("validation/count"), ".0f"),
    )
    return [*rows, ("examples", *count)]
