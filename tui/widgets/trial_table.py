"""The run monitor's trial table: one row per trial, updated in place as a run writes.

`show(data, filter_text)` takes the monitor's records (`core.monitor.MonitorData`) and
changes only what changed: cells of the rows whose values moved (the running trials'
step, loss and elapsed time), rows appended for trials the runner created; it rebuilds the
rows only when the filter or the set of trials changed otherwise. The cursor stays on the
same trial across updates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from tunebook.core.monitor import (
    NUMBER_WIDTH,
    HParamColumn,
    MonitorData,
    TrialRow,
    format_duration,
    format_number,
    format_step,
    format_value,
    matches,
)
from tunebook.sessions.records import TrialStatus
from tunebook.sessions.text import safe_text
from tunebook.tui.widgets.curve_chart import trial_color

STATUS_STYLE = {
    TrialStatus.PENDING: "dim",
    TrialStatus.RUNNING: "bold cyan",
    TrialStatus.COMPLETED: "green",
    TrialStatus.INFEASIBLE: "yellow",
    TrialStatus.FAILED: "bold red",
}

#: (key, label, width) of the columns before and after the hyperparameters.
#: Widths include one space of separation (the table has no cell padding, to fit 80 columns).
LEADING = (("trial", "trial", 6), ("study", "study", 0))
TRAILING = (
    ("status", "status", 11),
    ("step", "step/max", 10),
    ("loss", "loss", NUMBER_WIDTH + 1),
    ("best", "best", NUMBER_WIDTH + 1),
    ("elapsed", "time", 7),
)
VALUE_WIDTH = 9


def fitted_width(values: list[str], name: str, low: int, high: int) -> int:
    """A column's width: its widest value or its name (names give way first: at most
    `high` − 1 characters, at least `low` − 1), plus one space of separation."""
    widest = max((len(v) for v in values), default=1)
    return min(max(widest, min(len(name), low + 3), low), high) + 1


def swatch(trial_id: int) -> Text:
    """The trial's id behind a block of its chart colour: a space with that background, not
    a glyph like ■, whose width terminals disagree on (East Asian "ambiguous" width)."""
    red, green, blue = trial_color(trial_id)
    text = Text()
    text.append(" ", style=Style(bgcolor=Color(red, green, blue).rich_color))
    text.append(f" {trial_id}")
    return text


def row_cells(row: TrialRow, value_widths: Sequence[int]) -> tuple[Text, ...]:
    """The table's cells of one trial, every text from the file made safe; a value longer
    than its column (`value_widths`, separating space included) ends in an ellipsis."""
    values = []
    for value, width in zip(row.values, value_widths):
        text = Text(safe_text(format_value(value)), no_wrap=True)
        text.truncate(width - 1, overflow="ellipsis")  # keep the separating space
        values.append(text)
    return (
        swatch(row.trial_id),
        Text(safe_text(row.study), no_wrap=True, overflow="ellipsis"),
        *values,
        Text(row.status.value, style=STATUS_STYLE[row.status]),
        Text(format_step(row)),
        Text(format_number(row.train_loss)),
        Text(format_number(row.best_value)),
        Text(format_duration(row.elapsed)),
    )


class TrialTable(DataTable):
    """Trials with their study, design values, status, step, loss, objective and time."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self._columns: tuple[HParamColumn, ...] | None = None
        self._keys: tuple[str, ...] = ()
        self._cells: dict[int, tuple[Text, ...]] = {}
        self._rows: dict[int, TrialRow] = {}
        self._column_keys: tuple[str, ...] = ()
        #: Each hyperparameter column's width, its separating space included.
        self._value_widths: list[int] = []

    @property
    def shown_ids(self) -> tuple[int, ...]:
        """The trial ids shown now, top to bottom."""
        return tuple(int(key) for key in self._keys)

    @property
    def selected_id(self) -> int | None:
        """The trial under the cursor, or None when the table is empty."""
        row = self.cursor_row
        return int(self._keys[row]) if 0 <= row < len(self._keys) else None

    def show(self, data: MonitorData, filter_text: str = "") -> None:
        """Show `data`'s trials that match `filter_text`, keeping the cursor's trial."""
        selected = self.selected_id
        if data.columns != self._columns or self._too_narrow(data):
            self._set_columns(data)
        rows = [r for r in data.rows if matches(r, filter_text)]
        keys = tuple(str(r.trial_id) for r in rows)
        cells = {}
        for row in rows:  # cells only for rows that changed: a read keeps finished rows
            old = self._rows.get(row.trial_id)
            same = old is row or old == row
            cells[row.trial_id] = (
                self._cells[row.trial_id] if same else row_cells(row, self._value_widths)
            )
        if keys[: len(self._keys)] == self._keys and self._keys:
            self._update(rows[len(self._keys) :], cells)
        else:
            self.clear()
            for row in rows:
                self.add_row(*cells[row.trial_id], key=str(row.trial_id))
        self._keys, self._cells = keys, cells
        self._rows = {row.trial_id: row for row in rows}
        self._restore_cursor(selected, data)

    def _set_columns(self, data: MonitorData) -> None:
        """Columns for `data`: each hyperparameter and the study as wide as their values
        need (within bounds), so that the table fits 80 columns in the common case."""
        self.clear(columns=True)
        self._keys, self._cells, self._rows = (), {}, {}
        keys = []
        study_width = fitted_width([r.study for r in data.rows], "study", 6, 14)
        for key, label, width in LEADING:
            width = study_width if key == "study" else width
            keys.append(self.add_column(label, key=key, width=width).value)
        self._value_widths = []
        for index, column in enumerate(data.columns):
            values = [format_value(r.values[index]) for r in data.rows]
            width = fitted_width(values, column.name, 4, VALUE_WIDTH)
            self._value_widths.append(width)
            label = Text(safe_text(column.name), no_wrap=True, overflow="ellipsis")
            label.truncate(width - 1, overflow="ellipsis")  # keep the separating space
            label.append(" ")
            if column.role == "scientific":
                label.stylize("bold")
            keys.append(self.add_column(label, key=f"hp:{column.name}", width=width).value)
        longest_run = max((r.max_steps for r in data.rows), default=0)
        for key, label, width in TRAILING:
            if key == "step":  # `12000/12000` and a space, when the runs are that long
                width = max(width, 2 * len(str(longest_run)) + 2)
            keys.append(self.add_column(label, key=key, width=width).value)
        self._columns = data.columns
        self._column_keys = tuple(keys)

    def _too_narrow(self, data: MonitorData) -> bool:
        """Whether a value drawn since the columns were fitted (a trial's first point) needs
        a wider column than its own, which can still grow (up to `VALUE_WIDTH`)."""
        fresh = [r for r in data.rows if (old := self._rows.get(r.trial_id)) is not r and old != r]
        return any(
            width < VALUE_WIDTH + 1 and len(format_value(row.values[index])) > width - 1
            for row in fresh
            for index, width in enumerate(self._value_widths)
        )

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """The scrollable size, without measuring cells: every column here has a fixed
        width and every row one line, while DataTable's own version measures each new cell
        (0.2 s for 2,000 rows, most of the time to a painted monitor). Overrides a private
        method of Textual's DataTable (textual 8)."""
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            width + self._row_label_column_width, self._total_row_height + header
        )

    def _update(self, added: list[TrialRow], cells: dict[int, tuple[Text, ...]]) -> None:
        """Change the cells that differ, then append the new trials' rows."""
        for trial_id, old in self._cells.items():
            new = cells[trial_id]
            if new is old or new == old:
                continue
            for column_key, before, after in zip(self._column_keys, old, new):
                if before != after:
                    self.update_cell(str(trial_id), column_key, after)
        for row in added:
            self.add_row(*cells[row.trial_id], key=str(row.trial_id))

    def _restore_cursor(self, selected: int | None, data: MonitorData) -> None:
        """Back onto the trial that was selected; when it is not shown (first paint, or
        filtered out), onto the first running trial, else the nearest row."""
        if not self._keys:
            return
        if selected is not None and str(selected) in self._keys:
            row = self._keys.index(str(selected))
        else:
            running = [str(i) for i in data.running_ids() if str(i) in self._keys]
            row = (
                self._keys.index(running[0])
                if running
                else min(self.cursor_row, len(self._keys) - 1)
            )
        if row != self.cursor_row:
            self.move_cursor(row=max(0, row))
