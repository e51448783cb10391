"""Adopting a trial as the new baseline on evidence (PB-5, PB-17).

`p` starts the seed-variance probe in a detached runner (`tunebook probe seed-variance PATH
--trial N --seeds N`): the candidate re-run with new seeds, and the current baseline too
unless its seeds were measured already. The screen fills in as the runner stores each seed
run (`x` stops it, `p` resumes), and once completed shows both distributions, the comparison
and the verdict: the probe's stored summary, what `tunebook adopt` prints. `r` records the
launch with that evidence and the user's note (`core.analysis.adoption.launch_record` on a
writable session in a thread worker: with the Review's conclusion, the only writes the app
makes itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Input, Label, Static

from tunebook.core.analysis.adoption import DEFAULT_SEEDS, ROLES
from tunebook.core.project_start.registry import probe_plan
from tunebook.sessions import (
    BadInput,
    Experiment,
    Launch,
    Probe,
    ProbeKind,
    Session,
    Study,
    Trial,
    TrialStatus,
    current_baseline,
)
from tunebook.sessions.records import RunnerInfo
from tunebook.sessions.report import RUNNER_STALE_AFTER
from tunebook.sessions.text import safe_text
from tunebook.tui.probe_text import number
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.screens.project_start.probe_screen import PROBE_WORKERS
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import Row, refill
from tunebook.tui.widgets.text_input import TextInput

#: The probe's command-line name.
PROBE = "seed-variance"


@dataclass(frozen=True)
class AdoptionView:
    """One read of the adoption of a trial: the trial, its study and experiment, the current
    baseline (the latest launch naming a trial), the latest seed-variance probe when it
    re-ran this trial, its findings (the stored summary once completed, else the plan's
    summary of the runs so far), how many seed runs it plans, the launch recorded from it,
    and the live runner."""

    trial: Trial
    study: Study
    experiment: Experiment
    baseline: Launch | None
    probe: Probe | None
    summary: Mapping[str, Any]
    planned: int
    launch: Launch | None
    runner: RunnerInfo | None

    @property
    def completed(self) -> bool:
        """True once the probe measured every seed run it planned."""
        return self.probe is not None and self.probe.status == "completed"


def read_adoption(session: Session, trial_id: int) -> AdoptionView:
    """What the adoption screen of trial `trial_id` shows (in a thread worker)."""
    plan = probe_plan(PROBE)
    trial = session.trial(trial_id)
    study = session.study(trial.study_id)
    launches = session.launches()
    probe = session.latest_probe(ProbeKind.SEED_VARIANCE)
    if probe is not None and (probe.config.get("candidate") or {}).get("trial") != trial_id:
        probe = None  # the latest probe re-ran another trial
    summary: Mapping[str, Any] = {}
    planned, launch = 0, None
    if probe is not None and probe.config:
        summary = probe.summary if probe.status == "completed" else {}
        summary = summary or plan.summarize(probe.config, probe.points)
        keys = {unit.key for unit in plan.next_units(probe.config, probe.points)}
        planned = len(keys | set(probe.points))
        launch = next((x for x in launches if x.evidence.get("probe") == probe.id), None)
    runner = session.runner()
    alive = runner if runner is not None and runner.is_alive(RUNNER_STALE_AFTER) else None
    return AdoptionView(
        trial,
        study,
        session.experiment(study.experiment_id),
        current_baseline(launches),
        probe,
        summary,
        planned,
        launch,
        alive,
    )


def record_launch(path: Path, probe_id: int, note: str) -> str:
    """Record the completed probe's candidate as the new baseline, with the user's `note`
    (from a thread worker, on a writable session); what to tell the user. BadInput while a
    runner is alive: it is the file's writer."""
    from tunebook.core.analysis.adoption import launch_record

    with Session.open(path) as session:
        runner = session.runner()
        if runner is not None and runner.is_alive(RUNNER_STALE_AFTER):
            raise BadInput(
                f"session '{path}' is being run by process {runner.pid}; record the launch "
                "once the run has ended"
            )
        launch = launch_record(session, probe_id, note)
    return f"launch {launch.id}: trial {launch.trial_id} is the new baseline"


