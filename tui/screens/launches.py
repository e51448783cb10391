"""The launch history (PB-5, PB-17): every configuration adopted as the baseline, oldest
first (the latest is the baseline now), and the highlighted launch's evidence — the seed
distributions, the comparison and the verdict it was adopted on — and its config. What
`tunebook export` lists as Launches; read-only, like every screen but the Review's conclude
and the Adoption's record."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Static

from tunebook.sessions import Launch, current_baseline
from tunebook.sessions.text import safe_text
from tunebook.tui.probe_text import number
from tunebook.tui.screens.adoption import mean_std, rule_text
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.screens.review import params_text
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import Row, refill

#: The columns that take what width is left, sharing it in these proportions.
ELASTIC = {"verdict": 3, "note": 2}
LAUNCH_COLUMNS = (
    ("launch", "launch"),
    ("date", "date"),
    ("trial", "trial"),
    ("experiment", "experiment"),
    ("verdict", "verdict"),
    ("note", "note"),
)
#: What the launch history says before the first launch.
EMPTY = (
    "No launch yet: adopt a trial from the Review screen (a), which re-runs it with new seeds "
    "and records the launch with that evidence (r), or run 'tunebook adopt PATH TRIAL'."
)


def date_text(created_at: float) -> str:
    """When a launch was recorded, in local time to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created_at))


def cell(value: Any) -> str:
    """A table cell from a file: `—` when missing, else the text as typed."""
    return "—" if value is None or value == "" else safe_text(str(value))


