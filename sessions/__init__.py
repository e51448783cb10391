"""The session file: schema, records, queries. Imports neither torch nor textual.

Everything a tuning project produces lives in one SQLite file; `Session` is the only way
in or out, and it speaks in the frozen records of `tunebook.sessions.records`.
"""

from tunebook.sessions.errors import BadInput, ReadOnlySession, SessionFileError, TunebookError
from tunebook.sessions.facts import WorkloadFacts, below_one_example, describe_facts, one_example
from tunebook.sessions.metrics import MetricsWriter
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
    current_baseline,
)
from tunebook.sessions.schema import SCHEMA_VERSION
from tunebook.sessions.store import SESSION_SUFFIX, RunnerBusy, Session
from tunebook.sessions.version import __version__

__all__ = [
    "SCHEMA_VERSION",
    "SESSION_SUFFIX",
    "BadInput",
    "Checkpoint",
    "CheckpointKind",
    "Decision",
    "DecisionKind",
    "Event",
    "Experiment",
    "ExperimentStatus",
    "Launch",
    "MetricsWriter",
    "Note",
    "Probe",
    "ProbeKind",
    "ReadOnlySession",
    "RunnerBusy",
    "RunnerInfo",
    "Series",
    "Session",
    "SessionFileError",
    "SessionInfo",
    "Study",
    "StudySummary",
    "Trial",
    "TrialStatus",
    "TunebookError",
    "WorkloadFacts",
    "__version__",
    "below_one_example",
    "current_baseline",
    "describe_facts",
    "one_example",
]
