"""What `tunebook status` and `tunebook export` show, computed from records alone.

Kept in `sessions` (no torch, no textual) so that listing or exporting a session is
instant, and so the CLI and the TUI show the same numbers. The JSON shapes here are the
documented, stable `--json` output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tunebook.sessions.connection import read_only_reason
from tunebook.sessions.facts import WorkloadFacts, below_one_example, describe_facts
from tunebook.sessions.records import Experiment, ProbeKind, Study, Trial, TrialStatus, now
from tunebook.sessions.store import Session
from tunebook.sessions.text import plural, safe_text

EXPORT_FORMATS = ("csv", "json", "md")
RUNNER_STALE_AFTER = 30.0  # seconds without a heartbeat before a runner counts as dead
#: Key of an experiment's `design` holding the hyperparameter defaults its trials train
#: with (recorded by `experiment add`; absent in sessions made before it was recorded).
HPARAM_DEFAULTS_KEY = "hparam_defaults"
#: At most this many trial ids are listed in one failure line.
FAILURE_IDS_SHOWN = 10


@dataclass(frozen=True)
class FailureGroup:
    """Failed trials that share one error message."""

    error: str
    trial_ids: tuple[int, ...]

    def line(self) -> str:
        """One line for a person: the count, the error (escaped) and the trial ids."""
        ids = ", ".join(map(str, self.trial_ids[:FAILURE_IDS_SHOWN]))
        if len(self.trial_ids) > FAILURE_IDS_SHOWN:
            ids += f", … {len(self.trial_ids) - FAILURE_IDS_SHOWN} more"
        label = "trial" if len(self.trial_ids) == 1 else "trials"
        error = safe_text(self.error) if self.error else "no error message recorded"
        return f"{plural(len(self.trial_ids), 'trial')} failed: {error} ({label} {ids})"

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape: `error` and `trials` (ids)."""
        return {"error": self.error, "trials": list(self.trial_ids)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailureGroup:
        """The group back from its JSON shape (`status_data` holds that)."""
        return cls(data["error"], tuple(data["trials"]))


def failure_groups(trials: Iterable[Trial]) -> list[FailureGroup]:
    """The failed trials among `trials`, grouped by error, the most frequent error first.

    One function for `run`, `status` and the Markdown export, so they group alike.
    """
    by_error: dict[str, list[int]] = {}
    for trial in trials:
        if trial.status is TrialStatus.FAILED:
            by_error.setdefault(trial.error, []).append(trial.id)
    groups = [FailureGroup(error, tuple(ids)) for error, ids in by_error.items()]
    return sorted(groups, key=lambda g: (-len(g.trial_ids), g.trial_ids[0]))


def user_can_write(path: str | os.PathLike[str]) -> bool:
    """True when this user can write the session file and create its SQLite companions
    (`-wal`, `-shm`) in its folder: what a runner or `experiment add` needs."""
    return not read_only_reason(Path(path))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def json_safe(value: Any) -> Any:
    """`value` with every NaN/±inf replaced by null: strict JSON readers (jq) reject them."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def to_json(data: Any) -> str:
    """The documented JSON output: strict JSON, sorted keys, indented."""
    return json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n"


def status_data(session: Session) -> dict[str, Any]:
    """The session at a glance: workload, runner, decisions, experiments with study counts."""
    info = session.info()
    runner = session.runner()
    totals = {s.value: 0 for s in TrialStatus}
    experiments = []
    summaries = session.study_summaries()
    trials = session.trials()
    for experiment in session.experiments():
        studies = []
        for summary in (s for s in summaries if s.study.experiment_id == experiment.id):
            study_id = summary.study.id
            counts = counts_with_planned(summary.study, summary.counts)
            for status, count in counts.items():
                totals[status] += count
            studies.append(
                {
                    "id": summary.study.id,
                    "name": summary.study.name,
                    "algorithm": summary.study.algorithm,
                    "budget": summary.study.budget,
                    "finished": summary.finished,
                    "counts": counts,
                    "objective": {
                        "metric": summary.study.objective_metric,
                        "mode": summary.study.objective_mode,
                    },
                    "best_trial": summary.best_trial_id,
                    "best_value": _finite(summary.best_value),
                    "samplers": _sampler_counts(
                        (t for t in trials if t.study_id == study_id), summary.study
                    ),
                }
            )
        _mark_within_one_example(studies, info.workload_facts)
        study_ids = {study["id"] for study in studies}
        failures = failure_groups(t for t in trials if t.study_id in study_ids)
        experiments.append(
            {
                "id": experiment.id,
                "name": experiment.name,
                "goal": experiment.goal,
                "status": experiment.status.value,
                "max_train_steps": experiment.max_train_steps,
                "trials": sum(sum(study["counts"].values()) for study in studies),
                "failed": sum(study["counts"]["failed"] for study in studies),
                "failures": [group.to_dict() for group in failures],
                "studies": studies,
            }
        )
    return {
        "path": info.path,
        "name": info.name,
        "workload": {"ref": info.workload, "config": info.workload_config},
        "workload_facts": None if info.workload_facts is None else asdict(info.workload_facts),
        "schema_version": info.schema_version,
        "writer_version": info.writer_version,
        "read_only": not user_can_write(info.path),
        "runner": None
        if runner is None
        else {
            "pid": runner.pid,
            "host": runner.host,
            "alive": runner.is_alive(RUNNER_STALE_AFTER),
            "detached": runner.detached,
            "heartbeat_age_s": round(now() - runner.heartbeat, 1),
        },
        "decisions": [
            {"kind": d.kind.value, "value": d.value, "stale": d.stale}
            for d in _latest_decisions(session)
        ],
        "experiments": experiments,
        "trials": {**totals, "total": sum(totals.values())},
        "launches": len(session.launches()),
        "final_test": final_test(session),
    }


def final_test(session: Session) -> dict[str, Any] | None:
    """The session's one test-set evaluation (PB-18) as `{probe, trial, experiment,
    objective, value, checkpoint_step}`, or None before it."""
    for probe in reversed(session.probes(ProbeKind.FINAL_TEST)):
        summary = probe.summary
        if probe.status == "completed" and summary.get("test_value") is not None:
            keys = ("trial", "experiment", "objective", "checkpoint_step")
            return {
                "probe": probe.id,
                **{k: summary[k] for k in keys},
                "value": summary["test_value"],
            }
    return None


def trial_sampler(trial: Trial, study: Study) -> str:
    """The algorithm that chose the trial's point. Trials recorded without one (written
    directly through the API) were chosen by their study's algorithm, unless that is
    bayesian, whose start-up is quasi-random: then it is "unknown"."""
    if trial.sampler:
        return trial.sampler
    return "unknown" if study.algorithm == "bayesian" else study.algorithm


def _sampler_counts(trials: Iterable[Trial], study: Study) -> dict[str, int]:
    """How many of a study's trials each algorithm chose, e.g.
    `{"quasi-random": 10, "bayesian": 2}` for a bayesian study past its start-up."""
    counts: dict[str, int] = {}
    for trial in trials:
        sampler = trial_sampler(trial, study)
        counts[sampler] = counts.get(sampler, 0) + 1
    return counts


def _mark_within_one_example(studies: list[dict[str, Any]], facts: WorkloadFacts | None) -> None:
    """Set each study's `within_one_example_of_best`: True when its best value differs from
    the experiment's best by less than one validation example (not a measurable difference),
    False when by more, None when that cannot be said (losses, unknown split sizes)."""
    for study in studies:
        study["within_one_example_of_best"] = None
    best_id = best_study_id(studies)
    if facts is None or best_id is None:
        return
    best = next(s["best_value"] for s in studies if s["id"] == best_id)
    for study in studies:
        if study["best_value"] is not None:
            study["within_one_example_of_best"] = below_one_example(
                study["best_value"], best, study["objective"]["metric"], facts.validation_examples
            )


def counts_with_planned(study: Study, counts: dict[str, int]) -> dict[str, int]:
    """Trials per status, the study's planned trials not yet created counted as pending,
    so a study's total is its budget from the start and does not grow during a run (the
    one counting `status`, the session map and the run monitor share)."""
    full = {s.value: counts.get(s.value, 0) for s in TrialStatus}
    full[TrialStatus.PENDING.value] += max(0, study.budget - sum(full.values()))
    return full


def note_target(session: Session, experiment: str | None, trial: int | None) -> str:
    """The note target of an experiment name or a trial id (BadInput naming one that does
    not exist), else the session: `experiment:<id>`, `trial:<id>` or `session`."""
    if experiment is not None:
        return f"experiment:{session.experiment(experiment).id}"
    if trial is not None:
        return f"trial:{session.trial(trial).id}"
    return "session"


def data_notes(facts: WorkloadFacts | None) -> tuple[str, ...]:
    """The likely mistakes `new` noted about the data (none for files from before v2)."""
    return () if facts is None else facts.notes


def chosen_by(study: dict[str, Any]) -> str:
    """Which algorithm chose the study's points so far: `quasi-random`, or for a bayesian
    study `10 quasi-random + 2 bayesian` (its start-up is quasi-random)."""
    samplers = study["samplers"]
    if set(samplers) <= {study["algorithm"]}:
        return study["algorithm"]
    return " + ".join(f"{count} {name}" for name, count in samplers.items())


#: Shown beside a best value within one validation example of the experiment's best.
WITHIN_ONE_EXAMPLE = "≈"
WITHIN_ONE_EXAMPLE_NOTE = (
    f"{WITHIN_ONE_EXAMPLE} within one validation example of the experiment's best: "
    "the validation split cannot tell them apart"
)


def best_label(study: dict[str, Any], best_study: bool) -> str:
    """`0.2133 (trial 7)`, with the within-one-example mark for a study that is not the best."""
    if study["best_value"] is None:
        return "—"
    within = study["within_one_example_of_best"] and not best_study
    mark = f" {WITHIN_ONE_EXAMPLE}" if within else ""
    return f"{study['best_value']:.4g} (trial {study['best_trial']}){mark}"


def best_study_id(studies: list[dict[str, Any]]) -> int | None:
    """The id of the study with the best value (by its objective's mode), None if none has one."""
    scored = [s for s in studies if s["best_value"] is not None]
    if not scored:
        return None
    sign = 1 if scored[0]["objective"]["mode"] == "min" else -1
    return min(scored, key=lambda s: sign * s["best_value"])["id"]


def experiment_state(experiment: dict[str, Any]) -> str:
    """An experiment's status for a person, never "finished" without its failed trials."""
    state = experiment["status"]
    if experiment["failed"]:
        state += f", {experiment['failed']} of {plural(experiment['trials'], 'trial')} failed"
    return state


def _latest_decisions(session: Session) -> list[Any]:
    latest: dict[str, Any] = {}
    for decision in session.decisions():
        latest[decision.kind.value] = decision
    return list(latest.values())


def trained_hparams(
    experiment: Experiment, study: Study, trial: Trial
) -> tuple[dict[str, Any], list[str] | None]:
    """Every hyperparameter `trial` trains with, and the names of those that are defaults.

    A trial stores only what varies and its study what the spec fixed; the rest are the
    workload's, optimizer's, schedule's and training loop's defaults, recorded in the
    experiment's design when it was added. Without that record (sessions made by an older
    tunebook) the names are None: the defaults are unknown, not guessed.
    """
    given = {**study.fixed, **trial.params}
    record = experiment.design.get(HPARAM_DEFAULTS_KEY)
    if not isinstance(record, dict):
        return given, None
    common = record.get("common", {})
    optimizer = record.get("optimizers", {}).get(
        str(given.get("optimizer", common.get("optimizer"))), {}
    )
    set_by_alias = {
        target for alias, target in optimizer.get("aliases", {}).items() if alias in given
    }
    defaults = {
        name: value
        for name, value in {**common, **optimizer.get("defaults", {})}.items()
        if name not in given and name not in set_by_alias
    }
    return {**given, **defaults}, sorted(defaults)


def trial_rows(session: Session) -> list[dict[str, Any]]:
    """One flat row per trial with its experiment, study, every hyperparameter it trained
    with (`param.NAME`; `defaults` names those that were defaults) and its outcome."""
    experiments = {e.id: e for e in session.experiments()}
    studies = {s.id: s for s in session.studies()}
    rows = []
    for trial in session.trials():
        study = studies[trial.study_id]
        experiment = experiments[study.experiment_id]
        hparams, defaults = trained_hparams(experiment, study, trial)
        row: dict[str, Any] = {
            "experiment": experiment.name,
            "study": study.name,
            "trial": trial.id,
            "sampler": trial_sampler(trial, study),
            "number": trial.number,
            "status": trial.status.value,
            "objective": study.objective_metric,
            "best_value": _finite(trial.best_value),
            "best_step": trial.best_step,
            "final_value": _finite(trial.final_value),
            "init_seed": trial.init_seed,
            "data_seed": trial.data_seed,
            "attempts": trial.attempts,
            "compute_seconds": round(trial.compute_seconds, 3),
            "data_seconds": round(trial.data_seconds, 3),
            "error": trial.error,
            "reproduce": trial.reproduce,
            "defaults": defaults,
        }
        row.update({f"param.{k}": v for k, v in sorted(hparams.items())})
        rows.append(row)
    return rows


def export_data(session: Session) -> dict[str, Any]:
    """Everything the tracker needs (PB-24) as one JSON-able document."""
    data = status_data(session)
    data["decisions"] = [
        {
            "kind": d.kind.value,
            "value": d.value,
            "rationale": d.rationale,
            "evidence": d.evidence,
            "stale": d.stale,
            "stale_reason": d.stale_reason,
            "created_at": d.created_at,
        }
        for d in session.decisions()
    ]
    designs = {e.id: e for e in session.experiments()}
    for experiment in data["experiments"]:
        record = designs[experiment["id"]]
        experiment["design"] = record.design
        experiment["conclusion"] = record.conclusion
    data["trials"] = trial_rows(session)
    data["launches"] = [
        {
            "trial": launch.trial_id,
            "experiment": launch.experiment_id,
            "config": launch.config,
            "evidence": launch.evidence,
            "note": launch.note,
            "created_at": launch.created_at,
        }
        for launch in session.launches()
    ]
    data["notes"] = [{"target": n.target, "text": n.text, "at": n.at} for n in session.notes()]
    data["probes"] = [
        {"kind": p.kind.value, "config": p.config, "results": p.results} for p in session.probes()
    ]
    return data


#: Per experiment name, its review checklist as (check, verdict, next step) rows: computed
#: by `tunebook.core.analysis` (this layer reads rows only) and handed to the report.
Checklists = Mapping[str, Sequence[tuple[str, str, str]]]


def export_text(session: Session, fmt: str, checklists: Checklists | None = None) -> str:
    """The session as CSV (one row per trial), JSON (everything) or Markdown (a report, with
    each experiment's checklist when `checklists` holds it)."""
    if fmt == "json":
        return to_json(export_data(session))
    if fmt == "csv":
        return _csv(trial_rows(session))
    if fmt == "md":
        return _markdown(session, checklists or {})
    raise ValueError(f"unknown export format {fmt!r}")


#: The CSV `defaults` cell of a trial whose session recorded no defaults.
DEFAULTS_NOT_RECORDED = "(not recorded by the tunebook that added this experiment)"


def _csv(rows: list[dict[str, Any]]) -> str:
    """One row per trial; text cells escaped (`safe_text`), `defaults` space-separated."""
    fixed = [k for k in rows[0] if not k.startswith("param.")] if rows else ["trial"]
    params = sorted({k for row in rows for k in row if k.startswith("param.")})
    buffer = io.StringIO()
    columns = [safe_text(c) for c in fixed + params]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        defaults = row["defaults"]
        cells = {
            **row,
            "defaults": DEFAULTS_NOT_RECORDED if defaults is None else " ".join(defaults),
        }
        writer.writerow({safe_text(k): _csv_cell(v) for k, v in cells.items()})
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, (dict, list)):
        return safe_text(json.dumps(value, sort_keys=True))
    return safe_text(value)


def _cell(value: Any) -> str:
    """A Markdown table cell: escaped text, `|` that cannot end the cell, floats short."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return safe_text(value).replace("|", "\\|")


def _code(value: Any) -> str:
    """Escaped text as a Markdown code span that its own backticks cannot close."""
    text = safe_text(value)
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    return f"{fence} {text} {fence}" if "`" in text else f"{fence}{text}{fence}"