def mean_std(side: Mapping[str, Any]) -> str:
    """`mean ± std`, as `tunebook adopt` prints a distribution."""
    return f"{number(side['mean'])} ± {number(side['std'])}"


def rule_text(rule: Mapping[str, Any]) -> str:
    """The seed-noise rule a verdict applied (`core.analysis.adoption`'s constants)."""
    return (
        f"beyond the seed noise when Welch's p < {number(rule['alpha'], 'g')} and the "
        f"difference exceeds {number(rule['noise_multiple'], 'g')} pooled std; at least "
        f"{rule['min_seeds']} seeds each"
    )


def seed_rows(summary: Mapping[str, Any]) -> list[Row]:
    """Each configuration's seed runs: the rows `tunebook adopt` prints."""
    rows: list[Row] = []
    for role in ROLES:
        side = summary.get(role)
        for run in side["runs"] if side else ():
            step = run.get("best_step")
            cells = (
                f"{role} (trial {side['trial']})",
                str(run["seed"]),
                run["status"] or "—",
                number(run["best_value"]),
                "—" if step is None else number(step, "d"),
            )
            rows.append(
                (
                    None,
                    tuple(
                        Text(safe_text(cell), justify="left" if i == 0 else "right")
                        for i, cell in enumerate(cells)
                    ),
                )
            )
    return rows


def findings_text(view: AdoptionView) -> Text:
    """Both distributions, the comparison, the verdict and its rule once completed, and the
    warnings: what `r` records as the launch's evidence."""
    summary, text = view.summary, Text()
    objective = safe_text(str(summary.get("objective", view.study.objective_metric)))
    if view.completed:
        for role in ROLES:
            side = summary.get(role)
            if not side:
                continue
            text.append(f"{role} (trial {side['trial']}): ", style="bold")
            text.append(f"{objective} {mean_std(side)} over {side['n']} seeds")
            if side.get("reused_from"):
                text.append(f" (seeds measured by probe {side['reused_from']})", style="dim")
            text.append("\n")
        comparison = summary.get("comparison")
        if comparison is not None:
            text.append("difference (candidate − baseline): ", style="bold")
            text.append(
                f"{number(comparison['difference'])}; pooled std "
                f"{number(comparison['pooled_std'])}; Welch's p "
                f"{number(comparison['p_value'], '.3g')}\n"
            )
    # While measuring, the table shows each run's status; the warnings (a run that did not
    # complete, too few completed) are the completed probe's.
    for warning in summary.get("warnings", []) if view.completed else ():
        text.append("warning: ", style="bold yellow")
        text.append(safe_text(warning) + "\n", style="yellow")
    if view.completed:
        beyond = (summary.get("comparison") or {}).get("beyond_noise")
        better = (summary.get("comparison") or {}).get("better")
        text.append("verdict: ", style="bold")
        style = "bold green" if beyond and better else "bold yellow" if beyond else "bold"
        text.append(safe_text(summary["verdict"]) + "\n", style=style)
        text.append(f"rule: {rule_text(summary['rule'])} (PB-17)", style="dim")
    elif view.probe is not None:
        text.append(
            "the distributions and the verdict show once every seed run is measured",
            style="dim",
        )
    return text


def launch_text(view: AdoptionView) -> Text:
    """The launch recorded from the completed probe, or that `r` records one."""
    text = Text()
    if view.launch is not None:
        text.append(f"recorded as launch {view.launch.id}", style="bold green")
        if view.launch.note:
            text.append(f": {safe_text(view.launch.note)}")
    elif view.completed:
        text.append("r records the launch: this trial becomes the baseline", style="dim")
    return text


