"""An experiment reviewed the playbook's way (PB-11 … PB-16, PB-29, PB-31): its checklist with
each item's evidence and next step, each study's checklist, and the plots one key away —
isolation (PB-15), axis plots (PB-12/16, infeasible trials as ✗), the bootstrap of
best-of-k (PB-13), a ranking by any recorded metric (PB-29), the best trials' curves (PB-14)
and the best trial's gradient norms (PB-31). `c` concludes the experiment (PB-5): the one
write the app makes itself, `core.analysis.conclusion.conclude` on a writable session in a
thread worker, refused by core while a runner is alive or trials are unfinished.

Every number is `review_document`'s, the function `tunebook review --json` prints, so the
app and the command line show the same review; it runs in a thread worker."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    DataTable,
    Header,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
)

from tunebook.core.trial_detail import HistogramBins
from tunebook.sessions import BadInput, Session
from tunebook.sessions.text import safe_text
from tunebook.tui.chart_axes import log_ticks, lone_x_range
from tunebook.tui.probe_text import number
from tunebook.tui.screens.base import SessionScreen, TunebookScreen
from tunebook.tui.screens.experiments import EXPERIMENT_STYLE
from tunebook.tui.widgets.curve_chart import PALETTE, Curve, CurveChart, trial_color
from tunebook.tui.widgets.histogram import HistogramChart
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill
from tunebook.tui.widgets.text_input import TextInput

#: The tabs in order: (pane id, label).
TABS = (
    ("checklist", "Checklist"),
    ("study", "Study"),
    ("isolation", "Isolation"),
    ("axis", "Axis plots"),
    ("bootstrap", "Bootstrap"),
    ("ranking", "Ranking"),
    ("curves", "Curves"),
    ("gradients", "Gradients"),
)
#: Where a ranking reads each trial's metric (`tunebook review --at`).
POSITIONS = ("best", "final", "min", "max")
VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}
VERDICT_MARK = {"pass": "✓", "warn": "!", "fail": "✗"}
CHECKLIST_COLUMNS = (("check", "check"), ("verdict", "verdict"), ("studies", "studies"))
STUDY_COLUMNS = (("check", "check"), ("verdict", "verdict"), ("playbook", "playbook"))
ISOLATION_COLUMNS = (
    ("name", "hyperparameter"),
    ("value", "value"),
    ("best", "best"),
    ("trial", "trial"),
    ("trials", "trials"),
)
CATEGORY_COLUMNS = (("value", "value"), ("trials", "trials"), ("infeasible", "✗"), ("best", "best"))
RANKING_COLUMNS = (
    ("rank", "rank"),
    ("trial", "trial"),
    ("value", "value"),
    ("params", "hyperparameters"),
)
#: The legend label of infeasible trials in an axis plot (drawn as ✗).
INFEASIBLE = "infeasible ✗"


@dataclass(frozen=True)
class Review:
    """One read of the review: `review_document`'s plain data, each study's rankable metrics
    (by study id), and the ranking's metric (None: the objective) and position."""

    document: dict[str, Any]
    metrics: dict[int, tuple[str, ...]]
    rank_by: str | None
    at: str


def read_review(session: Any, name: str | None, rank_by: str | None, at: str) -> Review:
    """The review of experiment `name` as `tunebook review --json` prints it, and the
    metrics each study can be ranked by."""
    from tunebook.core.analysis.ranking import ranking_metrics
    from tunebook.core.analysis.study import load_experiment
    from tunebook.tui.cli.review_commands import review_document

    document = review_document(session, name, rank_by, at)
    views = load_experiment(session, document["experiment"]["name"])
    metrics = {view.study.id: ranking_metrics(session, view) for view in views}
    return Review(document, metrics, rank_by, at)


def evidence_preview(session: Any, name: str) -> str:
    """The evidence `conclude` would store after the note, as the experiment stands now."""
    from tunebook.core.analysis.conclusion import evidence_for
    from tunebook.core.analysis.study import load_experiment

    views = load_experiment(session, name)
    return evidence_for(session, views).text(views[0].metric if views else "objective")


def conclude_experiment(path: Path, name: str, note: str) -> str:
    """Conclude experiment `name` on a writable session (from a thread worker); what to
    tell the user. BadInput from core while a runner is alive or trials are unfinished."""
    from tunebook.core.analysis.conclusion import conclude

    with Session.open(path) as session:
        text = conclude(session, name, note, source="app")
    return f"concluded experiment '{safe_text(name)}': {safe_text(text)}"