def _markdown(session: Session, checklists: Checklists) -> str:
    data = status_data(session)
    info = session.info()
    counts = ", ".join(f"{k} {v}" for k, v in data["trials"].items() if k != "total" and v)
    lines = [
        f"# tunebook session: {_cell(data['name'])}",
        "",
        f"- File: {_code(data['path'])}",
        f"- Workload: {_code(data['workload']['ref'])}",
        f"- Data: {_cell(describe_facts(info.workload_facts))}",
        *(f"- Note: {_cell(note)}" for note in data_notes(info.workload_facts)),
        f"- Trials: {data['trials']['total']} ({counts})",
        "",
    ]
    notes: dict[str, list[str]] = {}
    for note in session.notes():
        notes.setdefault(note.target, []).append(note.text)
    lines += _notes_lines("Notes", notes.get("session", []))
    noted = [int(t.split(":", 1)[1]) for t in notes if t.startswith("trial:")]
    experiment_of = {s.id: s.experiment_id for s in session.studies()}
    trials_noted = [(t.id, experiment_of[t.study_id]) for t in session.trials_by_id(noted)]
    if data["decisions"]:
        lines += ["## Decisions", "", "| decision | value | stale |", "|---|---|---|"]
        lines += [
            f"| {_cell(d['kind'])} | {_cell(d['value'])} | {'yes' if d['stale'] else 'no'} |"
            for d in data["decisions"]
        ]
        lines.append("")
    rows = {row["trial"]: row for row in trial_rows(session)}
    for experiment in data["experiments"]:
        stored = session.experiment(experiment["id"])
        lines += [
            f"## Experiment: {_cell(experiment['name'])}",
            "",
            f"Goal: {_cell(experiment['goal'] or None)}  ",
            f"Design: {_design_line(stored.design)}  ",
            f"Status: {experiment_state(experiment)}; "
            f"max_train_steps {experiment['max_train_steps']}",
            "",
            "| study | points chosen by | finished/budget | failed | objective | best value "
            "| best trial |",
            "|---|---|---|---|---|---|---|",
        ]
        best_id = best_study_id(experiment["studies"])
        marked = False
        for study in experiment["studies"]:
            objective = f"{study['objective']['metric']} ({study['objective']['mode']})"
            mark = study["within_one_example_of_best"] and study["id"] != best_id
            marked = marked or bool(mark)
            best = _cell(study["best_value"]) + (f" {WITHIN_ONE_EXAMPLE}" if mark else "")
            lines.append(
                f"| {_cell(study['name'])} | {_cell(chosen_by(study))} | "
                f"{study['finished']}/{study['budget']} | {study['counts']['failed']} | "
                f"{_cell(objective)} | {best} | {_cell(study['best_trial'])} |"
            )
        if marked:
            lines += ["", WITHIN_ONE_EXAMPLE_NOTE]
        best = [
            (s["name"], rows[s["best_trial"]]) for s in experiment["studies"] if s["best_trial"]
        ]
        if best:
            lines += [
                "",
                "Best trial of each study, with every hyperparameter it trained with:",
                "",
            ]
            lines += [_best_trial_line(name, row) for name, row in best]
            lines += ["", "Reproduce the best trials:", ""]
            lines += [
                f"- trial {row['trial']}: {_code(row['reproduce'])}"
                for _, row in best
                if row["reproduce"]
            ]
        if experiment["failures"]:
            lines += ["", "Failed trials, grouped by error:", ""]
            lines += [
                f"- {_cell(FailureGroup.from_dict(f).line())}" for f in experiment["failures"]
            ]
        checklist = checklists.get(experiment["name"], ())
        if checklist:
            lines += ["", "Review checklist (PB-11):", "", "| check | verdict | next step |"]
            lines += ["|---|---|---|"]
            lines += [f"| {_cell(c)} | {_cell(v)} | {_cell(n or None)} |" for c, v, n in checklist]
        if stored.conclusion:
            lines += ["", f"Conclusion: {_cell(stored.conclusion)}"]
        lines.append("")
        lines += _notes_lines("Notes", notes.get(f"experiment:{stored.id}", []))
        trial_notes = [
            f"trial {trial}: {text}"
            for trial, experiment_id in trials_noted
            if experiment_id == stored.id
            for text in notes[f"trial:{trial}"]
        ]
        lines += _notes_lines("Trial notes", trial_notes)
    launches = session.launches()
    if launches:
        names = {e.id: e.name for e in session.experiments()}
        lines += ["## Launches", "", "| launch | trial | experiment | verdict | note |"]
        lines += ["|---|---|---|---|---|"]
        lines += [
            f"| {launch.id} | {_cell(launch.trial_id)} | "
            f"{_cell(names.get(launch.experiment_id))} | "
            f"{_cell(launch.evidence.get('verdict'))} | {_cell(launch.note or None)} |"
            for launch in launches
        ]
        lines.append("")
    found = data["final_test"]
    if found is not None:
        lines += [
            "## Final test",
            "",
            f"Test {_cell(found['objective'])} {found['value']:.4g}: trial {found['trial']} "
            f"({_cell(found['experiment'])}), best checkpoint at step {found['checkpoint_step']}; "
            "evaluated once (PB-18).",
            "",
        ]
    return "\n".join(lines) + "\n"


