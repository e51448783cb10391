"""What a session records about its workload's data at `new`, and what it means for results.

The sizes of the splits are measured once, when the session is created (the workload is
loaded then anyway), and stored in the file so that `status` and the export can show them
without importing torch. With the validation size known, a difference between two
objective values that is smaller than one validation example can be told apart from a real
one (PB-11: an error rate measured on n examples moves in steps of 1/n).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from tunebook.sessions.errors import SessionFileError

#: Objective metrics that are a fraction of validation examples (a mean of 0/1 outcomes):
#: one example moves them by 1/n.
RATE_METRICS = frozenset({"error", "accuracy"})
#: Objective metrics that count validation examples: one example moves them by 1.
COUNT_METRICS = frozenset({"correct"})


@dataclass(frozen=True)
class WorkloadFacts:
    """The workload's data as measured at `new`: task, split sizes, classes, and the notes
    (likely mistakes) shown then."""

    task: str
    train_examples: int
    validation_examples: int
    test_examples: int | None = None
    #: Classification only: the number of classes the model predicts.
    classes: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        """JSON text for the session file."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WorkloadFacts:
        """Read `to_json`'s text back; a malformed value is a damaged file."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SessionFileError(
                f"the session file is damaged: its workload facts are malformed ({exc!r})"
            ) from None

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> WorkloadFacts:
        """The facts from their `asdict` shape (as in `status --json`)."""
        try:
            facts = cls(
                task=str(data["task"]),
                train_examples=int(data["train_examples"]),
                validation_examples=int(data["validation_examples"]),
                test_examples=_optional_int(data.get("test_examples")),
                classes=_optional_int(data.get("classes")),
                notes=tuple(str(note) for note in data.get("notes", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionFileError(
                f"the session file is damaged: its workload facts are malformed ({exc!r})"
            ) from None
        return facts


def _optional_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def one_example(metric: str, validation_examples: int) -> float | None:
    """How much one validation example moves `metric` (``error`` or ``validation/error``):
    1/n for rates, 1 for counts, None for metrics without such a step (losses, MSE)."""
    name = metric.removeprefix("validation/")
    if validation_examples < 1:
        return None
    if name in RATE_METRICS:
        return 1.0 / validation_examples
    if name in COUNT_METRICS:
        return 1.0
    return None


def below_one_example(a: float, b: float, metric: str, validation_examples: int) -> bool | None:
    """True when objective values `a` and `b` differ by less than one validation example
    (the difference is below what the validation split can measure), False when they differ
    by at least that, None when `metric` has no per-example step or a value is not finite."""
    step = one_example(metric, validation_examples)
    if step is None or not all(isinstance(v, (int, float)) for v in (a, b)):
        return None
    difference = abs(a - b)
    if difference != difference or difference == float("inf"):
        return None
    # Values are means of n outcomes: allow for float rounding when they are one step apart.
    return difference < step * (1 - 1e-9)


def describe_facts(facts: WorkloadFacts | None) -> str:
    """One line for people: the split sizes, or that a file from before v2 does not know."""
    if facts is None:
        return "split sizes: unknown (the session was created before tunebook recorded them)"
    sizes = [f"{facts.train_examples} training", f"{facts.validation_examples} validation"]
    if facts.test_examples:
        sizes.append(f"{facts.test_examples} test")
    return f"split sizes: {', '.join(sizes)} examples"
