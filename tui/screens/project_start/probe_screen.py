"""What the four measuring project-start screens share (batch size, initial configuration,
training length, stability): the step's purpose, where its probe stands, the table, the
charts, the warnings and the recommendation, and the keys that start or resume the probe
(`p`, a detached runner), stop it (`x`) and record the recommendation (`d`, through
`tunebook decide` in a child process). The numbers are the probe plan's own `summarize`:
of the stored summary once completed, of the points measured so far while it runs, so the
table and charts fill in live. The app never measures and never writes the session."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from tunebook.core.project_start.probe import ProbePlan, Recommendation
from tunebook.core.project_start.registry import probe_plan
from tunebook.core.session_map import STAGE_ABOUT, describe_decision
from tunebook.sessions import Decision, Probe, Session
from tunebook.sessions.records import RunnerInfo
from tunebook.sessions.report import RUNNER_STALE_AFTER
from tunebook.sessions.text import safe_text
from tunebook.tui.chart_axes import log_ticks
from tunebook.tui.probe_text import number
from tunebook.tui.screens.project_start.recording import RecordsDecisions
from tunebook.tui.widgets.curve_chart import CurveChart
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import Row, refill

#: Worker processes a probe started from the app measures with.
PROBE_WORKERS = 2


@dataclass(frozen=True)
class ProbeView:
    """One read of what a probe screen shows: the latest probe of its kind, its findings
    (the stored summary, or the plan's summary of the points so far), the decision in
    force and the live runner, if any."""

    probe: Probe | None
    summary: Mapping[str, Any]
    decision: Decision | None
    runner: RunnerInfo | None

    @property
    def completed(self) -> bool:
        """True once the probe measured everything it planned."""
        return self.probe is not None and self.probe.status == "completed"


def read_view(session: Session, plan: ProbePlan) -> ProbeView:
    """What a probe screen shows, from a read-only session (in a thread worker)."""
    probe = session.latest_probe(plan.kind)
    summary: Mapping[str, Any] = {}
    if probe is not None:
        summary = probe.summary if probe.status == "completed" and probe.summary else {}
        if not summary and probe.config:
            summary = plan.summarize(probe.config, probe.points)
    runner = session.runner()
    alive = runner if runner is not None and runner.is_alive(RUNNER_STALE_AFTER) else None
    return ProbeView(probe, summary, session.decision(plan.decision), alive)


def rate_table(
    view: ProbeView, rows_key: str, last: tuple[str, str, str, str]
) -> tuple[Sequence[tuple[str, str]], list[Row]]:
    """The table of a probe's runs by learning rate (status, best objective and its step),
    with one more column `last` = (id, title, the rows' key, its format)."""
    objective = safe_text(str(view.summary.get("objective", "objective")))
    column, title, key, fmt = last
    columns = (
        ("lr", "learning rate"),
        ("status", "status"),
        ("best", f"best {objective}"),
        ("step", "at step"),
        (column, title),
    )
    rows: list[Row] = [
        (
            None,
            cells(
                number(r["learning_rate"], ".3g"),
                str(r["status"] or "—"),
                number(r["best_value"]),
                number(r["best_step"], "d"),
                number(r[key], fmt),
            ),
        )
        for r in view.summary.get(rows_key, [])
    ]
    return columns, rows


def cells(*values: str) -> tuple[Text, ...]:
    """Table cells, right-aligned (numbers), never read as markup."""
    return tuple(Text(safe_text(v), justify="right") for v in values)


class LogXChart(CurveChart):
    """A `CurveChart` over a logarithmic x axis: curves carry `log_x(x)` as their steps and
    the ticks are labelled in x (powers of two for batch sizes, else 1-2-5 per decade)."""

    def __init__(self, title: str, *, base: int = 10, x_label: str, id: str) -> None:
        super().__init__(title, x_label=x_label, id=id)
        self._base = base

    def log_x(self, values: Iterable[float]) -> list[float]:
        """`values` on this chart's x axis."""
        return [math.log(v, self._base) for v in values]

    def replot(self) -> None:
        super().replot()
        xs = [x for curve in self.curves for x in curve.steps]
        if not xs:
            return
        if self._base == 2:
            powers = range(math.floor(min(xs)), math.ceil(max(xs)) + 1)
            self.plt.xticks(list(powers), [str(2**p) for p in powers])
        else:
            self.plt.xticks(*log_ticks(min(xs), max(xs)))


def probe_bindings(prefix: str) -> list[Binding]:
    """The keys of one probe screen, with ids of its own (a keymap names them by id)."""
    return [
        Binding(
            "p",
            "measure",
            "Measure",
            id=f"{prefix}.measure",
            tooltip="Start the probe in a detached runner, or resume a stopped one",
        ),
        Binding(
            "x",
            "stop",
            "Stop",
            id=f"{prefix}.stop",
            tooltip="Stop the probe's runner; measured points are kept and p resumes",
        ),
        Binding(
            "d",
            "decide",
            "Decide",
            id=f"{prefix}.decide",
            tooltip="Record the completed probe's recommendation as the decision",
        ),
        Binding(
            "t",
            "next_tab",
            "Next tab",
            id=f"{prefix}.next_tab",
            tooltip="Show the next tab: results, then each chart",
        ),
        Binding("escape", "back", "Back", id=f"{prefix}.back", tooltip="Back to the session map"),
    ]


class ProbeScreen(RecordsDecisions):
    """One measuring project-start step. Subclasses name the probe and the decision and
    draw the summary: `table` (columns and rows), `lead` and `notes` (text above and below
    it), `compose_charts` (chart tabs) and `draw_charts`."""

    DEFAULT_CSS = """
    ProbeScreen #probe-head { padding: 0 1; height: auto; }
    ProbeScreen #probe-tabs { height: 1fr; }
    ProbeScreen #probe-results { padding: 0 1; }
    ProbeScreen #probe-table { height: auto; max-height: 12; margin: 0 0 1 0; }
    ProbeScreen #probe-lead, ProbeScreen #probe-notes { height: auto; }
    ProbeScreen CurveChart, ProbeScreen HistogramChart { height: 1fr; min-height: 8; }
    """

    #: The probe's command-line name (`tunebook probe NAME`).
    PROBE: ClassVar[str]
    #: What `tunebook decide PATH WHAT` records.
    DECIDE: ClassVar[str]
    #: The session map's stage key (what `STAGE_ABOUT` explains).
    STAGE: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.plan = probe_plan(self.PROBE)
        self.view: ProbeView | None = None

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        yield Static(self.head_text(), id="probe-head")
        with TabbedContent(id="probe-tabs"):
            with TabPane("Results", id="results"), VerticalScroll(id="probe-results"):
                yield Static(id="probe-lead")
                yield DataTable(id="probe-table", cursor_type="row", zebra_stripes=False)
                yield Static(id="probe-notes")
            yield from self.compose_charts()
        yield KeyFooter()

    def compose_charts(self) -> ComposeResult:
        """The chart tabs (TabPanes) after the results tab."""
        yield from ()

    def on_mount(self) -> None:
        self.sub_title = f"{self.plan.title} ({', '.join(self.plan.playbook)})"
        super().on_mount()

    # -- reading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        plan = self.plan
        found = self.read(lambda session: read_view(session, plan))
        self.app.call_from_thread(self.show_view, found)

    def show_view(self, view: ProbeView) -> None:
        """Draw `view` everywhere on the screen."""
        self.view = view
        self.query_one("#probe-head", Static).update(self.head_text())
        columns, rows = self.table(view)
        table = self.query_one("#probe-table", DataTable)
        refill(table, columns, rows)
        table.display = bool(rows)
        lead = self.lead(view)
        self.query_one("#probe-lead", Static).update(lead)
        self.query_one("#probe-lead", Static).display = bool(lead)
        notes = self.notes(view)
        self._append_findings(notes, view)
        self.query_one("#probe-notes", Static).update(notes)
        self.draw_charts(view)
        self.refresh_bindings()

    # -- what subclasses draw -----------------------------------------------------------------

    def table(self, view: ProbeView) -> tuple[Sequence[tuple[str, str]], list[Row]]:
        """The results table: columns (key, label) and rows."""
        raise NotImplementedError

    def lead(self, view: ProbeView) -> Text:
        """What to read before the table (empty by default)."""
        return Text()

    def notes(self, view: ProbeView) -> Text:
        """What to read after the table, before the warnings and the recommendation."""
        return Text()

    def draw_charts(self, view: ProbeView) -> None:
        """Redraw the charts from `view`."""

    # -- the head and the findings ------------------------------------------------------------

    def recommendation(self) -> Recommendation | None:
        """The recommendation of the completed probe (`d` records it), or None."""
        view = self.view
        if view is None or not view.completed:
            return None
        return self.plan.recommendation(view.summary)

    def head_text(self) -> Text:
        """The step's purpose, where its probe stands, and the decision in force."""
        text = Text()
        text.append(f"{self.plan.title} ({', '.join(self.plan.playbook)}): ", style="bold")
        text.append(STAGE_ABOUT[self.STAGE], style="dim")
        text.append("\n")
        view = self.view
        if view is None:
            text.append("reading the session…", style="dim")
            return text
        text.append_text(self.status_text(view))
        text.append("\n")
        decision = view.decision
        if decision is None:
            text.append("not decided yet", style="dim")
        else:
            text.append("decided: ", style="bold")
            text.append(safe_text(describe_decision(self.plan.decision, decision.value)))
            if decision.stale:
                text.append("  stale: ", style="bold yellow")
                text.append(safe_text(decision.stale_reason), style="yellow")
        found = self.recommendation()
        if found is not None:
            text.append("  ·  recommended: ", style="bold")
            text.append(
                safe_text(describe_decision(self.plan.decision, found.value)), style="bold green"
            )
            text.append("  (d)", style="dim")
        return text

    def status_text(self, view: ProbeView) -> Text:
        """Not measured / measuring (n points, what is next) / stopped / completed, and a
        runner busy with something else."""
        text = Text("probe: ", style="bold")
        probe, runner = view.probe, view.runner
        mine = runner is not None and runner.command == f"probe {self.plan.name}"
        if probe is None:
            text.append("not measured yet (p measures)", style="dim")
        else:
            count = len(probe.points)
            status = probe.status
            if status == "running" and mine:
                pending = [u.key for u in self.plan.next_units(probe.config, probe.points)]
                pending = [key for key in pending if key not in probe.points]
                text.append(f"measuring: {count} measured", style="bold cyan")
                if pending:
                    text.append(f"; now {', '.join(pending[:PROBE_WORKERS])}")
            elif status in ("running", "stopped"):
                text.append(f"stopped after {count} measured (p resumes)", style="yellow")
            elif status == "completed":
                text.append(f"completed: {count} measured", style="green")
            else:
                text.append(safe_text(status), style="red")
        if runner is not None and not mine:
            text.append("  ·  ")
            text.append(
                f"a runner is busy with {safe_text(runner.command or 'a run')} (pid {runner.pid})",
                style="yellow",
            )
        return text

    def _append_findings(self, text: Text, view: ProbeView) -> None:
        """The warnings and the recommendation with its rationale, after the notes."""
        if text:
            text.append("\n")
        for warning in view.summary.get("warnings", []):
            text.append("warning: ", style="bold yellow")
            text.append(safe_text(warning) + "\n", style="yellow")
        found = view.summary.get("recommendation")
        if view.probe is None:
            text.append(f"p measures (as 'tunebook probe {self.plan.name}' does)", style="dim")
        elif found:
            label = "recommended: " if view.completed else "so far: "
            text.append(label, style="bold")
            text.append(
                safe_text(describe_decision(self.plan.decision, found["value"])), style="bold green"
            )
            text.append(" — " + safe_text(found["rationale"]))
        else:
            text.append("no recommendation yet", style="dim")

    # -- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide" and self.recommendation() is None:
            return None  # shown disabled until a completed probe recommends something
        return True

    def action_measure(self) -> None:
        """Start (or resume) the probe in a detached runner; refused when read-only or
        when a runner is alive."""
        refusal = self.tunebook.write_refusal()
        if not refusal and (self.tunebook.runner_alive or (self.view and self.view.runner)):
            refusal = "a runner is already running on this session"
        if refusal:
            self.notify(f"cannot measure: {safe_text(refusal)}", severity="warning")
            return
        self._start_probe()

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def _start_probe(self) -> None:
        from tunebook.core.execution.control import ProbeRequest

        request = ProbeRequest(self.plan.name, workers=PROBE_WORKERS)
        self.tunebook.start_detached(self.session_path, request, f"probe {self.plan.name}")

    def action_stop(self) -> None:
        """Stop the probe's runner (after confirming); its points are kept."""
        self.tunebook.action_stop_run()

    def action_decide(self) -> None:
        """Record the completed probe's recommendation (`tunebook decide PATH WHAT`)."""
        if self.recommendation() is None:
            self.notify("no completed probe recommends anything yet", severity="warning")
            return
        self.record(self.plan.title.lower(), [self.DECIDE])

    def action_next_tab(self) -> None:
        """Show the next tab (after the last, the first)."""
        tabs = self.query_one("#probe-tabs", TabbedContent)
        panes = [str(pane.id) for pane in tabs.query(TabPane)]
        index = panes.index(tabs.active) if tabs.active in panes else -1
        tabs.active = panes[(index + 1) % len(panes)]

    def action_back(self) -> None:
        """Back to the session map."""
        self.dismiss()


def series(pairs: Sequence[Sequence[float | None]] | None) -> tuple[list[float], list[float]]:
    """`[[step, value], …]` as steps and values (values may be None: the chart skips them)."""
    pairs = pairs or []
    return [p[0] for p in pairs], [p[1] for p in pairs]  # type: ignore[misc]


def numbered(values: Sequence[float | None] | None) -> tuple[list[int], list[float]]:
    """A per-step list as steps 1, 2, … and its values."""
    values = list(values or [])
    return list(range(1, len(values) + 1)), values  # type: ignore[return-value]
