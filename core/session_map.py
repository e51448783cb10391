"""The session map: the playbook's stages in order, each with where this session stands.

Model → optimizer → batch size → initial configuration → training length (PB-1 … PB-4,
PB-19), then the experiments (rounds, PB-5) and the launches they led to. Each stage is
done, stale (with the reason), running, the recommended next step, or not started, and
says what the session holds and the command that does the step today. The app's Session
map screen and `tunebook status` both draw this; neither decides anything itself.

Imports only `tunebook.sessions`, so `status` stays free of torch.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from tunebook.sessions import (
    Decision,
    DecisionKind,
    ExperimentStatus,
    Probe,
    ProbeKind,
    Session,
    TrialStatus,
)
from tunebook.sessions.report import RUNNER_STALE_AFTER, counts_with_planned
from tunebook.sessions.text import plural


class StageState(str, Enum):
    """Where one stage stands."""

    DONE = "done"
    STALE = "stale"  # decided, but an input it depends on changed since
    RUNNING = "running"
    NEXT = "next"  # the recommended next step (at most one stage)
    NOT_STARTED = "not started"


class StageAction(str, Enum):
    """What the app does when the user takes a stage's step."""

    NONE = ""
    RUN = "run"  # start the runner on the pending trials
    MONITOR = "monitor"  # watch the run
    EXPERIMENTS = "experiments"  # the experiments' and studies' numbers
    PROJECT_STEP = "project step"  # the project-start screen of the stage (model … stability)


@dataclass(frozen=True)
class Stage:
    """One step of the playbook as this session stands on it."""

    key: str  # "model", …, "experiment:NAME", "launches"
    title: str
    playbook: tuple[str, ...]  # the PB ids this stage implements
    state: StageState
    summary: str  # what the session holds for this stage
    reason: str = ""  # why stale, or why it is the next step
    command: str = ""  # the CLI command that does this step today ("" when there is none)
    action: StageAction = StageAction.NONE
    experiment: str | None = None  # the experiment of an experiment stage

    @property
    def about(self) -> str:
        """What the playbook says this stage is for, in a sentence."""
        return STAGE_ABOUT["experiment" if self.key.startswith("experiment") else self.key]

    def to_dict(self) -> dict[str, Any]:
        """The stage as `status --json` writes it."""
        return {
            "key": self.key,
            "title": self.title,
            "playbook": list(self.playbook),
            "state": self.state.value,
            "summary": self.summary,
            "reason": self.reason,
            "command": self.command,
        }

    @property
    def actionable(self) -> bool:
        """True when the user can take this step now, in the app or with a command."""
        return self.action is not StageAction.NONE or bool(self.command)


@dataclass(frozen=True)
class SessionMap:
    """The stages in the playbook's order, at most one of them `NEXT` (or the recommended
    step is a `STALE` decision, named by `stale_next`: it keeps showing as stale)."""

    stages: tuple[Stage, ...]
    runner_alive: bool
    stale_next: str | None = None

    @property
    def next(self) -> Stage | None:
        """The recommended next step, or None when there is nothing to recommend."""
        if self.stale_next is not None:
            return self.stage(self.stale_next)
        return next((s for s in self.stages if s.state is StageState.NEXT), None)

    def stage(self, key: str) -> Stage:
        """The stage named `key`; KeyError when the session has no such stage."""
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)


#: The project-start decisions (PB-1 … PB-4, PB-19), in the playbook's order.
DECISION_STAGES: tuple[tuple[DecisionKind, str, tuple[str, ...], str], ...] = (
    (DecisionKind.MODEL, "Model", ("PB-1", "PB-4"), "model"),
    (DecisionKind.OPTIMIZER, "Optimizer", ("PB-2",), "optimizer"),
    (DecisionKind.BATCH_SIZE, "Batch size", ("PB-3", "PB-21"), "batch_size"),
    (DecisionKind.INITIAL_CONFIG, "Initial configuration", ("PB-4",), "learning_rate"),
    (DecisionKind.MAX_TRAIN_STEPS, "Training length", ("PB-19", "PB-20"), "max_train_steps"),
    (DecisionKind.STABILITY, "Stability", ("PB-30", "PB-31"), "warmup_steps"),
)

#: The probe that measures for each decision (model and optimizer have none).
PROBE_KINDS = {
    DecisionKind.BATCH_SIZE: ProbeKind.BATCH_SIZE,
    DecisionKind.INITIAL_CONFIG: ProbeKind.INITIAL_CONFIG,
    DecisionKind.MAX_TRAIN_STEPS: ProbeKind.LEARNING_RATE,
    DecisionKind.STABILITY: ProbeKind.STABILITY,
}