def _notes_lines(title: str, texts: Sequence[str]) -> list[str]:
    """A titled list of notes (nothing when there are none)."""
    if not texts:
        return []
    return [f"{title}:", "", *(f"- {_cell(text)}" for text in texts), ""]


def _design_line(design: Mapping[str, Any]) -> str:
    """`scientific depth (1, 2, 3); nuisance learning_rate; fixed optimizer=adam, …` (PB-8);
    each role may be stored as a table or, in older designs, as a list of names."""
    parts = []
    for role in ("scientific", "nuisance", "fixed"):
        held = design.get(role) or {}
        if isinstance(held, Mapping):
            shown = [
                _role_entry(role, name, value) for name, value in held.items() if name != "when"
            ]
        else:
            shown = [_cell(name) for name in held]
        if shown:
            parts.append(f"{role} {', '.join(shown)}")
    return "; ".join(parts) or "—"


def _role_entry(role: str, name: str, value: Any) -> str:
    """One hyperparameter of a design role: a scientific one with its values, a fixed one
    with its value, a nuisance one by name (its range is in the study's space)."""
    if role == "fixed":
        return f"{_cell(name)}={_cell(value)}"
    if role == "scientific" and isinstance(value, list):
        return f"{_cell(name)} ({', '.join(_cell(v) for v in value)})"
    return _cell(name)


def _best_trial_line(study: str, row: dict[str, Any]) -> str:
    """`- study: trial N (value): name=value, …` with defaults marked or said to be unknown."""
    defaults = row["defaults"] or []
    params = {k.removeprefix("param."): v for k, v in row.items() if k.startswith("param.")}
    shown = ", ".join(
        f"{_cell(name)}={_cell(value)}" + (" (default)" if name in defaults else "")
        for name, value in params.items()
    )
    unknown = "; defaults not recorded" if row["defaults"] is None else ""
    value = f"{row['objective']} {_cell(row['best_value'])}"
    return f"- {_cell(study)}: trial {row['trial']} ({_cell(value)}): {shown}{unknown}"