def verdict_text(verdict: str, word: bool = True) -> Text:
    """A verdict as its coloured mark (and word)."""
    mark = VERDICT_MARK[verdict] + (f" {verdict}" if word else "")
    return Text(mark, style=VERDICT_STYLE[verdict])


def evidence_text(item: dict[str, Any] | None) -> Text:
    """A checklist item's evidence and next step, as data (never markup)."""
    text = Text()
    if item is None:
        return text
    text.append(f"{item['title']} ({item['playbook']}): ", style="bold")
    text.append_text(verdict_text(item["verdict"]))
    text.append("\n" + safe_text(item["evidence"]))
    if item["next_step"]:
        text.append("\nnext: ", style="bold")
        text.append(safe_text(item["next_step"]))
    return text


def distinct_colors(trial_ids: list[int]) -> list[tuple[int, int, int]]:
    """Each trial's own colour (`trial_color`), or the first unused one where an earlier
    trial of the same chart has it already: overlaid curves must read apart."""
    colors: list[tuple[int, int, int]] = []
    for trial_id in trial_ids:
        color = trial_color(trial_id)
        if color in colors:
            color = next((c for c in PALETTE if c not in colors), color)
        colors.append(color)
    return colors


def params_text(params: dict[str, Any]) -> str:
    """A trial's hyperparameters in one line, as `tunebook review` prints them."""
    return ", ".join(
        f"{safe_text(k)}={number(v) if isinstance(v, float) else safe_text(v)}"
        for k, v in params.items()
    )


