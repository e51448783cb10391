"""Refilling a DataTable whose rows all change at once, with widths from the content.

`DataTable.clear()` keeps auto-width columns at a width computed before the new rows came,
so the same data could draw two ways; remaking the columns with explicit widths makes a
table look the same whenever the same rows arrive.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Row = tuple[str | None, Sequence[Text]]  # (row key, cells)


def refill(
    table: DataTable,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Row],
    widths: dict[str, int] | None = None,
) -> None:
    """Replace `table`'s columns (key, label) and rows, keeping the cursor's row number.
    Column widths fit the widest cell unless `widths` fixes them by key."""
    row = table.cursor_row
    table.clear(columns=True)
    for index, (key, label) in enumerate(columns):
        fitted = max([len(label), *(cells[index].cell_len for _, cells in rows)])
        table.add_column(label, key=key, width=(widths or {}).get(key, fitted))
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if rows:
        table.move_cursor(row=min(max(row, 0), len(rows) - 1))