def fit_widths(rows: list[Row], width: int) -> dict[str, int]:
    """Column widths that fit `width` cells: every column its widest cell, except the
    `ELASTIC` ones (long sentences), which share what is left in their proportions, one
    giving the other what it does not need (cut with an ellipsis beyond that)."""
    fitted = {
        key: max([len(label), *(cells[i].cell_len for _, cells in rows)])
        for i, (key, label) in enumerate(LAUNCH_COLUMNS)
    }
    fixed = sum(w for key, w in fitted.items() if key not in ELASTIC)
    spare = max(0, width - 2 * len(LAUNCH_COLUMNS) - fixed)
    shares = sum(ELASTIC.values())
    widths = {key: min(fitted[key], spare * share // shares) for key, share in ELASTIC.items()}
    rest = spare - sum(widths.values())
    for key in ELASTIC:
        extra = min(rest, fitted[key] - widths[key])
        widths[key] += extra
        rest -= extra
    return {**fitted, **{key: max(len(key), w) for key, w in widths.items()}}


def side_text(role: str, side: Mapping[str, Any] | None, objective: str) -> Text:
    """One configuration of a seed-variance evidence: trial, mean ± std, n."""
    text = Text(f"{role}: ", style="bold")
    if not side:
        text.append("none (the first launch)" if role == "baseline" else "—")
        return text
    text.append(f"trial {cell(side.get('trial'))}")
    if side.get("launch") is not None:
        text.append(f" (launch {side['launch']})")
    text.append(f": {objective} {mean_std(side)}, n {cell(side.get('n'))}")
    if side.get("reused_from"):
        text.append(f" (seeds measured by probe {side['reused_from']})", style="dim")
    return text


def evidence_text(launch: Launch) -> Text:
    """What a launch was adopted on: the seed-variance probe's numbers (candidate and
    baseline mean ± std and n, the p-value, the rule), or, for a launch recorded some other
    way, its evidence as stored."""
    evidence = launch.evidence
    text = Text()
    if "candidate" not in evidence:
        text.append("evidence: ", style="bold")
        stored = "; ".join(f"{safe_text(str(k))}={cell(v)}" for k, v in evidence.items())
        text.append(stored or "none recorded")
        return text
    objective = safe_text(str(evidence.get("objective", "objective")))
    seeds = evidence.get("seeds")
    text.append("evidence: ", style="bold")
    text.append(f"seed-variance probe {cell(evidence.get('probe'))}, {seeds} new seeds each")
    text.append(f" ({', '.join(map(str, evidence.get('playbook', [])))})\n", style="dim")
    text.append_text(side_text("candidate", evidence["candidate"], objective))
    text.append("\n")
    text.append_text(side_text("baseline", evidence.get("baseline"), objective))
    text.append("\n")
    comparison = evidence.get("comparison")
    if comparison:
        text.append("difference (candidate − baseline): ", style="bold")
        text.append(
            f"{number(comparison.get('difference'))}; pooled std "
            f"{number(comparison.get('pooled_std'))}; Welch's p "
            f"{number(comparison.get('p_value'), '.3g')}\n"
        )
    text.append("verdict: ", style="bold")
    text.append(cell(evidence.get("verdict")) + "\n")
    if isinstance(evidence.get("rule"), Mapping):
        text.append(f"rule: {rule_text(evidence['rule'])}", style="dim")
    return text


def config_text(launch: Launch) -> Text:
    """The adopted configuration: its hyperparameters and step budget."""
    config = dict(launch.config)
    text = Text("config: ", style="bold")
    hparams = config.pop("hparams", None)
    steps = config.pop("max_train_steps", None)
    if steps is not None:
        text.append(f"max_train_steps {cell(steps)}; ")
    if isinstance(hparams, Mapping):
        text.append(params_text(dict(hparams)) or "no hyperparameters")
    others = "; ".join(f"{safe_text(str(k))}={cell(v)}" for k, v in config.items())
    if others:
        text.append(("; " if hparams else "") + others)
    return text


class LaunchesScreen(SessionScreen):
    """The launch history: a table of launches and the highlighted one's evidence and config;
    enter opens its trial, escape goes back."""

    DEFAULT_CSS = """
    LaunchesScreen #launches-body { padding: 0 1; }
    LaunchesScreen #launches-note { height: auto; }
    LaunchesScreen #launches { height: auto; max-height: 12; }
    LaunchesScreen #launch-detail { height: auto; margin: 1 0 0 0; }
    """

    BINDINGS = [
        Binding(
            "o",
            "open_trial",
            "Open trial",
            id="launches.open",
            tooltip="Open the highlighted launch's trial (enter too)",
        ),
        Binding(
            "t",
            "final_test",
            "Final test",
            id="launches.final_test",
            tooltip="The adopted trial's one evaluation on the test split (PB-18)",
        ),
        Binding(
            "escape", "back", "Back", id="launches.back", tooltip="Back to the previous screen"
        ),
    ]

    #: (launches oldest first, experiment names by id) as last read; None until read.
    history: reactive[tuple[list[Launch], dict[int, str]] | None] = reactive(None, init=False)

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with VerticalScroll(id="launches-body"):
            yield Static("reading the launches…", id="launches-note", markup=False)
            yield DataTable(id="launches", cursor_type="row", zebra_stripes=False)
            yield Static(id="launch-detail", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "launches (PB-5, PB-17)"
        self.query_one("#launches", DataTable).focus()
        super().on_mount()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        found = self.read(
            lambda session: (session.launches(), {e.id: e.name for e in session.experiments()})
        )
        self.app.call_from_thread(setattr, self, "history", found)

    def watch_history(self, history: tuple[list[Launch], dict[int, str]] | None) -> None:
        if history is None:
            return
        launches, names = history
        table = self.query_one("#launches", DataTable)
        table.display = bool(launches)
        note = self.query_one("#launches-note", Static)
        if not launches:
            note.update(Text(EMPTY))
            self.query_one("#launch-detail", Static).update("")
            return
        baseline = current_baseline(launches)
        lead = Text(f"{len(launches)} launches, oldest first", style="bold")
        if baseline is not None:
            lead.append("; ")
            lead.append(
                f"the baseline now: launch {baseline.id} (trial {baseline.trial_id})",
                style="bold green",
            )
        note.update(lead)
        rows: list[Row] = [
            (
                str(launch.id),
                (
                    Text(str(launch.id), justify="right"),
                    Text(date_text(launch.created_at)),
                    Text(cell(launch.trial_id), justify="right"),
                    Text(cell(names.get(launch.experiment_id) if launch.experiment_id else None)),
                    Text(cell(launch.evidence.get("verdict")), overflow="ellipsis"),
                    Text(cell(launch.note), overflow="ellipsis"),
                ),
            )
            for launch in launches
        ]
        first_paint = table.row_count == 0
        # the body's padding and a scroll bar's room off the screen's width
        refill(table, LAUNCH_COLUMNS, rows, fit_widths(rows, self.size.width - 4))
        if first_paint:  # start on the baseline now (else the newest)
            table.move_cursor(row=launches.index(baseline) if baseline else len(rows) - 1)
        self._show_detail()

    def on_resize(self) -> None:
        if self.history is not None:
            self.watch_history(self.history)

    def highlighted(self) -> Launch | None:
        """The highlighted launch, if any."""
        launches = [] if self.history is None else self.history[0]
        row = self.query_one("#launches", DataTable).cursor_row
        return launches[row] if 0 <= row < len(launches) else None

    @on(DataTable.RowHighlighted, "#launches")
    def _show_detail(self) -> None:
        launch = self.highlighted()
        if launch is None:
            return
        text = Text(f"launch {launch.id}", style="bold")
        text.append(f", {date_text(launch.created_at)}")
        if launch.note:
            text.append(": ")
            text.append(safe_text(launch.note), style="italic")
        text.append("\n")
        text.append_text(evidence_text(launch))
        text.append("\n")
        text.append_text(config_text(launch))
        self.query_one("#launch-detail", Static).update(text)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_trial":
            launch = self.highlighted() if self.is_mounted else None
            return None if launch is None or launch.trial_id is None else True
        return True

    def action_open_trial(self) -> None:
        """Open the highlighted launch's trial."""
        launch = self.highlighted()
        if launch is not None and launch.trial_id is not None:
            self.tunebook.show_trial(launch.trial_id)

    @on(DataTable.RowSelected, "#launches")
    def _selected(self) -> None:
        self.action_open_trial()

    def action_final_test(self) -> None:
        """Open the final test: the adopted trial on the test split, once (PB-18)."""
        self.tunebook.show_final_test()

    def action_back(self) -> None:
        """Back to the screen that opened this one."""
        self.dismiss()
