"""An experiment's conclusion: the user's note plus what the evidence supports (PB-5, PB-8).

For each scientific hyperparameter, the isolation plot (PB-15) says which value won and by
how much over the runner-up; the experiment's fixed hyperparameters are the caveats (the
result holds for those values only, PB-8); checklist items that did not pass are named, so
a conclusion drawn despite them says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tunebook.core.analysis.checklist import Verdict, experiment_checklist
from tunebook.core.analysis.plots import isolation_plots
from tunebook.core.analysis.study import StudyView, load_experiment
from tunebook.sessions import BadInput, ExperimentStatus, Session
from tunebook.sessions.report import RUNNER_STALE_AFTER


@dataclass(frozen=True)
class ScientificResult:
    """Which value of one scientific hyperparameter won, by how much over the runner-up."""

    name: str
    winner: str
    best: float
    runner_up: str | None
    runner_up_best: float | None

    @property
    def margin(self) -> float | None:
        """How much better the winner is (absolute, always ≥ 0), or None alone."""
        if self.runner_up_best is None:
            return None
        return abs(self.runner_up_best - self.best)


@dataclass(frozen=True)
class Evidence:
    """What an experiment's results support, and the caveats to state with it."""

    results: tuple[ScientificResult, ...]
    fixed: dict[str, object]
    open_checks: tuple[str, ...]  # "Enough trials: warn", … (items that did not pass)

    def text(self, metric: str) -> str:
        """The evidence in a few sentences, as stored with the conclusion."""
        parts = []
        for r in self.results:
            line = f"{r.name}={r.winner} won with {metric} {r.best:.4g}"
            if r.runner_up is not None and r.margin is not None:
                line += (
                    f", {r.margin:.4g} better than {r.name}={r.runner_up} ({r.runner_up_best:.4g})"
                )
            parts.append(line + ".")
        if not parts:
            parts.append("No scientific value had a feasible trial to compare.")
        if self.fixed:
            held = ", ".join(f"{k}={v}" for k, v in sorted(self.fixed.items()))
            parts.append(f"Holds for the fixed values only: {held} (PB-8).")
        if self.open_checks:
            parts.append(f"Checklist not passed: {'; '.join(self.open_checks)} (PB-11).")
        return " ".join(parts)


def evidence_for(session: Session, views: Sequence[StudyView]) -> Evidence:
    """The evidence of the experiment whose studies are `views`."""
    results = []
    for plot in isolation_plots(session, views):
        measured = [p for p in plot.points if p.best is not None]
        measured.sort(key=lambda p: p.best if plot.mode == "min" else -p.best)
        if not measured:
            continue
        first, second = measured[0], measured[1] if len(measured) > 1 else None
        results.append(
            ScientificResult(
                plot.name,
                first.label,
                first.best,
                None if second is None else second.label,
                None if second is None else second.best,
            )
        )
    fixed = dict(views[0].experiment.design.get("fixed", {})) if views else {}
    open_checks = tuple(
        f"{item.title}: {item.verdict.value}"
        for item in experiment_checklist(session, views)
        if item.verdict is not Verdict.PASS
    )
    return Evidence(tuple(results), fixed, open_checks)


def conclude(session: Session, name: str, note: str, source: str = "cli") -> str:
    """Store experiment `name`'s conclusion (the user's `note`, then the evidence), mark it
    concluded and log it as from `source`; returns the stored text. BadInput while a runner
    is alive (it is the file's writer) or trials are unfinished (the evidence would change)."""
    runner = session.runner()
    if runner is not None and runner.is_alive(RUNNER_STALE_AFTER):
        raise BadInput(
            f"session '{session.path}' is being run by process {runner.pid}; conclude once "
            "the run has ended (or stop it with 'tunebook stop')"
        )
    views = load_experiment(session, name)
    unfinished = sum(len(v.trials) - len(v.finished) for v in views)
    if unfinished:
        raise BadInput(
            f"experiment '{name}' has {unfinished} unfinished trials; run them "
            f"with 'tunebook run {session.path} --experiment {name}' first"
        )
    metric = views[0].metric if views else "objective"
    evidence = evidence_for(session, views).text(metric)
    note = note.strip()
    text = (f"{note} " if note else "") + f"Evidence: {evidence}"
    experiment = session.experiment(name)
    session.update_experiment(experiment.id, ExperimentStatus.CONCLUDED, text)
    session.log_event(source, "experiment.concluded", f"experiment {experiment.name} concluded")
    return text