class NoteScreen(TunebookScreen, ModalScreen[str | None]):
    """Asks for the user's note before the app records something (a conclusion, a launch):
    what gets recorded, an Input, and Record / Cancel. `save(note)` runs in a thread worker
    and its message closes the screen; a refusal is shown in one sentence and the note kept,
    so it can be sent again once the reason is gone. Dismisses with None when cancelled."""

    DEFAULT_CSS = """
    NoteScreen { align: center middle; }
    NoteScreen #note-dialog {
        width: 84; max-width: 95%; height: auto; max-height: 95%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    NoteScreen #note-title { text-style: bold; }
    NoteScreen #note-body { height: auto; max-height: 14; overflow-y: auto; margin: 1 0; }
    NoteScreen #note-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    NoteScreen Button { margin-left: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="note.cancel", tooltip="Close without recording")
    ]

    def __init__(
        self, title: str, body: Text, confirm: str, save: Callable[[str], str], placeholder: str
    ) -> None:
        super().__init__()
        self._title, self._body, self._confirm = title, body, confirm
        self._save_note, self._placeholder = save, placeholder
        #: True while `save` runs (a second enter is ignored).
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog"):
            yield Label(self._title, id="note-title", markup=False)
            yield Static(self._body, id="note-body", markup=False)
            yield TextInput(placeholder=self._placeholder, id="note-input")
            with Horizontal(id="note-buttons"):
                yield Button(f"{self._confirm} (enter)", variant="primary", id="note-save")
                yield Button("Cancel (esc)", id="note-cancel")

    def on_mount(self) -> None:
        self.query_one("#note-input", Input).focus()

    @on(Input.Submitted, "#note-input")
    @on(Button.Pressed, "#note-save")
    def _submitted(self) -> None:
        if not self.saving:
            self.saving = True
            self._save(self.query_one("#note-input", Input).value)

    @on(Button.Pressed, "#note-cancel")
    def action_cancel(self) -> None:
        """Close without recording anything."""
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def _save(self, note: str) -> None:
        try:
            message = self._save_note(note)
        except Exception as exc:  # one sentence (BadInput's own), and the note kept
            self.app.call_from_thread(self._refused, exc)
        else:
            self.app.call_from_thread(self.dismiss, message)

    def _refused(self, error: Exception) -> None:
        self.saving = False
        self.tunebook.report_error(error)


class AxisChart(CurveChart):
    """A scatter plot: each curve's points as dots (the `INFEASIBLE` curve's as ✗), on a
    log10 x axis with readable ticks when `log_x`."""

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(title, x_label="value", id=id)
        self._log_x = False

    def plot_points(self, curves: list[Curve], title: str, x_label: str, log_x: bool) -> None:
        """Draw `curves` as points against `x_label` (log10 x when `log_x`)."""
        self._x_label, self._log_x = x_label, log_x
        self.show(curves, empty_text="no feasible trial", title=title)

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel(self._x_label + (" (log scale)" if self._log_x else ""))
        xs_drawn: list[float] = []
        for curve in self._curves:
            xs = [math.log10(x) if self._log_x else x for x in curve.steps]
            if not xs:
                continue
            xs_drawn += xs
            marker = "✗" if curve.label == INFEASIBLE else "dot"
            plt.scatter(xs, list(curve.values), label=curve.label, color=curve.color, marker=marker)
        title = self._title
        if not xs_drawn:
            title += f": {self._empty_text}"
        elif self._log_x:
            plt.xticks(*log_ticks(min(xs_drawn), max(xs_drawn)))
        elif len(set(xs_drawn)) == 1:
            plt.xlim(*lone_x_range(xs_drawn[0]))
        plt.title(title)
        self.refresh()


class ReviewScreen(SessionScreen):
    """One experiment's review in tabs; `[`/`]` pick the study the study tabs show, `k`/`p`
    change the ranking, enter opens a ranked trial, `a` adopts a trial, `c` concludes the
    experiment, `L` shows the launch history, escape goes back."""

    DEFAULT_CSS = """
    ReviewScreen #review-head { padding: 0 1; height: auto; }
    ReviewScreen #review-conclusion {
        padding: 0 1; height: 1; display: none; text-wrap: nowrap; text-overflow: ellipsis;
    }
    ReviewScreen #review-conclusion.-shown { display: block; }
    ReviewScreen #review-tabs { height: 1fr; }
    ReviewScreen TabPane { padding: 0 1; }
    ReviewScreen DataTable { height: auto; max-height: 10; }
    ReviewScreen #review-evidence, ReviewScreen #study-evidence { height: 1fr; margin: 1 0 0 0; }
    ReviewScreen .note { height: auto; }
    ReviewScreen #isolation-table { max-height: 7; }
    ReviewScreen #category-table { max-height: 12; }
    ReviewScreen CurveChart, ReviewScreen HistogramChart { height: 1fr; min-height: 8; }
    ReviewScreen #curves CurveChart, ReviewScreen #gradients .chart { min-height: 6; }
    """

    BINDINGS = [
        Binding(
            "t",
            "next_tab",
            "Next tab",
            id="review.next_tab",
            tooltip="Checklist, study, isolation, axis plots, bootstrap, ranking, curves, "
            "gradients",
        ),
        Binding(
            "left_square_bracket",
            "study(-1)",
            "Prev study",
            id="review.prev_study",
            show=False,
            tooltip="Show the previous study of the experiment",
        ),
        Binding(
            "right_square_bracket",
            "study(1)",
            "Study",
            key_display="[ ]",
            id="review.next_study",
            tooltip="Show the next study of the experiment ([ the previous one)",
        ),
        Binding(
            "x",
            "next_axis",
            "Next axis",
            id="review.next_axis",
            tooltip="Plot the objective against the study's next searched hyperparameter",
        ),
        Binding(
            "k",
            "rank_metric",
            "Metric",
            id="review.rank_metric",
            tooltip="Rank the trials by the next recorded metric (PB-29)",
        ),
        Binding(
            "p",
            "rank_at",
            "At",
            id="review.rank_at",
            tooltip="Read the ranking metric at the best step, the final step, its min or max",
        ),
        Binding(
            "enter",
            "open_trial",
            "Open",
            id="review.open_trial",
            tooltip="Open the highlighted ranked trial",
        ),
        Binding(
            "a",
            "adopt",
            "Adopt",
            id="review.adopt",
            tooltip="Adopt the highlighted ranked trial (else the study's best) as the new "
            "baseline, on its seed variance (PB-17)",
        ),
        Binding(
            "c",
            "conclude",
            "Conclude",
            id="review.conclude",
            tooltip="Record the experiment's conclusion: your note, then the evidence (PB-5)",
        ),
        Binding(
            "E",
            "exploit",
            "Exploit",
            id="review.exploit",
            tooltip="After the conclusion: a Bayesian study over the refined space (PB-18)",
        ),
        Binding(
            "P",
            "promote",
            "Promote",
            id="review.promote",
            tooltip="Once every trial has finished: the best trials again with more steps, "
            "schedules extended (PB-20)",
        ),
        Binding(
            "L",
            "launches",
            "Launch history",
            id="review.launches",
            show=False,
            tooltip="Every adopted baseline with its evidence and config",
        ),
        Binding("escape", "back", "Back", id="review.back", tooltip="Back to the previous screen"),
        *(
            Binding(
                str(index),
                f"show_tab('{pane}')",
                label,
                id=f"review.tab_{pane}",
                show=False,
                tooltip=f"Show the {label.lower()} tab",
            )
            for index, (pane, label) in enumerate(TABS, 1)
        ),
    ]

    #: The review as last read; None until the first read.
    review: reactive[Review | None] = reactive(None, init=False)
    #: The index of the study the study tabs show.
    study_index: reactive[int] = reactive(0, init=False)
    #: The index of the axis plot shown.
    axis_index: reactive[int] = reactive(0, init=False)

    def __init__(self, experiment_name: str | None = None) -> None:
        super().__init__()
        self.experiment_name = experiment_name

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        yield Static("loading the review…", id="review-head", markup=False)
        yield Static(id="review-conclusion", markup=False)
        with TabbedContent(id="review-tabs"):
            with TabPane("Checklist", id="checklist"), Vertical():
                yield DataTable(id="review-checklist", cursor_type="row", zebra_stripes=False)
                yield Static(id="review-evidence", markup=False)
            with TabPane("Study", id="study"), Vertical():
                yield DataTable(id="study-checklist", cursor_type="row", zebra_stripes=False)
                yield Static(id="study-evidence", markup=False)
            with TabPane("Isolation", id="isolation"), Vertical():
                yield DataTable(id="isolation-table", cursor_type="row", zebra_stripes=False)
                yield CurveChart("best objective", x_label="value", id="isolation-chart")
            with TabPane("Axis plots", id="axis"), Vertical():
                yield AxisChart("axis plot", id="axis-chart")
                yield DataTable(id="category-table", cursor_type="row", zebra_stripes=False)
            with TabPane("Bootstrap", id="bootstrap"), Vertical():
                yield Static(id="bootstrap-note", classes="note", markup=False)
                yield CurveChart(
                    "best objective found with k trials", x_label="trials k", id="bootstrap-chart"
                )
            with TabPane("Ranking", id="ranking"), Vertical():
                yield Static(id="ranking-note", classes="note", markup=False)
                yield DataTable(id="ranking-table", cursor_type="row", zebra_stripes=False)
            with TabPane("Curves", id="curves"), Vertical():
                yield Static(id="curves-note", classes="note", markup=False)
                yield CurveChart("training loss", log_y=True, id="train-curves")
                yield CurveChart("validation objective", id="val-curves")
            with TabPane("Gradients", id="gradients"), Vertical():
                yield Static(id="gradients-note", classes="note", markup=False)
                yield CurveChart(
                    "unclipped gradient norm", log_y=True, id="grad-chart", classes="chart"
                )
                yield HistogramChart(
                    "gradient norm histogram", x_label="norm", id="grad-histogram", classes="chart"
                )
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "review"
        self.query_one("#review-checklist", DataTable).focus()
        super().on_mount()

    # -- reading ----------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the review again with the ranking as it is."""
        current = self.review
        rank_by, at = (None, "best") if current is None else (current.rank_by, current.at)
        self._load(rank_by, at)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self, rank_by: str | None, at: str) -> None:
        name = self.experiment_name
        try:
            review = self.read(lambda session: read_review(session, name, rank_by, at))
        except BadInput as exc:
            if self.review is None:
                raise
            # A ranking some study cannot make: keep the review shown, say why.
            self.app.call_from_thread(self.notify, str(exc), severity="warning")
            return
        self.app.call_from_thread(setattr, self, "review", review)

    # -- drawing ----------------------------------------------------------------------------

    @property
    def studies(self) -> list[dict[str, Any]]:
        """The review's studies (none before the first read)."""
        return [] if self.review is None else self.review.document["studies"]

    @property
    def study(self) -> dict[str, Any] | None:
        """The study the study tabs show."""
        studies = self.studies
        return studies[self.study_index] if 0 <= self.study_index < len(studies) else None

    def watch_review(self, review: Review | None) -> None:
        if review is None:
            return
        document = review.document
        if self.experiment_name is None:
            self.experiment_name = document["experiment"]["name"]
        if self.study_index >= len(document["studies"]):
            self.study_index = 0
        rows = []
        for item in document["checklist"]:
            where = Text()
            for study in item["data"].get("studies", []):
                where.append(safe_text(study["study"]) + " ")
                where.append_text(verdict_text(study["verdict"], word=False))
                where.append("  ")
            where.rstrip()
            cells = (Text(item["title"]), verdict_text(item["verdict"]), where)
            rows.append((item["key"], cells))
        refill(self.query_one("#review-checklist", DataTable), CHECKLIST_COLUMNS, rows)
        self._show_conclusion(document["experiment"]["conclusion"])
        self._show_evidence()
        self._draw_isolation(document["isolation"])
        self._draw_study()
        self.refresh_bindings()  # exploitation shows once the experiment is concluded

    def watch_study_index(self, _index: int) -> None:
        self.axis_index = 0
        self._draw_study()

    def watch_axis_index(self, _index: int) -> None:
        self._draw_axis()

    def _head_text(self) -> Text:
        """The experiment's name, status and goal, and the study the study tabs show."""
        text = Text()
        if self.review is None:
            return text
        experiment = self.review.document["experiment"]
        text.append("experiment ", style="bold")
        text.append(safe_text(experiment["name"]), style="bold")
        status = experiment["status"]
        text.append(f"  {status}", style=EXPERIMENT_STYLE.get(status, ""))
        text.append(f"  max_train_steps {experiment['max_train_steps']}\n")
        text.append("goal: ", style="bold")
        text.append((safe_text(experiment["goal"]) or "—") + "\n")
        study = self.study
        if study is None:
            text.append("no studies yet", style="dim")
            return text
        counts = study["trials"]
        text.append(f"study {self.study_index + 1}/{len(self.studies)} ", style="bold")
        text.append(safe_text(study["name"]), style="bold")
        text.append(
            f": {counts['feasible']}/{counts['finished']} feasible, "
            f"{counts['infeasible']} infeasible"
        )
        best = study["best"]
        if best is not None:
            metric = safe_text(study["objective"]["metric"])
            text.append(f"; best {metric} {number(best['value'])}, trial {best['trial_id']}")
        return text

    def _show_conclusion(self, conclusion: str) -> None:
        """The stored conclusion in one line under the head (the note comes first; `c`
        shows it in full)."""
        line = self.query_one("#review-conclusion", Static)
        line.set_class(bool(conclusion), "-shown")
        text = Text()
        text.append("conclusion: ", style="bold green")
        text.append(safe_text(conclusion))
        line.update(text)

    def _show_evidence(self) -> None:
        """The highlighted experiment checklist item's evidence and next step."""
        items = [] if self.review is None else self.review.document["checklist"]
        row = self.query_one("#review-checklist", DataTable).cursor_row
        item = items[row] if 0 <= row < len(items) else None
        self.query_one("#review-evidence", Static).update(evidence_text(item))

    def _show_study_evidence(self) -> None:
        """The highlighted study checklist item's evidence and next step."""
        items = [] if self.study is None else self.study["checklist"]
        row = self.query_one("#study-checklist", DataTable).cursor_row
        item = items[row] if 0 <= row < len(items) else None
        self.query_one("#study-evidence", Static).update(evidence_text(item))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "review-checklist":
            self._show_evidence()
        elif event.data_table.id == "study-checklist":
            self._show_study_evidence()

    def _draw_isolation(self, plots: list[dict[str, Any]]) -> None:
        """Best objective per scientific value (a table), and a chart of the first plot
        with two numeric values or more, with the baseline as a line."""
        rows = [
            (
                None,
                (
                    Text(safe_text(plot["name"])),
                    Text(safe_text(point["label"])),
                    Text(number(point["best"]), justify="right"),
                    Text("—" if point["trial_id"] is None else str(point["trial_id"])),
                    Text(str(point["trials"]), justify="right"),
                ),
            )
            for plot in plots
            for point in plot["points"]
        ]
        refill(self.query_one("#isolation-table", DataTable), ISOLATION_COLUMNS, rows)
        chart = self.query_one("#isolation-chart", CurveChart)
        for plot in plots:
            numeric = [p for p in plot["points"] if p["x"] is not None and p["best"] is not None]
            if len(numeric) < 2:
                continue
            xs = [p["x"] for p in numeric]
            curves = [Curve("best", xs, [p["best"] for p in numeric], PALETTE[0])]
            if plot["baseline"] is not None:
                curves.append(Curve("baseline", xs, [plot["baseline"]] * len(xs), PALETTE[7]))
            title = f"best objective by {safe_text(plot['name'])} ({plot['mode']}, PB-15)"
            chart.show(curves, title=title)
            chart.display = True
            return
        chart.display = False

    def _draw_study(self) -> None:
        """Everything that shows the selected study: the head, its checklist, its axis plot,
        its bootstrap and its ranking."""
        self.query_one("#review-head", Static).update(self._head_text())
        study = self.study
        if study is None:
            return
        rows = [
            (
                item["key"],
                (Text(item["title"]), verdict_text(item["verdict"]), Text(item["playbook"])),
            )
            for item in study["checklist"]
        ]
        refill(self.query_one("#study-checklist", DataTable), STUDY_COLUMNS, rows)
        self._show_study_evidence()
        self._draw_axis()
        self._draw_bootstrap(study)
        self._draw_ranking(study)
        self._draw_curves(study)
        self._draw_gradients(study)

    def _draw_axis(self) -> None:
        """The objective against the selected hyperparameter: points (log x for a log
        range), infeasible trials as ✗ at the worst feasible value; a table by value for a
        categorical one."""
        study = self.study
        chart = self.query_one("#axis-chart", AxisChart)
        table = self.query_one("#category-table", DataTable)
        plots = [] if study is None else study["axis_plots"]
        if study is None or not plots:
            table.display = False
            chart.plot_points([], "axis plot: the study searched no hyperparameter", "value", False)
            return
        plot = plots[self.axis_index % len(plots)]
        objective = study["objective"]
        name = safe_text(plot["name"])
        where = f" ({self.axis_index % len(plots) + 1}/{len(plots)}, x: next)"
        title = f"{safe_text(objective['metric'])} by {name}{where}"
        feasible = [p for p in plot["points"] if not p["infeasible"] and p["y"] is not None]
        if plot["scale"] == "categorical":
            chart.display, table.display = False, True
            self._fill_categories(table, plot, objective["mode"])
            return
        chart.display, table.display = True, False
        worst = max if objective["mode"] == "min" else min
        infeasible = [p for p in plot["points"] if p["infeasible"]]
        curves = [Curve("trials", [p["x"] for p in feasible], [p["y"] for p in feasible])]
        if infeasible and feasible:
            top = worst(p["y"] for p in feasible)
            xs = [p["x"] for p in infeasible]
            curves.append(Curve(INFEASIBLE, xs, [top] * len(xs), PALETTE[3]))
        chart.plot_points(curves, title, name, plot["scale"] == "log")

    def _fill_categories(self, table: DataTable, plot: dict[str, Any], mode: str) -> None:
        """A categorical axis plot as a table: each value's trials, infeasible ones, best."""
        pick = min if mode == "min" else max
        rows = []
        for category in plot["categories"] or ():
            points = [p for p in plot["points"] if p["x"] == category]
            values = [p["y"] for p in points if not p["infeasible"] and p["y"] is not None]
            rows.append(
                (
                    None,
                    (
                        Text(safe_text(category)),
                        Text(str(len(points)), justify="right"),
                        Text(str(sum(p["infeasible"] for p in points)), justify="right"),
                        Text(number(pick(values)) if values else "—", justify="right"),
                    ),
                )
            )
        refill(table, CATEGORY_COLUMNS, rows)

    def _draw_bootstrap(self, study: dict[str, Any]) -> None:
        """The median and 10th/90th percentiles of the best of k trials (PB-13)."""
        density = next((i for i in study["checklist"] if i["key"] == "density"), None)
        points = (density or {}).get("data", {}).get("bootstrap") or []
        note = self.query_one("#bootstrap-note", Static)
        if density is not None:
            note.update(evidence_text(density))
        ks = [p["k"] for p in points]
        self.query_one("#bootstrap-chart", CurveChart).show(
            [
                Curve("median", ks, [p["median"] for p in points], PALETTE[0]),
                Curve("10th pct", ks, [p["low"] for p in points], PALETTE[7]),
                Curve("90th pct", ks, [p["high"] for p in points], PALETTE[1]),
            ],
            empty_text="no feasible trial",
            title=f"best {safe_text(study['objective']['metric'])} found with k trials (PB-13)",
        )

    def _draw_ranking(self, study: dict[str, Any]) -> None:
        """The top trials by the ranking's metric and position (PB-29)."""
        ranking = study["ranking"]
        note = Text()
        note.append(f"ranked by {safe_text(ranking['metric'])} at {ranking['at']}", style="bold")
        note.append("  (k: next metric, p: best/final/min/max, enter: open, a: adopt)", style="dim")
        self.query_one("#ranking-note", Static).update(note)
        rows = [
            (
                str(r["trial_id"]),
                (
                    Text(str(r["rank"]), justify="right"),
                    Text(str(r["trial_id"]), justify="right"),
                    Text(number(r["value"]), justify="right"),
                    Text(params_text(r["params"])),
                ),
            )
            for r in ranking["trials"]
        ]
        refill(self.query_one("#ranking-table", DataTable), RANKING_COLUMNS, rows)

    def _draw_curves(self, study: dict[str, Any]) -> None:
        """The training loss and validation objective of the study's best trials, one line
        per trial, best first (PB-14)."""
        curves = study["curves"]
        metric = safe_text(study["objective"]["metric"])
        colors = distinct_colors([c["trial_id"] for c in curves])
        best = "the best trial" if len(curves) == 1 else f"the best {len(curves)} trials"
        note = Text()
        if curves:  # the legend too: a short chart has no room for plotext's own
            note.append("best first (PB-14):", style="bold")
            for curve, color in zip(curves, colors):
                note.append("  ■ ", style=Style(color=Color.from_rgb(*color)))
                note.append(f"trial {curve['trial_id']}")
        else:
            note.append(
                f"No curves to draw: study {safe_text(study['name'])} has no feasible trial "
                "yet (a completed trial with a finite objective)."
            )
        self.query_one("#curves-note", Static).update(note)
        for chart_id, steps, values, title, missing in (
            ("#train-curves", "train_steps", "train_loss", "training loss", "training loss"),
            ("#val-curves", "val_steps", "val_values", f"validation {metric}", "evaluation"),
        ):
            chart = self.query_one(chart_id, CurveChart)
            chart.display = bool(curves)
            chart.show(
                [
                    Curve(f"trial {c['trial_id']}", c[steps], c[values], color)
                    for c, color in zip(curves, colors)
                ],
                empty_text=f"the best trials logged no {missing}",
                title=f"{title} of {best}",
            )

    def _draw_gradients(self, study: dict[str, Any]) -> None:
        """The best trial's unclipped gradient norm by step and its histogram, with the
        90th percentile as a clipping threshold to try (PB-31)."""
        gradients = study["gradients"]
        note = Text()
        line = self.query_one("#grad-chart", CurveChart)
        bars = self.query_one("#grad-histogram", HistogramChart)
        steps = [] if gradients is None else gradients["steps"]
        line.display = bars.display = bool(steps)
        if gradients is None:
            note.append(
                f"No gradient norms to draw: study {safe_text(study['name'])} has no feasible "
                "trial yet, so no best trial to read them from."
            )
        elif not steps:
            note.append(
                f"No gradient norms to draw: trial {gradients['trial_id']}, the study's best, "
                "logged no unclipped gradient norm while it trained."
            )
        else:
            trial = gradients["trial_id"]
            note.append(f"90th percentile of trial {trial}'s norms: ", style="bold")
            note.append(f"{number(gradients['p90'])} (a clipping threshold, PB-31)")
            line.show(
                [Curve(f"trial {trial}", steps, gradients["norms"], trial_color(trial))],
                title=f"unclipped gradient norm of the best trial {trial}",
            )
            bars.show(HistogramBins(**gradients["histogram"]))
        self.query_one("#gradients-note", Static).update(note)

    # -- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each tab's own keys show only on that tab; exploitation once concluded."""
        tab = self.query_one("#review-tabs", TabbedContent).active if self.is_mounted else ""
        only_on = {
            "next_axis": ("axis",),
            "rank_metric": ("ranking",),
            "rank_at": ("ranking",),
            "open_trial": ("ranking",),
            "study": ("study", "axis", "bootstrap", "ranking", "curves", "gradients"),
        }
        if action == "exploit":  # after the conclusion only (PB-18)
            review = self.review
            return review is not None and review.document["experiment"]["status"] == "concluded"
        if action == "promote":  # once every trial has finished (PB-20)
            review = self.review
            status = review.document["experiment"]["status"] if review is not None else ""
            return status in ("finished", "concluded")
        return tab in only_on[action] if action in only_on else True

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        tables = list(event.pane.query(DataTable).results(DataTable))
        if tables and tables[0].display:
            tables[0].focus()

    def action_next_tab(self) -> None:
        """Show the next tab (after the last, the first)."""
        tabs = self.query_one("#review-tabs", TabbedContent)
        panes = [pane for pane, _ in TABS]
        index = panes.index(tabs.active) if tabs.active in panes else -1
        tabs.active = panes[(index + 1) % len(panes)]

    def action_show_tab(self, pane: str) -> None:
        """Show one tab by its pane id."""
        self.query_one("#review-tabs", TabbedContent).active = pane

    def action_study(self, step: int) -> None:
        """Show the study `step` away from the current one (wrapping around)."""
        if self.studies:
            self.study_index = (self.study_index + step) % len(self.studies)

    def action_next_axis(self) -> None:
        """Plot the objective against the study's next searched hyperparameter."""
        self.axis_index += 1

    def action_rank_metric(self) -> None:
        """Rank by the selected study's next recorded metric (the objective first)."""
        study, review = self.study, self.review
        if study is None or review is None:
            return
        metrics = review.metrics.get(study["id"], ())
        if not metrics:
            self.notify("this study's trials recorded no series to rank by", severity="warning")
            return
        current = study["ranking"]["metric"]
        index = metrics.index(current) if current in metrics else -1
        metric = metrics[(index + 1) % len(metrics)]
        objective = f"validation/{study['objective']['metric']}"
        self._load(None if metric == objective else metric, review.at)

    def action_rank_at(self) -> None:
        """Read the ranking metric at the next position: best, final, min, max."""
        review = self.review
        if review is None:
            return
        at = POSITIONS[(POSITIONS.index(review.at) + 1) % len(POSITIONS)]
        self._load(review.rank_by, at)

    def ranked_trial(self) -> int | None:
        """The highlighted trial of the ranking, if any."""
        study = self.study
        trials = [] if study is None else study["ranking"]["trials"]
        row = self.query_one("#ranking-table", DataTable).cursor_row
        return trials[row]["trial_id"] if 0 <= row < len(trials) else None

    def action_open_trial(self) -> None:
        """Open the highlighted ranked trial."""
        trial_id = self.ranked_trial()
        if trial_id is not None:
            self.tunebook.show_trial(trial_id)

    @on(DataTable.RowSelected, "#ranking-table")
    def _ranked_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_trial()

    def action_adopt(self) -> None:
        """Open the adoption of the highlighted ranked trial on the ranking tab, else of the
        selected study's best trial (PB-17)."""
        from tunebook.tui.screens.adoption import AdoptionScreen

        study = self.study
        on_ranking = self.query_one("#review-tabs", TabbedContent).active == "ranking"
        trial_id = self.ranked_trial() if on_ranking else None
        if trial_id is None and study is not None and study["best"] is not None:
            trial_id = study["best"]["trial_id"]
        if trial_id is None:
            self.notify("no trial to adopt: the study has no feasible trial", severity="warning")
            return
        self.app.push_screen(AdoptionScreen(trial_id))

    def action_exploit(self) -> None:
        """Open the exploitation of this experiment: its refined space and the key that
        stores the Bayesian study (PB-18)."""
        if self.review is not None:
            self.tunebook.show_exploitation(self.review.document["experiment"]["name"])

    def action_promote(self) -> None:
        """Open the longer round of this experiment (PB-20)."""
        if self.review is not None:
            self.tunebook.show_promotion(self.review.document["experiment"]["name"])

    def action_launches(self) -> None:
        """Open the launch history."""
        from tunebook.tui.screens.launches import LaunchesScreen

        self.app.push_screen(LaunchesScreen())

    def action_conclude(self) -> None:
        """Ask for a note and conclude the experiment with it and the evidence (PB-5);
        refused at once on a read-only session, by core while it is being run."""
        refusal = self.tunebook.write_refusal()
        if refusal:
            self.notify(f"cannot conclude: {safe_text(refusal)}", severity="warning")
            return
        if self.review is not None:
            self._open_conclusion(self.review.document["experiment"])

    @work(thread=True, exclusive=True, group="conclude", exit_on_error=False)
    def _open_conclusion(self, experiment: dict[str, Any]) -> None:
        name = experiment["name"]
        evidence = self.read(lambda session: evidence_preview(session, name))
        self.app.call_from_thread(self._ask_conclusion, experiment, evidence)

    def _ask_conclusion(self, experiment: dict[str, Any], evidence: str) -> None:
        name, path = experiment["name"], self.session_path
        body = Text()
        body.append("goal: ", style="bold")
        body.append((safe_text(experiment["goal"]) or "—") + "\n")
        body.append("evidence: ", style="bold")
        body.append(safe_text(evidence) + "\n")
        if experiment["conclusion"]:
            body.append("concluded already (replaced): ", style="bold yellow")
            body.append(safe_text(experiment["conclusion"]) + "\n")
        body.append(
            "Stored: your note, then the evidence; the experiment is marked concluded.",
            style="dim",
        )

        def concluded(message: str | None) -> None:
            if message:
                self.notify(message, title="Concluded", timeout=10)
                self.reload()  # the watcher posts the change too; this shows it at once

        self.app.push_screen(
            NoteScreen(
                f"Conclude experiment {safe_text(name)}",
                body,
                "Conclude",
                lambda note: conclude_experiment(path, name, note),
                "what you conclude, in your words",
            ),
            concluded,
        )

    def action_back(self) -> None:
        """Back to the screen that opened this one."""
        self.dismiss()