class AdoptionScreen(SessionScreen):
    """One candidate trial's adoption: `p` measures its seed variance, `x` stops, `r` records
    the launch, escape goes back."""

    DEFAULT_CSS = """
    AdoptionScreen #adopt-head { padding: 0 1; height: auto; }
    AdoptionScreen #adopt-body { padding: 0 1; }
    AdoptionScreen #seeds-row { height: 1; }
    AdoptionScreen #seeds-row Label { padding: 0 1 0 0; }
    AdoptionScreen #seeds { width: 8; height: 1; border: none; padding: 0 1; }
    AdoptionScreen #adopt-findings, AdoptionScreen #adopt-launch { height: auto; }
    AdoptionScreen #adopt-findings { margin: 1 0 0 0; }
    AdoptionScreen #seed-runs { height: auto; margin: 1 0 0 0; }
    """

    BINDINGS = [
        Binding(
            "p",
            "measure",
            "Measure",
            id="adoption.measure",
            tooltip="Re-run the trial (and the baseline) with new seeds in a detached runner, "
            "or resume a stopped probe",
        ),
        Binding(
            "x",
            "stop",
            "Stop",
            id="adoption.stop",
            tooltip="Stop the probe's runner; stored seed runs are kept and p resumes",
        ),
        Binding(
            "r",
            "record",
            "Record launch",
            id="adoption.record",
            tooltip="Record the completed probe's candidate as the new baseline, with a note",
        ),
        Binding("escape", "back", "Back", id="adoption.back", tooltip="Back to the review"),
    ]

    def __init__(self, trial_id: int) -> None:
        super().__init__()
        self.trial_id = trial_id
        #: The adoption as last read; None until the first read.
        self.view: AdoptionView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        yield Static(f"trial {self.trial_id}: reading the session…", id="adopt-head")
        with VerticalScroll(id="adopt-body"):
            with Horizontal(id="seeds-row"):
                yield Label("new seeds per configuration (tab: edit, enter: measure):")
                yield TextInput(str(DEFAULT_SEEDS), type="integer", id="seeds")
            yield Static(id="adopt-findings")
            yield Static(id="adopt-launch")
            yield DataTable(id="seed-runs", cursor_type="row", zebra_stripes=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"adopt trial {self.trial_id} (PB-5, PB-17)"
        self.query_one("#seed-runs", DataTable).focus()
        super().on_mount()

    # -- reading and drawing --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        trial_id = self.trial_id
        found = self.read(lambda session: read_adoption(session, trial_id))
        self.app.call_from_thread(self.show_view, found)

    def show_view(self, view: AdoptionView) -> None:
        """Draw `view` everywhere on the screen."""
        first = self.view is None
        self.view = view
        if first and view.probe is not None and view.probe.status in ("running", "stopped"):
            # p resumes a stopped probe only with its own settings
            self.query_one("#seeds", Input).value = str(view.probe.config.get("seeds", ""))
        self.query_one("#adopt-head", Static).update(self.head_text(view))
        objective = safe_text(str(view.summary.get("objective", view.study.objective_metric)))
        columns = (
            ("configuration", "configuration"),
            ("seed", "seed"),
            ("status", "status"),
            ("best", f"best {objective}"),
            ("step", "at step"),
        )
        rows = seed_rows(view.summary)
        table = self.query_one("#seed-runs", DataTable)
        refill(table, columns, rows)
        table.display = bool(rows)
        self.query_one("#adopt-findings", Static).update(findings_text(view))
        launch = launch_text(view)
        self.query_one("#adopt-launch", Static).update(launch)
        self.query_one("#adopt-launch", Static).display = bool(launch)
        self.refresh_bindings()

    def head_text(self, view: AdoptionView) -> Text:
        """The candidate, the baseline it would replace, and where the probe stands."""
        trial, study = view.trial, view.study
        text = Text()
        text.append("re-run with new seeds; adopt only beyond the seed noise\n", style="dim")
        text.append(f"candidate: trial {trial.id}", style="bold")
        text.append(f" (study {safe_text(study.name)}, experiment ")
        text.append(safe_text(view.experiment.name) + ")")
        if trial.status is not TrialStatus.COMPLETED:
            text.append(f" {trial.status.value}", style="yellow")
        elif trial.best_value is not None:
            metric = safe_text(study.objective_metric)
            text.append(f": best {metric} {number(trial.best_value)} at step {trial.best_step}")
        text.append("\n")
        baseline = view.baseline
        text.append("baseline: ", style="bold")
        if baseline is None:
            text.append("none yet: this would be the first launch\n")
        elif baseline.trial_id == trial.id:
            text.append(f"this trial, since launch {baseline.id}\n")
        else:
            text.append(f"trial {baseline.trial_id} (launch {baseline.id})\n")
        text.append_text(self.status_text(view))
        return text

    def status_text(self, view: AdoptionView) -> Text:
        """Not measured / measuring k of n / stopped (p resumes) / completed, and a runner
        busy with something else."""
        text = Text("probe: ", style="bold")
        probe, runner = view.probe, view.runner
        mine = runner is not None and runner.command == f"probe {PROBE}"
        if probe is None:
            text.append(
                f"not measured yet (p measures, as 'tunebook adopt PATH {view.trial.id}' does)",
                style="dim",
            )
        else:
            stored = f"{len(probe.points)} of {view.planned} seed runs"
            if probe.status == "running" and mine:
                text.append(f"measuring: {stored} stored (x stops)", style="bold cyan")
            elif probe.status in ("running", "stopped"):
                text.append(f"stopped after {stored} (p resumes)", style="yellow")
            elif probe.status == "completed":
                text.append(f"completed: {stored}", style="green")
            else:
                text.append(safe_text(probe.status), style="red")
        if runner is not None and not mine:
            text.append("  ·  ")
            text.append(
                f"a runner is busy with {safe_text(runner.command or 'a run')} (pid {runner.pid})",
                style="yellow",
            )
        return text

    # -- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        view = self.view
        if action == "record" and (
            view is None or not view.completed or view.launch or self.tunebook.runner_alive
        ):
            return None  # disabled until a completed probe, not yet recorded, has no runner
        if action == "stop" and not self.tunebook.runner_alive:
            return None
        return True

    @on(Input.Submitted, "#seeds")
    def _seeds_submitted(self) -> None:
        self.action_measure()

    def action_measure(self) -> None:
        """Start (or resume) the seed-variance probe in a detached runner; refused when
        read-only or when a runner is alive."""
        refusal = self.tunebook.write_refusal()
        if not refusal and (self.tunebook.runner_alive or (self.view and self.view.runner)):
            refusal = "a runner is already running on this session"
        if refusal:
            self.notify(f"cannot measure: {safe_text(refusal)}", severity="warning")
            return
        value = self.query_one("#seeds", Input).value.strip()
        if not value.isdigit():
            self.notify("the number of seeds must be a whole number", severity="warning")
            return
        self.query_one("#seed-runs", DataTable).focus()
        self._start_probe(self.session_path, self.trial_id, int(value))

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def _start_probe(self, path: Path, trial_id: int, seeds: int) -> None:
        from tunebook.core.execution.control import ProbeRequest

        options = (("--trial", str(trial_id)), ("--seeds", str(seeds)))
        request = ProbeRequest(PROBE, options, PROBE_WORKERS)
        self.tunebook.start_detached(path, request, f"probe {PROBE} of trial {trial_id}")

    def action_stop(self) -> None:
        """Stop the probe's runner (after confirming); its seed runs are kept."""
        self.tunebook.action_stop_run()

    def action_record(self) -> None:
        """Ask for a note and record the completed probe's candidate as the new baseline."""
        from tunebook.tui.screens.review import NoteScreen

        view = self.view
        refusal = self.tunebook.write_refusal()
        if not refusal and self.tunebook.runner_alive:
            refusal = "a runner is running on this session; record once it has ended"
        if not refusal and (view is None or view.probe is None or not view.completed):
            refusal = "the seed-variance probe of this trial has not completed"
        if not refusal and view is not None and view.launch is not None:
            refusal = f"this probe is recorded already as launch {view.launch.id}"
        if refusal or view is None or view.probe is None:
            self.notify(f"cannot record the launch: {safe_text(refusal)}", severity="warning")
            return
        path, probe_id = self.session_path, view.probe.id
        body = findings_text(view)
        body.append("\n\nStored: these numbers as the evidence, and your note.", style="dim")

        def recorded(message: str | None) -> None:
            if message:
                self.notify(safe_text(message), title="Launch recorded", timeout=10)
                self.reload()  # the watcher posts the change too; this shows it at once

        self.app.push_screen(
            NoteScreen(
                f"Record trial {view.trial.id} as the new baseline",
                body,
                "Record launch",
                lambda note: record_launch(path, probe_id, note),
                "why, in your words (kept with the launch)",
            ),
            recorded,
        )

    def action_back(self) -> None:
        """Back to the screen that opened this one."""
        self.dismiss()
