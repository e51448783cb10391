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
from typing import Any

from tunebook.sessions.records import TrialStatus, now
from tunebook.sessions.store import Session

EXPORT_FORMATS = ("csv", "json", "md")
RUNNER_STALE_AFTER = 30.0  # seconds without a heartbeat before a runner counts as dead


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
    for experiment in session.experiments():
        studies = []
        for summary in (s for s in summaries if s.study.experiment_id == experiment.id):
            for status, count in summary.counts.items():
                totals[status] = totals.get(status, 0) + count
            studies.append(
                {
                    "id": summary.study.id,
                    "name": summary.study.name,
                    "algorithm": summary.study.algorithm,
                    "budget": summary.study.budget,
                    "finished": summary.finished,
                    "counts": {s.value: summary.counts.get(s.value, 0) for s in TrialStatus},
                    "objective": {
                        "metric": summary.study.objective_metric,
                        "mode": summary.study.objective_mode,
                    },
                    "best_trial": summary.best_trial_id,
                    "best_value": _finite(summary.best_value),
                }
            )
        experiments.append(
            {
                "id": experiment.id,
                "name": experiment.name,
                "goal": experiment.goal,
                "status": experiment.status.value,
                "max_train_steps": experiment.max_train_steps,
                "studies": studies,
            }
        )
    return {
        "path": info.path,
        "name": info.name,
        "workload": {"ref": info.workload, "config": info.workload_config},
        "schema_version": info.schema_version,
        "writer_version": info.writer_version,
        "read_only": info.read_only,
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
    }


def _latest_decisions(session: Session) -> list[Any]:
    latest: dict[str, Any] = {}
    for decision in session.decisions():
        latest[decision.kind.value] = decision
    return list(latest.values())


def trial_rows(session: Session) -> list[dict[str, Any]]:
    """One flat row per trial with its experiment, study, parameters and outcome."""
    experiments = {e.id: e for e in session.experiments()}
    studies = {s.id: s for s in session.studies()}
    rows = []
    for trial in session.trials():
        study = studies[trial.study_id]
        row: dict[str, Any] = {
            "experiment": experiments[study.experiment_id].name,
            "study": study.name,
            "trial": trial.id,
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
        }
        row.update({f"param.{k}": v for k, v in sorted(study.fixed.items())})
        row.update({f"param.{k}": v for k, v in sorted(trial.params.items())})
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


def export_text(session: Session, fmt: str) -> str:
    """The session as CSV (one row per trial), JSON (everything) or Markdown (a report)."""
    if fmt == "json":
        return to_json(export_data(session))
    if fmt == "csv":
        rows = trial_rows(session)
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns or ["trial"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt == "md":
        return _markdown(session)
    raise ValueError(f"unknown export format {fmt!r}")


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(session: Session) -> str:
    data = status_data(session)
    lines = [
        f"# tunebook session: {data['name']}",
        "",
        f"- File: `{data['path']}`",
        f"- Workload: `{data['workload']['ref']}`",
        f"- Trials: {data['trials']['total']} "
        f"({', '.join(f'{k} {v}' for k, v in data['trials'].items() if k != 'total' and v)})",
        "",
    ]
    if data["decisions"]:
        lines += ["## Decisions", "", "| decision | value | stale |", "|---|---|---|"]
        lines += [
            f"| {d['kind']} | {_cell(d['value'])} | {'yes' if d['stale'] else 'no'} |"
            for d in data["decisions"]
        ]
        lines.append("")
    rows = trial_rows(session)
    for experiment in data["experiments"]:
        lines += [
            f"## Experiment: {experiment['name']}",
            "",
            f"Goal: {experiment['goal'] or '—'}  ",
            f"Status: {experiment['status']}, max_train_steps {experiment['max_train_steps']}",
            "",
            "| study | algorithm | finished/budget | objective | best value | best trial |",
            "|---|---|---|---|---|---|",
        ]
        for study in experiment["studies"]:
            objective = f"{study['objective']['metric']} ({study['objective']['mode']})"
            lines.append(
                f"| {_cell(study['name'])} | {study['algorithm']} | "
                f"{study['finished']}/{study['budget']} | {objective} | "
                f"{_cell(study['best_value'])} | {_cell(study['best_trial'])} |"
            )
        best_ids = {s["best_trial"] for s in experiment["studies"]} - {None}
        reproduce = [r for r in rows if r["trial"] in best_ids and r["reproduce"]]
        if reproduce:
            lines += ["", "Reproduce the best trials:", ""]
            lines += [f"- trial {r['trial']}: `{r['reproduce']}`" for r in reproduce]
        lines.append("")
    return "\n".join(lines) + "\n"
