"""`Session`: the typed API over one session file. Records in, records out.

This is the only place that writes SQL against the file's tables. Writes take SQLite's
write lock up front (`BEGIN IMMEDIATE`) so that two processes never deadlock upgrading a
read lock, and the busy timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import math
import os
import re
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from tunebook.sessions.checks import damage
from tunebook.sessions.connection import create_database, open_database, read_only_reason
from tunebook.sessions.errors import BadInput, ReadOnlySession, SessionFileError
from tunebook.sessions.facts import WorkloadFacts
from tunebook.sessions.metrics import INSERT_METRIC, MetricsWriter, storable
from tunebook.sessions.records import (
    Checkpoint,
    CheckpointKind,
    Decision,
    DecisionKind,
    Event,
    Experiment,
    ExperimentStatus,
    Launch,
    Note,
    Probe,
    ProbeKind,
    RunnerInfo,
    Series,
    SessionInfo,
    Study,
    StudySummary,
    Trial,
    TrialStatus,
    now,
)
from tunebook.sessions.schema import SCHEMA_VERSION
from tunebook.sessions.version import __version__

SESSION_SUFFIX = ".tunebook"
_FIRST_TABLE = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
#: `meta` key: who created the session, as ``user@host``.
CREATED_BY = "created_by"


def user_at_host() -> str:
    """``user@host`` of this process (the login name as the environment or system says)."""
    try:
        user = getpass.getuser()
    except OSError:  # neither the environment nor the password database names the user
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class RunnerBusy(BadInput):
    """Another live runner already writes this session."""


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


def _load_value(text: str) -> Any:
    """A JSON column's value; damaged JSON is a SessionFileError, not a crash."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SessionFileError(
            f"the session file is damaged: a stored JSON value is invalid ({exc.msg})"
        ) from exc


def _load(text: str | None) -> dict[str, Any]:
    """A JSON object column (config, params, design …), checked to be an object."""
    if not text:
        return {}
    value = _load_value(text)
    if not isinstance(value, dict):
        raise SessionFileError(
            f"the session file is damaged: a stored JSON object is a {type(value).__name__}"
        )
    return value


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