#: The command that takes each project-start step (`tunebook probe NAME PATH`).
PROBE_NAMES = {
    DecisionKind.MODEL: "model",
    DecisionKind.OPTIMIZER: "optimizer",
    DecisionKind.BATCH_SIZE: "batch-size",
    DecisionKind.INITIAL_CONFIG: "initial-config",
    DecisionKind.MAX_TRAIN_STEPS: "training-length",
    DecisionKind.STABILITY: "stability",
}


#: What each stage is for, after the playbook (shown beside the stage in the app).
STAGE_ABOUT = {
    "model": "Start from a well-established architecture; its hyperparameters define a "
    "family of models, and the smallest sensible member is the right start.",
    "optimizer": "Use the most popular optimizer for the kind of problem, and be ready to "
    "tune all its hyperparameters; simpler variants with fixed extras are fine early on.",
    "batch_size": "Batch size sets training speed, not validation performance: take the "
    "largest size that still nearly doubles throughput when doubled, and fit it in memory.",
    "initial_config": "A simple, fast, reasonable start: constant learning rate, no extras, "
    "clearly better than chance.",
    "max_train_steps": "Never tune the step budget: pick one value for all trials, and read "
    "where the best checkpoints land to shorten or lengthen it.",
    "stability": "Look above the best learning rate: if twice it is unstable, a short warmup "
    "or gradient clipping may let training use higher rates.",
    "experiment": "One narrow goal per round: scientific hyperparameters measured, nuisance "
    "ones tuned away, fixed ones held; check the results before concluding.",
    "launches": "Adopt a change as the new baseline only on strong evidence, knowing the "
    "trial-to-trial variance.",
}


def session_map(session: Session) -> SessionMap:
    """Compute every stage of `session` and mark the recommended next step."""
    runner = session.runner()
    alive = runner is not None and runner.is_alive(RUNNER_STALE_AFTER)
    path = shlex.quote(str(session.path))
    experiments = session.experiments()
    latest: dict[DecisionKind, Decision] = {d.kind: d for d in session.decisions()}
    stages = [
        _decision_stage(
            kind, title, playbook, key, latest.get(kind), experiments, path, _probe(session, kind)
        )
        for kind, title, playbook, key in DECISION_STAGES
    ]
    if alive:
        stages = [_probing(stage, runner.command) for stage in stages]
    stages += _experiment_stages(session, experiments, alive, path)
    launches = session.launches()
    stages.append(
        Stage(
            key="launches",
            title="Launches",
            playbook=("PB-5", "PB-17"),
            state=StageState.DONE if launches else StageState.NOT_STARTED,
            summary=(
                f"{plural(len(launches), 'configuration')} adopted as baseline"
                if launches
                else "no configuration adopted yet"
            ),
        )
    )
    marked, stale_next = _mark_next(stages)
    return SessionMap(tuple(marked), alive, stale_next)


def _decision_stage(
    kind: DecisionKind,
    title: str,
    playbook: tuple[str, ...],
    key: str,
    decision: Decision | None,
    experiments: Iterable[Any],
    path: str,
    probe: Probe | None,
) -> Stage:
    """A project-start stage: its decision when one is recorded, else its probe's
    recommendation waiting to be confirmed, else what the experiments use for it."""
    command = f"tunebook probe {PROBE_NAMES[kind]} {path}"
    common = {"command": command, "action": StageAction.PROJECT_STEP}
    if decision is not None:
        state = StageState.STALE if decision.stale else StageState.DONE
        summary = f"decided: {describe_decision(kind, decision.value)}"
        return Stage(kind.value, title, playbook, state, summary, decision.stale_reason, **common)
    found = (probe.summary.get("recommendation") or {}) if probe is not None else {}
    if probe is not None and probe.status == "completed" and found:
        summary = (
            f"measured: recommends {describe_decision(kind, found['value'])}; not decided yet"
        )
        return Stage(kind.value, title, playbook, StageState.NOT_STARTED, summary, **common)
    used = _values_in_experiments(key, experiments)
    summary = (
        "not decided; set per experiment: " + ", ".join(used)
        if used
        else "not decided; the workload's defaults apply"
    )
    return Stage(kind.value, title, playbook, StageState.NOT_STARTED, summary, **common)


def _probe(session: Session, kind: DecisionKind) -> Probe | None:
    probe_kind = PROBE_KINDS.get(kind)
    return None if probe_kind is None else session.latest_probe(probe_kind)


def _probing(stage: Stage, command: str) -> Stage:
    """The stage whose probe the live runner is measuring shows as running."""
    for kind, name in PROBE_NAMES.items():
        if stage.key == kind.value and command == f"probe {name}":
            return replace(stage, state=StageState.RUNNING, summary="measuring now")
    return stage