class Session:
    """One open session file. Use `Session.create` or `Session.open`; close when done.

    A `Session` holds one SQLite connection and belongs to one thread; open another
    `Session` per thread or process (WAL lets readers run beside the writer).
    """

    def __init__(self, path: Path, db: Database, read_only: bool) -> None:
        self.path = path
        self.db = db
        self.read_only = read_only

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        workload: str,
        workload_config: Mapping[str, Any] | None = None,
        name: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> Session:
        """Create a new session file; refuses to overwrite anything at `path`.

        The file is built under a temporary name and renamed into place, so a crash
        never leaves a half-made session behind. The `meta` table records who created it
        (`created_by`, user@host) and any entries of `meta`.
        """
        path = cls.check_new_path(path)
        _remove_stale_partials(path)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        db = create_database(partial)
        try:
            with contextlib.closing(db.conn):
                with db.conn:
                    db.execute(
                        "INSERT INTO session (id, name, workload, workload_config, created_at) "
                        "VALUES (1, ?, ?, ?, ?)",
                        [name or path.stem, workload, _dump(dict(workload_config or {})), now()],
                    )
                    db.execute(
                        "INSERT INTO meta (key, value) VALUES ('writer_version', ?)", [__version__]
                    )
                    db.conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        list({CREATED_BY: user_at_host(), **(meta or {})}.items()),
                    )
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            os.replace(partial, path)
        finally:
            for leftover in (partial, *(Path(f"{partial}{s}") for s in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
        session = cls.open(path)
        session.log_event("user", "session.created", f"created for workload {workload}")
        return session

    @staticmethod
    def check_new_path(path: str | os.PathLike[str]) -> Path:
        """Raise BadInput unless a new session file can be created at `path`."""
        path = Path(path)
        if path.exists():
            raise BadInput(f"'{path}' already exists; choose another path or open it")
        if not path.parent.is_dir():
            raise BadInput(f"cannot create '{path}': folder '{path.parent}' does not exist")
        return path

    @classmethod
    def open(cls, path: str | os.PathLike[str], read_only: bool = False) -> Session:
        """Open an existing session file (read-only on request or when not writable)."""
        path = Path(path)
        db, read_only = open_database(path, read_only=read_only)
        return cls(path, db, read_only)

    def close(self) -> None:
        """Close the connection; committed data is already on disk."""
        self.db.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (`BEGIN IMMEDIATE`); nested calls join the outer one."""
        if self.read_only:
            reason = read_only_reason(self.path) or "it is open read-only"
            raise ReadOnlySession(
                f"session file '{self.path}' cannot be written: {reason}; this command needs "
                "to write"
            )
        conn = self.db.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def _insert(self, table: str, row: Mapping[str, Any]) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())
            )
        return int(cursor.lastrowid or 0)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query; damage found while reading is a `SessionFileError` naming
        the file and the table (a busy file or an I/O error goes through unchanged)."""
        return self._described(sql, params)[1]

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        names, rows = self._described(sql, params)
        return [dict(zip(names, row)) for row in rows]

    def _described(
        self, sql: str, params: Sequence[Any]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cursor = self.db.conn.execute(sql, params)
            return [d[0] for d in cursor.description], cursor.fetchall()
        except sqlite3.DatabaseError as exc:
            table = _FIRST_TABLE.search(sql)
            error = damage(self.path, table.group(1) if table else "?", exc)
            if error is None:
                raise
            raise error from exc

    # -- the session row -------------------------------------------------------------------

    def info(self) -> SessionInfo:
        """Workload, creation time and versions of this file."""
        row = self._rows("SELECT * FROM session WHERE id = 1")
        if not row:
            raise SessionFileError(f"session file '{self.path}' has no session row")
        meta = dict(self._fetch("SELECT key, value FROM meta"))
        r = row[0]
        return SessionInfo(
            path=str(self.path),
            name=r["name"],
            workload=r["workload"],
            workload_config=_load(r["workload_config"]),
            created_at=r["created_at"],
            schema_version=int(meta.get("schema_version", SCHEMA_VERSION)),
            writer_version=meta.get("writer_version", ""),
            read_only=self.read_only,
            workload_facts=None
            if r["workload_facts"] is None
            else WorkloadFacts.from_json(r["workload_facts"]),
        )

    def meta_value(self, key: str) -> str | None:
        """One entry of the `meta` table, or None when the file has none."""
        row = self.db.conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Write one entry of the `meta` table."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def set_workload(self, workload: str, workload_config: Mapping[str, Any]) -> None:
        """Point the session at its workload anew (its files moved: `tunebook relocate`)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE session SET workload = ?, workload_config = ? WHERE id = 1",
                [workload, _dump(dict(workload_config))],
            )

    def record_workload_facts(self, facts: WorkloadFacts) -> None:
        """Store what `new` measured about the workload's data (split sizes, notes)."""
        with self.transaction() as conn:
            conn.execute("UPDATE session SET workload_facts = ? WHERE id = 1", (facts.to_json(),))

    # -- decisions ---------------------------------------------------------------------------

    def record_decision(
        self,
        kind: DecisionKind,
        value: Any,
        rationale: str = "",
        evidence: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Record a project-start decision; the newest of a kind is the one in force."""
        row = {
            "kind": DecisionKind(kind).value,
            "value": _dump(value),
            "rationale": rationale,
            "evidence": _dump(dict(evidence or {})),
            "stale": 0,
            "created_at": now(),
        }
        return self._decision(self._insert("decisions", row))

    def mark_stale(self, kind: DecisionKind, reason: str) -> None:
        """Flag the decisions of `kind` as stale (e.g. batch size after a model change, PB-3)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE decisions SET stale = 1, stale_reason = ? WHERE kind = ?",
                (reason, DecisionKind(kind).value),
            )

    def decisions(self) -> list[Decision]:
        """Every decision recorded, oldest first."""
        return [_decision(r) for r in self._rows("SELECT * FROM decisions ORDER BY id")]

    def decision(self, kind: DecisionKind) -> Decision | None:
        """The decision of `kind` in force, or None."""
        rows = self._rows(
            "SELECT * FROM decisions WHERE kind = ? ORDER BY id DESC LIMIT 1",
            [DecisionKind(kind).value],
        )
        return _decision(rows[0]) if rows else None

    def _decision(self, decision_id: int) -> Decision:
        return _decision(self._rows("SELECT * FROM decisions WHERE id = ?", [decision_id])[0])

    # -- probes ------------------------------------------------------------------------------

    def add_probe(
        self, kind: ProbeKind, config: Mapping[str, Any], results: Mapping[str, Any]
    ) -> Probe:
        """Store a measuring run with its raw results."""
        probe_id = self._insert(
            "probes",
            {
                "kind": ProbeKind(kind).value,
                "config": _dump(dict(config)),
                "results": _dump(dict(results)),
                "created_at": now(),
            },
        )
        return self.probes(probe_id=probe_id)[0]

    def update_probe(self, probe_id: int, **changes: Any) -> Probe:
        """Set top-level keys of a probe's results (its status, error, summary)."""
        with self.transaction():
            results = self.probe(probe_id).results
            results.update(changes)
            self._set_probe_results(probe_id, results)
        return self.probe(probe_id)

    def add_probe_point(self, probe_id: int, key: str, point: Mapping[str, Any]) -> Probe:
        """Store one measured unit of a probe under `key`; a key already stored is replaced,
        never repeated, so a probe resumed after a crash holds each measurement once."""
        with self.transaction():
            results = self.probe(probe_id).results
            points = dict(results.get("points", {}))
            index = points[key]["index"] if key in points else len(points)
            points[key] = {**point, "index": index}
            results["points"] = points
            self._set_probe_results(probe_id, results)
        return self.probe(probe_id)

    def _set_probe_results(self, probe_id: int, results: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE probes SET results = ? WHERE id = ?", (_dump(dict(results)), probe_id)
            )

    def probe(self, probe_id: int) -> Probe:
        """The probe with this id; BadInput when there is none."""
        found = self.probes(probe_id=probe_id)
        if not found:
            raise BadInput(f"session '{self.path}' has no probe {probe_id}")
        return found[0]

    def latest_probe(self, kind: ProbeKind) -> Probe | None:
        """The newest probe of `kind`, or None."""
        found = self.probes(kind)
        return found[-1] if found else None

    def probes(self, kind: ProbeKind | None = None, probe_id: int | None = None) -> list[Probe]:
        """Stored probes, oldest first, optionally of one kind."""
        sql, params = "SELECT * FROM probes WHERE 1=1", []
        if kind is not None:
            sql, params = sql + " AND kind = ?", [*params, ProbeKind(kind).value]
        if probe_id is not None:
            sql, params = sql + " AND id = ?", [*params, probe_id]
        return [
            Probe(
                id=r["id"],
                kind=ProbeKind(r["kind"]),
                config=_load(r["config"]),
                results=_load(r["results"]),
                created_at=r["created_at"],
            )
            for r in self._rows(sql + " ORDER BY id", params)
        ]

    # -- experiments -------------------------------------------------------------------------

    def add_experiment(
        self, name: str, goal: str, design: Mapping[str, Any], max_train_steps: int
    ) -> Experiment:
        """Create an experiment (a round with one goal, PB-5); names are unique."""
        if self._rows("SELECT id FROM experiments WHERE name = ?", [name]):
            raise BadInput(f"an experiment named '{name}' already exists in '{self.path}'")
        experiment_id = self._insert(
            "experiments",
            {
                "name": name,
                "goal": goal,
                "design": _dump(dict(design)),
                "max_train_steps": int(max_train_steps),
                "status": ExperimentStatus.DESIGNED.value,
                "created_at": now(),
            },
        )
        return self.experiment(experiment_id)

    def experiments(self) -> list[Experiment]:
        """All experiments, oldest first."""
        return [_experiment(r) for r in self._rows("SELECT * FROM experiments ORDER BY id")]

    def experiment(self, key: int | str) -> Experiment:
        """An experiment by id or name; BadInput naming the key when there is none."""
        column = "id" if isinstance(key, int) else "name"
        rows = self._rows(f"SELECT * FROM experiments WHERE {column} = ?", [key])
        if not rows:
            names = ", ".join(e.name for e in self.experiments()) or "none"
            raise BadInput(f"no experiment {key!r} in '{self.path}' (experiments: {names})")
        return _experiment(rows[0])

    def update_experiment(
        self,
        experiment_id: int,
        status: ExperimentStatus | None = None,
        conclusion: str | None = None,
    ) -> Experiment:
        """Move an experiment along (designed → running → finished → concluded)."""
        with self.transaction() as conn:
            if status is not None:
                conn.execute(
                    "UPDATE experiments SET status = ? WHERE id = ?",
                    (ExperimentStatus(status).value, experiment_id),
                )
            if conclusion is not None:
                conn.execute(
                    "UPDATE experiments SET conclusion = ? WHERE id = ?",
                    (conclusion, experiment_id),
                )
        return self.experiment(experiment_id)

    # -- studies -----------------------------------------------------------------------------

    def add_study(
        self,
        experiment_id: int,
        name: str,
        search_space: Mapping[str, Any],
        algorithm: str,
        budget: int,
        seed: int,
        objective_metric: str,
        objective_mode: str,
        fixed: Mapping[str, Any] | None = None,
    ) -> Study:
        """Create a study of an experiment."""
        study_id = self._insert(
            "studies",
            {
                "experiment_id": experiment_id,
                "name": name,
                "search_space": _dump(dict(search_space)),
                "algorithm": algorithm,
                "budget": int(budget),
                "seed": int(seed),
                "objective_metric": objective_metric,
                "objective_mode": objective_mode,
                "fixed": _dump(dict(fixed or {})),
                "created_at": now(),
            },
        )
        return self.study(study_id)

    def study(self, study_id: int) -> Study:
        """A study by id."""
        rows = self._rows("SELECT * FROM studies WHERE id = ?", [study_id])
        if not rows:
            raise BadInput(f"no study {study_id} in '{self.path}'")
        return _study(rows[0])

    def studies(self, experiment_id: int | None = None) -> list[Study]:
        """Studies, oldest first, optionally of one experiment."""
        if experiment_id is None:
            return [_study(r) for r in self._rows("SELECT * FROM studies ORDER BY id")]
        return [
            _study(r)
            for r in self._rows(
                "SELECT * FROM studies WHERE experiment_id = ? ORDER BY id", [experiment_id]
            )
        ]

    def study_summaries(self, experiment_id: int | None = None) -> list[StudySummary]:
        """Per-study counts by status and best finished value, in two queries."""
        studies = self.studies(experiment_id)
        counts: dict[int, dict[str, int]] = {s.id: {} for s in studies}
        for study_id, status, count in self._fetch(
            "SELECT study_id, status, COUNT(*) FROM trials GROUP BY study_id, status"
        ):
            if study_id in counts:
                counts[study_id][status] = count
        summaries = []
        for study in studies:
            order = "ASC" if study.objective_mode == "min" else "DESC"
            found = self._fetch(
                "SELECT id, best_value FROM trials WHERE study_id = ? AND status = ? "
                f"AND best_value IS NOT NULL ORDER BY best_value {order}, id LIMIT 1",
                (study.id, TrialStatus.COMPLETED.value),
            )
            best = found[0] if found else None
            summaries.append(
                StudySummary(
                    study=study,
                    counts=counts[study.id],
                    best_trial_id=best[0] if best else None,
                    best_value=best[1] if best else None,
                )
            )
        return summaries

    # -- trials ------------------------------------------------------------------------------

    def add_trial(
        self,
        study_id: int,
        params: Mapping[str, Any],
        init_seed: int,
        data_seed: int,
        sequence_index: int | None = None,
        reproduce: str = "",
        sampler: str | None = None,
    ) -> Trial:
        """Add a pending trial; its number is the next in the study, and the study's
        sequence index advances past `sequence_index` (default: the next index). `sampler`
        names the algorithm that chose its point."""
        with self.transaction() as conn:
            number, next_index = conn.execute(
                "SELECT (SELECT COALESCE(MAX(number), -1) + 1 FROM trials WHERE study_id = ?), "
                "next_index FROM studies WHERE id = ?",
                (study_id, study_id),
            ).fetchone()
            index = next_index if sequence_index is None else sequence_index
            trial_id = self._insert(
                "trials",
                {
                    "study_id": study_id,
                    "number": number,
                    "sequence_index": index,
                    "params": _dump(dict(params)),
                    "init_seed": int(init_seed),
                    "data_seed": int(data_seed),
                    "status": TrialStatus.PENDING.value,
                    "reproduce": reproduce,
                    "sampler": sampler,
                    "created_at": now(),
                },
            )
            conn.execute(
                "UPDATE studies SET next_index = MAX(next_index, ?) WHERE id = ?",
                (index + 1, study_id),
            )
        return self.trial(trial_id)

    def set_reproduce(self, trial_id: int, command: str) -> None:
        """Store the command that re-runs this trial headlessly (PB-24)."""
        with self.transaction() as conn:
            conn.execute("UPDATE trials SET reproduce = ? WHERE id = ?", (command, trial_id))

    def trial(self, trial_id: int) -> Trial:
        """A trial by id; BadInput naming the id when there is none."""
        rows = self._rows("SELECT * FROM trials WHERE id = ?", [trial_id])
        if not rows:
            raise BadInput(f"no trial {trial_id} in '{self.path}'")
        return _trial(rows[0])

    def trials(
        self,
        study_id: int | None = None,
        status: TrialStatus | Iterable[TrialStatus] | None = None,
        experiment_id: int | None = None,
    ) -> list[Trial]:
        """Trials in creation order, filtered by study, experiment and/or status."""
        sql, params = "SELECT * FROM trials WHERE 1=1", []
        if study_id is not None:
            sql, params = sql + " AND study_id = ?", [*params, study_id]
        if experiment_id is not None:
            sql += " AND study_id IN (SELECT id FROM studies WHERE experiment_id = ?)"
            params.append(experiment_id)
        if status is not None:
            statuses = [status] if isinstance(status, TrialStatus) else list(status)
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(TrialStatus(s).value for s in statuses)
        return [_trial(r) for r in self._rows(sql + " ORDER BY id", params)]

    def start_trial(self, trial_id: int) -> Trial:
        """pending → running; counts the attempt."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE trials SET status = ?, attempts = attempts + 1, started_at = ?, "
                "error = '' WHERE id = ?",
                (TrialStatus.RUNNING.value, now(), trial_id),
            )
        return self.trial(trial_id)

    def finish_trial(
        self,
        trial_id: int,
        status: TrialStatus,
        *,
        best_step: int | None = None,
        best_value: float | None = None,
        final_value: float | None = None,
        error: str = "",
        compute_seconds: float = 0.0,
        data_seconds: float = 0.0,
        writer: MetricsWriter | None = None,
    ) -> Trial:
        """running → completed | infeasible | failed, committing the writer's last
        metrics in the same transaction, and dropping the now useless resume state."""
        status = TrialStatus(status)
        if not status.is_finished():
            raise ValueError(f"finish_trial needs a finished status, not {status.value}")
        rows = writer.drain() if writer is not None else []
        try:
            self._finish(
                trial_id,
                status,
                rows,
                best_step,
                best_value,
                final_value,
                error,
                compute_seconds,
                data_seconds,
            )
        except BaseException:
            if writer is not None:
                writer.restore(rows)
            raise
        if writer is not None:
            writer.committed += len(rows)
        return self.trial(trial_id)

    def _finish(
        self,
        trial_id: int,
        status: TrialStatus,
        rows: list[tuple[int, str, int, float | None]],
        best_step: int | None,
        best_value: float | None,
        final_value: float | None,
        error: str,
        compute_seconds: float,
        data_seconds: float,
    ) -> None:
        with self.transaction() as conn:
            conn.executemany(INSERT_METRIC, rows)
            conn.execute(
                "UPDATE trials SET status = ?, best_step = ?, best_value = ?, final_value = ?, "
                "error = ?, compute_seconds = ?, data_seconds = ?, finished_at = ? WHERE id = ?",
                (
                    status.value,
                    best_step,
                    None if best_value is None else storable(best_value),
                    None if final_value is None else storable(final_value),
                    error,
                    compute_seconds,
                    data_seconds,
                    now(),
                    trial_id,
                ),
            )
            conn.execute(
                "DELETE FROM checkpoints WHERE trial_id = ? AND kind = ?",
                (trial_id, CheckpointKind.RESUME.value),
            )

    def release_trial(self, trial_id: int, reason: str = "") -> Trial:
        """running → pending (stopped or interrupted); it resumes from its checkpoint."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE trials SET status = ?, error = ? WHERE id = ? AND status = ?",
                (TrialStatus.PENDING.value, reason, trial_id, TrialStatus.RUNNING.value),
            )
        return self.trial(trial_id)

    def retry_trials(self, status: TrialStatus, study_ids: Iterable[int] | None = None) -> int:
        """Put trials of `status` (e.g. failed) back to pending, cleared (`reset_trial`).
        Returns how many."""
        wanted = None if study_ids is None else set(study_ids)
        ids = [t.id for t in self.trials(status=status) if wanted is None or t.study_id in wanted]
        with self.transaction():
            for trial_id in ids:
                self.reset_trial(trial_id)
        return len(ids)

    def reset_trial(self, trial_id: int) -> None:
        """Back to pending with no metrics, checkpoints or results: the next run starts it
        from scratch with the same hyperparameters and seeds."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM metrics WHERE trial_id = ?", (trial_id,))
            conn.execute("DELETE FROM checkpoints WHERE trial_id = ?", (trial_id,))
            conn.execute(
                "UPDATE trials SET status = ?, resume_step = NULL, best_step = NULL, "
                "best_value = NULL, final_value = NULL, error = '' WHERE id = ?",
                (TrialStatus.PENDING.value, trial_id),
            )

    def rewind_trial(self, trial_id: int) -> int | None:
        """Prepare an interrupted trial to resume: drop metrics logged after its resume
        checkpoint (they will be produced again). Returns the step it resumes from."""
        trial = self.trial(trial_id)
        with self.transaction() as conn:
            if trial.resume_step is None:
                conn.execute("DELETE FROM metrics WHERE trial_id = ?", (trial_id,))
                conn.execute(
                    "DELETE FROM checkpoints WHERE trial_id = ? AND kind = ?",
                    (trial_id, CheckpointKind.BEST.value),
                )
            else:
                conn.execute(
                    "DELETE FROM metrics WHERE trial_id = ? AND step > ?",
                    (trial_id, trial.resume_step),
                )
                conn.execute(
                    "DELETE FROM checkpoints WHERE trial_id = ? AND kind = ? AND step > ?",
                    (trial_id, CheckpointKind.BEST.value, trial.resume_step),
                )
        return trial.resume_step

    # -- metrics -----------------------------------------------------------------------------

    def metrics_writer(self, trial_id: int, flush_every: int = 4096) -> MetricsWriter:
        """A buffered writer for one trial's metric values."""
        return MetricsWriter(self, trial_id, flush_every)

    def trial_series(self, trial_id: int, names: Iterable[str] | None = None) -> dict[str, Series]:
        """All (or the named) series of one trial, each ordered by step."""
        sql, params = "SELECT series, step, value FROM metrics WHERE trial_id = ?", [trial_id]
        if names is not None:
            wanted = list(names)
            sql += f" AND series IN ({', '.join('?' for _ in wanted)})"
            params.extend(wanted)
        out: dict[str, tuple[list[int], list[float]]] = {}
        for name, step, value in self._fetch(sql + " ORDER BY series, step", params):
            steps, values = out.setdefault(name, ([], []))
            steps.append(step)
            values.append(_nan_if_none(value))
        return {name: Series(name, steps, values) for name, (steps, values) in out.items()}

    def series_names(self, trial_id: int) -> list[str]:
        """The names of the series a trial has logged."""
        rows = self._fetch(
            "SELECT DISTINCT series FROM metrics WHERE trial_id = ? ORDER BY series", (trial_id,)
        )
        return [r[0] for r in rows]

    def study_series(self, study_id: int, name: str) -> dict[int, Series]:
        """Series `name` of every trial in a study, keyed by trial id."""
        out: dict[int, tuple[list[int], list[float]]] = {}
        for trial_id, step, value in self._fetch(
            "SELECT trial_id, step, value FROM metrics WHERE series = ? AND trial_id IN "
            "(SELECT id FROM trials WHERE study_id = ?) ORDER BY trial_id, step",
            (name, study_id),
        ):
            steps, values = out.setdefault(trial_id, ([], []))
            steps.append(step)
            values.append(_nan_if_none(value))
        return {tid: Series(name, steps, values) for tid, (steps, values) in out.items()}

    def values_at_best_step(self, name: str, study_id: int | None = None) -> dict[int, float]:
        """Series `name` of every trial (optionally of one study) at its best step."""
        sql = (
            "SELECT t.id, m.value FROM trials t CROSS JOIN metrics m ON m.trial_id = t.id "
            "AND m.series = ? AND m.step = t.best_step WHERE t.best_step IS NOT NULL"
        )
        params: list[Any] = [name]
        if study_id is not None:
            sql, params = sql + " AND t.study_id = ?", [*params, study_id]
        return {tid: _nan_if_none(v) for tid, v in self._fetch(sql, params)}

    def latest_points(
        self, name: str, trial_ids: Iterable[int] | None = None
    ) -> dict[int, tuple[int, float]]:
        """The last `(step, value)` of series `name` of every trial (or of `trial_ids`)
        that logged it, keyed by trial id: one index seek per trial (the run monitor's
        "step" and "train loss")."""
        sql = (
            "SELECT t.id, m.step, m.value FROM trials t CROSS JOIN metrics m "
            "ON m.trial_id = t.id AND m.series = ? AND m.step = (SELECT MAX(step) "
            "FROM metrics WHERE trial_id = t.id AND series = m.series)"
        )
        out: dict[int, tuple[int, float]] = {}
        for chunk in _id_chunks(trial_ids):
            where = "" if chunk is None else f" WHERE t.id IN ({', '.join('?' * len(chunk))})"
            for tid, step, value in self._fetch(sql + where, [name, *(chunk or [])]):
                out[tid] = (step, _nan_if_none(value))
        return out

    def trial_marks(self) -> dict[int, tuple[str, float | None]]:
        """Every trial's `(status, finished_at)`, keyed by id, without decoding any JSON:
        what a reader compares to learn which trials changed since its last look."""
        rows = self._fetch("SELECT id, status, finished_at FROM trials")
        return {tid: (status, finished) for tid, status, finished in rows}

    def trials_by_id(self, trial_ids: Iterable[int]) -> list[Trial]:
        """The trials with these ids (those that exist), in id order."""
        found: list[Trial] = []
        for chunk in _id_chunks(trial_ids):
            marks = ", ".join("?" * len(chunk or []))
            found += [
                _trial(r) for r in self._rows(f"SELECT * FROM trials WHERE id IN ({marks})", chunk)
            ]
        return sorted(found, key=lambda t: t.id)

    def metric_count(self, trial_id: int | None = None) -> int:
        """How many metric values are stored (for one trial, or all)."""
        if trial_id is None:
            return self._fetch("SELECT COUNT(*) FROM metrics")[0][0]
        return self._fetch("SELECT COUNT(*) FROM metrics WHERE trial_id = ?", (trial_id,))[0][0]

    # -- checkpoints -------------------------------------------------------------------------

    def save_best_checkpoint(
        self, trial_id: int, step: int, value: float, data: bytes, keep: int, mode: str
    ) -> None:
        """Store a retrospective best checkpoint and keep only the best `keep` (PB-23)."""
        order = "ASC" if mode == "min" else "DESC"
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO checkpoints (trial_id, kind, step, value, data, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (trial_id, CheckpointKind.BEST.value, step, storable(value), data, now()),
            )
            conn.execute(
                "DELETE FROM checkpoints WHERE trial_id = ? AND kind = ? AND id NOT IN ("
                "SELECT id FROM checkpoints WHERE trial_id = ? AND kind = ? "
                f"ORDER BY value {order}, step LIMIT ?)",
                (trial_id, CheckpointKind.BEST.value, trial_id, CheckpointKind.BEST.value, keep),
            )

    def checkpoints(self, trial_id: int) -> list[Checkpoint]:
        """Metadata of a trial's stored checkpoints (best first, then the resume state)."""
        rows = self._rows(
            "SELECT id, trial_id, kind, step, value, length(data) AS size, created_at "
            "FROM checkpoints WHERE trial_id = ? ORDER BY kind, value, step",
            [trial_id],
        )
        return [
            Checkpoint(
                id=r["id"],
                trial_id=r["trial_id"],
                kind=CheckpointKind(r["kind"]),
                step=r["step"],
                value=r["value"],
                size=r["size"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    def checkpoint_data(self, checkpoint_id: int) -> bytes:
        """The raw bytes of a checkpoint (a torch state dict: load with weights_only=True)."""
        rows = self._fetch("SELECT data FROM checkpoints WHERE id = ?", (checkpoint_id,))
        if not rows:
            raise BadInput(f"no checkpoint {checkpoint_id} in '{self.path}'")
        return bytes(rows[0][0])

    def resume_state(self, trial_id: int) -> tuple[int, bytes] | None:
        """The trial's latest full training state `(step, bytes)`, if it has one."""
        rows = self._fetch(
            "SELECT step, data FROM checkpoints WHERE trial_id = ? AND kind = ? "
            "ORDER BY id DESC LIMIT 1",
            (trial_id, CheckpointKind.RESUME.value),
        )
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    # -- launches ----------------------------------------------------------------------------

    def add_launch(
        self,
        config: Mapping[str, Any],
        evidence: Mapping[str, Any],
        note: str = "",
        trial_id: int | None = None,
        experiment_id: int | None = None,
    ) -> Launch:
        """Record an adopted baseline with the evidence for it."""
        launch_id = self._insert(
            "launches",
            {
                "trial_id": trial_id,
                "experiment_id": experiment_id,
                "config": _dump(dict(config)),
                "evidence": _dump(dict(evidence)),
                "note": note,
                "created_at": now(),
            },
        )
        return next(launch for launch in self.launches() if launch.id == launch_id)

    def launches(self) -> list[Launch]:
        """The launch history, oldest first."""
        return [
            Launch(
                id=r["id"],
                trial_id=r["trial_id"],
                experiment_id=r["experiment_id"],
                config=_load(r["config"]),
                evidence=_load(r["evidence"]),
                note=r["note"],
                created_at=r["created_at"],
            )
            for r in self._rows("SELECT * FROM launches ORDER BY id")
        ]

    # -- the runner --------------------------------------------------------------------------

    def runner(self) -> RunnerInfo | None:
        """The runner row, alive or stale, or None if no runner ever registered."""
        rows = self._rows("SELECT * FROM runner WHERE id = 1")
        if not rows:
            return None
        r = rows[0]
        return RunnerInfo(
            pid=r["pid"],
            host=r["host"],
            started_at=r["started_at"],
            heartbeat=r["heartbeat"],
            detached=bool(r["detached"]),
            command=r["command"],
        )

    def claim_runner(self, stale_after: float, detached: bool = False, command: str = "") -> None:
        """Become the file's single writer, unless a live runner already is (RunnerBusy)."""
        with self.transaction() as conn:
            current = self.runner()
            if (
                current is not None
                and current.is_alive(stale_after)
                and not (current.pid == os.getpid() and current.host == socket.gethostname())
            ):
                raise RunnerBusy(
                    f"session '{self.path}' is already being run by process {current.pid} on "
                    f"{current.host} (heartbeat {now() - current.heartbeat:.0f} s ago)"
                )
            t = now()
            conn.execute(
                "INSERT OR REPLACE INTO runner (id, pid, host, started_at, heartbeat, detached, "
                "command) VALUES (1, ?, ?, ?, ?, ?, ?)",
                (os.getpid(), socket.gethostname(), t, t, int(detached), command),
            )

    def heartbeat(self) -> None:
        """Tell readers this runner is alive."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runner SET heartbeat = ? WHERE id = 1 AND pid = ?", (now(), os.getpid())
            )

    def release_runner(self) -> None:
        """Give up the writer role (on a clean exit)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM runner WHERE id = 1 AND pid = ?", (os.getpid(),))

    # -- the event log and notes -------------------------------------------------------------

    def log_event(
        self, actor: str, kind: str, message: str, data: Mapping[str, Any] | None = None
    ) -> None:
        """Append to the session's log (who did what, when)."""
        self._insert(
            "events",
            {
                "at": now(),
                "actor": actor,
                "kind": kind,
                "message": message,
                "data": _dump(dict(data or {})),
            },
        )

    def events(self, limit: int | None = None) -> list[Event]:
        """The newest `limit` events (all by default), oldest first."""
        sql = "SELECT * FROM events ORDER BY id DESC"
        rows = self._rows(sql + (" LIMIT ?" if limit else ""), [limit] if limit else [])
        return [
            Event(
                id=r["id"],
                at=r["at"],
                actor=r["actor"],
                kind=r["kind"],
                message=r["message"],
                data=_load(r["data"]),
            )
            for r in reversed(rows)
        ]

    def trial_where(self, trial_id: int) -> str:
        """Where the trial's latest attempt trained (its worker and device, as the runner
        logged it when the trial started); empty when never logged."""
        row = self.db.execute(
            "SELECT data FROM events WHERE kind = 'trial.started' "
            "AND json_extract(data, '$.trial') = ? ORDER BY id DESC LIMIT 1",
            [trial_id],
        ).fetchone()
        return "" if row is None else str(_load(row[0]).get("where", ""))

    def add_note(self, target: str, text: str) -> Note:
        """Attach a note to `target` ('session', 'experiment:3', 'trial:12', …)."""
        note_id = self._insert("notes", {"at": now(), "target": target, "text": text})
        return next(n for n in self.notes() if n.id == note_id)

    def notes(self, target: str | None = None) -> list[Note]:
        """Notes, oldest first, optionally for one target."""
        sql, params = "SELECT * FROM notes", []
        if target is not None:
            sql, params = sql + " WHERE target = ?", [target]
        return [
            Note(id=r["id"], at=r["at"], target=r["target"], text=r["text"])
            for r in self._rows(sql + " ORDER BY id", params)
        ]

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file ('ok' when sound)."""
        return self.db.conn.execute("PRAGMA integrity_check").fetchone()[0]


def _id_chunks(ids: Iterable[int] | None, size: int = 500) -> Iterator[list[int] | None]:
    """`ids` in lists of at most `size` (SQLite bounds a statement's parameters); one None
    for "all" when `ids` is None, nothing for no ids."""
    if ids is None:
        yield None
        return
    wanted = list(ids)
    for start in range(0, len(wanted), size):
        yield wanted[start : start + size]


def _remove_stale_partials(path: Path) -> None:
    """Delete what a killed `new` of `path` left behind: its `.NAME.PID.partial` file (and
    SQLite's files beside it) whose process no longer exists."""
    leftover_name = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.partial(-wal|-shm|-journal)?")
    for leftover in path.parent.iterdir():
        match = leftover_name.fullmatch(leftover.name)
        if match and not _process_exists(int(match.group(1))):
            leftover.unlink(missing_ok=True)


def _process_exists(pid: int) -> bool:
    """True while a process with this id exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _decision(r: Mapping[str, Any]) -> Decision:
    return Decision(
        id=r["id"],
        kind=DecisionKind(r["kind"]),
        value=_load_value(r["value"]),
        rationale=r["rationale"],
        evidence=_load(r["evidence"]),
        stale=bool(r["stale"]),
        stale_reason=r["stale_reason"],
        created_at=r["created_at"],
    )


def _experiment(r: Mapping[str, Any]) -> Experiment:
    return Experiment(
        id=r["id"],
        name=r["name"],
        goal=r["goal"],
        design=_load(r["design"]),
        max_train_steps=r["max_train_steps"],
        status=ExperimentStatus(r["status"]),
        conclusion=r["conclusion"],
        created_at=r["created_at"],
    )


def _study(r: Mapping[str, Any]) -> Study:
    return Study(
        id=r["id"],
        experiment_id=r["experiment_id"],
        name=r["name"],
        search_space=_load(r["search_space"]),
        algorithm=r["algorithm"],
        budget=r["budget"],
        seed=r["seed"],
        objective_metric=r["objective_metric"],
        objective_mode=r["objective_mode"],
        fixed=_load(r["fixed"]),
        next_index=r["next_index"],
        created_at=r["created_at"],
    )


def _trial(r: Mapping[str, Any]) -> Trial:
    return Trial(
        id=r["id"],
        study_id=r["study_id"],
        number=r["number"],
        params=_load(r["params"]),
        init_seed=r["init_seed"],
        data_seed=r["data_seed"],
        sequence_index=r["sequence_index"],
        status=TrialStatus(r["status"]),
        sampler=r["sampler"],
        best_step=r["best_step"],
        best_value=r["best_value"],
        final_value=r["final_value"],
        error=r["error"],
        reproduce=r["reproduce"],
        attempts=r["attempts"],
        resume_step=r["resume_step"],
        compute_seconds=r["compute_seconds"],
        data_seconds=r["data_seconds"],
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
    )