def describe_decision(kind: DecisionKind, value: Any) -> str:
    """A decision's value in a few words, as the map and `status` show it."""
    if kind is DecisionKind.OPTIMIZER and isinstance(value, dict):
        frozen = value.get("frozen") or []
        text = str(value.get("name", "?"))
        if frozen:
            text += f" (frozen for now: {', '.join(map(str, frozen))})"
        return text
    if kind is DecisionKind.INITIAL_CONFIG and isinstance(value, dict) and "learning_rate" in value:
        return f"{value.get('schedule', 'constant')} learning rate {_shown(value['learning_rate'])}"
    if kind is DecisionKind.STABILITY and isinstance(value, dict):
        parts = [f"warmup {value['warmup_steps']} steps"] if value.get("warmup_steps") else []
        if value.get("grad_clip"):
            parts.append(f"clip gradients at {_shown(value['grad_clip'])}")
        return ", ".join(parts) or "stable as it is: no warmup, no clipping"
    return _shown(value)


def _values_in_experiments(key: str, experiments: Iterable[Any]) -> list[str]:
    """`'depth' uses adam` for each experiment whose design sets `key`, `'depth' tunes it`
    where the experiment varies it."""
    found = []
    for experiment in experiments:
        design = experiment.design
        if key == "max_train_steps":
            found.append(f"'{experiment.name}' uses {experiment.max_train_steps}")
        elif key in design.get("fixed", {}):
            found.append(f"'{experiment.name}' uses {_shown(design['fixed'][key])}")
        elif key in design.get("scientific", {}) or key in design.get("nuisance", {}):
            found.append(f"'{experiment.name}' tunes it")
    return found


def _experiment_stages(
    session: Session, experiments: list[Any], alive: bool, path: str
) -> list[Stage]:
    """One stage per experiment (a round, PB-5), with its trial counts."""
    if not experiments:
        return [
            Stage(
                key="experiments",
                title="First experiment",
                playbook=("PB-5", "PB-7", "PB-8", "PB-9"),
                state=StageState.NOT_STARTED,
                summary="no experiment designed yet",
                command=f"tunebook experiment add {path} SPEC.toml",
            )
        ]
    summaries = session.study_summaries()
    stages = []
    for experiment in experiments:
        counts = {s.value: 0 for s in TrialStatus}
        for summary in summaries:
            if summary.study.experiment_id == experiment.id:
                for status, count in counts_with_planned(summary.study, summary.counts).items():
                    counts[status] += count
        total = sum(counts.values())
        finished = sum(counts[s.value] for s in TrialStatus if s.is_finished())
        unfinished = total - finished
        summary_text = (
            f"{finished}/{total} trials finished: {counts['completed']} completed, "
            f"{counts['infeasible']} infeasible, {counts['failed']} failed"
        )
        name = shlex.quote(experiment.name)
        if alive and unfinished:
            state, action, command = StageState.RUNNING, StageAction.MONITOR, ""
        elif unfinished:
            state, action = StageState.NOT_STARTED, StageAction.RUN
            command = f"tunebook run {path} --experiment {name}"
        else:
            state, action, command = StageState.DONE, StageAction.EXPERIMENTS, ""
        if experiment.status is ExperimentStatus.CONCLUDED:
            summary_text += f"; concluded: {experiment.conclusion}"
        stages.append(
            Stage(
                key=f"experiment:{experiment.name}",
                title=f"Experiment '{experiment.name}'",
                playbook=("PB-5", "PB-9", "PB-11"),
                state=state,
                summary=summary_text,
                command=command,
                action=action,
                experiment=experiment.name,
            )
        )
    return stages


def _mark_next(stages: list[Stage]) -> tuple[list[Stage], str | None]:
    """Mark the recommended step: watch a live run; else, before the first experiment, the
    first project-start decision not made (or stale); else the first stage in the playbook's
    order that is not done and can be taken now. Once experiments exist, an undecided
    project-start stage is not pushed: their specs set those values. Returns the stages and
    the key of a stale decision when that is the recommended step (it stays `STALE`)."""
    if any(s.state is StageState.RUNNING for s in stages):
        return stages, None
    decisions = {kind.value for kind, *_ in DECISION_STAGES}
    started = any(s.key.startswith("experiment:") for s in stages)
    for index, stage in enumerate(stages):
        if stage.key in decisions and not started and stage.state is StageState.STALE:
            return stages, stage.key
        if stage.key in decisions and not started and stage.state is not StageState.DONE:
            reason = "the playbook decides this before the first experiment"
            stages[index] = replace(stage, state=StageState.NEXT, reason=reason)
            return stages, None
        if stage.key in decisions:
            continue
        if stage.state is StageState.NOT_STARTED and stage.actionable:
            reason = (
                "its trials are waiting to run"
                if stage.action is StageAction.RUN
                else "every tuning round starts with one narrow goal (PB-7)"
            )
            stages[index] = replace(stage, state=StageState.NEXT, reason=reason)
            return stages, None
    return stages, None


def _shown(value: Any) -> str:
    """A decision's or design's value as a person reads it."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_shown(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
