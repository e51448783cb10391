"""The Workload API: what is trained and evaluated, never how (PB-1).

A workload declares its data splits, a model *family* (architecture hyperparameters with
defaults), a loss returned as a sum plus an example count, evaluation metrics as sums and
counts, and the objective. tunebook owns the training loop, so every workload gets the
playbook's instrumentation (gradient norms, exact evaluation, best-N checkpoints) for free.
The shape follows mlcommons algoperf's ``spec.py``.

A minimal user workload::

    class Spirals(Workload):
        hparams = (HParam("width", 64, "int"),)

        def splits(self, data_seed):
            return Splits(train=(x_train, y_train), validation=(x_val, y_val))

        def model(self, hparams):
            return nn.Sequential(nn.Linear(2, hparams["width"]), nn.ReLU(),
                                 nn.Linear(hparams["width"], 3))

and it is referenced as ``path/to/spirals.py:Spirals``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset, default_collate

from tunebook.sessions.errors import BadInput

Task = Literal["classification", "regression", "language_model"]
HParamKind = Literal["int", "float", "categorical", "bool"]
SplitData = Dataset | tuple[Tensor, ...]

TASKS: tuple[str, ...] = ("classification", "regression", "language_model")
#: A classification target with more distinct values than this share of the training rows
#: (and more than `MANY_CLASSES`) looks like a quantity rather than a set of classes.
MANY_CLASSES_SHARE = 0.1
MANY_CLASSES = 10
#: What the notes suggest for a target that looks like a quantity.
REGRESSION_HINT = "create the session with -o task=regression"


class WorkloadError(BadInput):
    """A workload cannot be loaded or misbehaves; the message names its reference."""


@dataclass(frozen=True)
class HParam:
    """One declared architecture hyperparameter of a model family, with its default.

    ``kind`` is ``int``, ``float``, ``categorical`` (then ``choices`` lists the values)
    or ``bool``; ``help`` is the one-line text the model step shows.
    """

    name: str
    default: Any
    kind: HParamKind
    choices: tuple[Any, ...] | None = None
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float", "categorical", "bool"):
            raise ValueError(f"hyperparameter {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "categorical" and not self.choices:
            raise ValueError(f"hyperparameter {self.name!r}: categorical needs choices")
        self.coerce(self.default)

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this hyperparameter's kind, or raise BadInput saying why."""
        where = f"hyperparameter {self.name!r}"
        if self.kind == "categorical":
            if value not in self.choices:  # type: ignore[operator]
                options = ", ".join(map(str, self.choices or ()))
                raise BadInput(f"{where} must be one of {options}, got {value!r}")
            return value
        if self.kind == "bool":
            if isinstance(value, bool) or value in (0, 1):
                return bool(value)
            raise BadInput(f"{where} must be true or false, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise BadInput(f"{where} must be a finite number, got {value!r}")
        if self.kind == "int":
            if float(value) != int(value):
                raise BadInput(f"{where} must be an integer, got {value!r}")
            return int(value)
        return float(value)


@dataclass(frozen=True)
class Objective:
    """The metric a trial is judged by and its direction; looked up as ``validation/<metric>``."""

    metric: str = "error"
    mode: Literal["min", "max"] = "min"

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"objective mode must be 'min' or 'max', got {self.mode!r}")

    @property
    def key(self) -> str:
        """The evaluation series holding the objective, e.g. ``validation/error``."""
        return f"validation/{self.metric}"

    def better(self, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b`` in this direction."""
        return a < b if self.mode == "min" else a > b


@dataclass(frozen=True)
class Splits:
    """A workload's data: each split a ``Dataset`` or a tuple ``(inputs..., targets)``."""

    train: SplitData
    validation: SplitData
    test: SplitData | None = None


def split_tensors(split: SplitData, limit: int | None = None) -> tuple[Tensor, ...]:
    """Return a split as ``(inputs..., targets)`` tensors so the loop can index batches fast;
    with `limit`, only its first `limit` examples.

    Tuples of tensors and ``TensorDataset`` pass through; any other map-style dataset is
    materialized once by collating its items (no DataLoader worker processes).
    """
    if isinstance(split, TensorDataset):
        tensors: Sequence[Any] = split.tensors
    elif isinstance(split, tuple):
        tensors = split
    else:
        length = split_length(split)
        if limit is not None:
            length = min(length, limit)
        collated = default_collate([split[i] for i in range(length)])
        tensors = collated if isinstance(collated, (list, tuple)) else (collated,)
    if len(tensors) < 2 or not all(isinstance(t, Tensor) for t in tensors):
        raise BadInput("a split must hold (inputs..., targets) tensors, at least two of them")
    sizes = {int(t.shape[0]) for t in tensors}
    if len(sizes) != 1:
        raise BadInput(f"a split's tensors disagree on the number of examples: {sorted(sizes)}")
    return tuple(tensors) if limit is None else tuple(t[:limit] for t in tensors)


def split_length(split: SplitData) -> int:
    """The number of examples in a split, without materializing a dataset."""
    if isinstance(split, tuple):
        return int(split[0].shape[0]) if split and isinstance(split[0], Tensor) else 0
    try:
        return len(split)  # type: ignore[arg-type]
    except TypeError as exc:
        raise BadInput(
            f"a {type(split).__name__} split has no len(); use a map-style Dataset"
        ) from exc


def _chance_from_targets(
    task: str, metric: str, train_targets: Tensor, val_targets: Tensor
) -> float | None:
    """The objective of a data-only predictor: majority class, mean value, byte unigram."""
    if task == "classification" and metric in ("error", "loss"):
        counts = torch.bincount(train_targets.flatten().long())
        if metric == "error":
            return float((val_targets != counts.argmax()).double().mean())
        probs = counts.double() / counts.sum()
        return float(-torch.log(probs[val_targets.long()].clamp_min(1e-12)).mean())
    if task == "regression" and metric in ("mse", "loss"):
        mean = train_targets.double().mean(0)
        return float(((val_targets.double() - mean) ** 2).mean())
    if task == "language_model" and metric in ("loss", "bits_per_byte"):
        vocab = int(max(train_targets.max(), val_targets.max())) + 1
        counts = torch.bincount(train_targets.flatten().long(), minlength=vocab).double() + 1
        nats = float(-torch.log(counts / counts.sum())[val_targets.flatten().long()].mean())
        return nats / math.log(2) if metric == "bits_per_byte" else nats
    return None


class Workload(abc.ABC):
    """A task tunebook can tune: data, a model family, loss, metrics and objective.

    Subclasses set the class attributes and implement ``splits`` and ``model``; ``loss``
    and ``metrics`` have defaults for the three tasks. A workload that takes configuration
    (a CSV path, a sequence length) accepts it as keyword arguments in ``__init__`` and
    returns it from ``config()`` so a session can rebuild the same workload later.

    Attributes:
        name: short identifier (defaults to the class name).
        description: one line for listings (defaults to the docstring's first line).
        hparams: the declared architecture hyperparameters; they define the model family.
        task: ``classification`` (targets are class indices), ``regression`` (targets are
            real values) or ``language_model`` (targets are next-token indices).
        objective: the metric to optimize; defaults to ``error`` (min) for classification,
            ``mse`` (min) for regression and ``bits_per_byte`` (min) for language models.
        total_metrics: metric names reported as totals over the split rather than means
            (counts of correct examples, PB-22).
        path_options: the ``config()`` keys whose values are file or folder paths; a session
            stores them relative to its own folder so it works wherever it is moved.
    """

    name: ClassVar[str] = "workload"
    description: ClassVar[str] = ""
    hparams: ClassVar[tuple[HParam, ...]] = ()
    task: ClassVar[Task] = "classification"
    total_metrics: ClassVar[tuple[str, ...]] = ("correct",)
    path_options: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        if "description" not in cls.__dict__:
            cls.description = (cls.__doc__ or "").strip().split("\n")[0]
        if cls.task not in TASKS:
            raise TypeError(f"{cls.__name__}.task must be one of {', '.join(TASKS)}")
        names = [h.name for h in cls.hparams]
        if len(set(names)) != len(names):
            raise TypeError(f"{cls.__name__}.hparams declares a name twice: {names}")

    def __init__(self, **config: Any) -> None:
        """Accept no configuration; workloads that take some override this and ``config``."""
        if config:
            raise WorkloadError(
                f"workload {self.ref!r} takes no config, got: {', '.join(sorted(config))}"
            )

    @property
    def ref(self) -> str:
        """The reference the workload was loaded by (``file.py:Class``), else its name."""
        return getattr(self, "_ref", None) or self.name

    @property
    def objective(self) -> Objective:
        """The task's default objective; override with a class attribute ``objective = ...``."""
        metric = {"classification": "error", "regression": "mse"}.get(self.task, "bits_per_byte")
        return Objective(metric, "min")

    def config(self) -> dict[str, Any]:
        """The JSON-able keyword arguments that rebuild this workload (none by default)."""
        return {}

    @abc.abstractmethod
    def splits(self, data_seed: int) -> Splits:
        """Return the train, validation and optional test splits.

        Args:
            data_seed: the trial's data seed; built-ins ignore it (their data is fixed and
                the loop shuffles with this seed), a workload may use it for random splits.
        Returns:
            ``Splits`` whose parts are ``(inputs..., targets)`` tensor tuples or map-style
            datasets yielding such tuples. Build them once and cache: every trial calls this.
        """

    @abc.abstractmethod
    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """Build a freshly initialized model from the architecture hyperparameters.

        Args:
            hparams: every declared hyperparameter, defaults filled in and values coerced.
        Returns:
            an ``nn.Module`` called as ``model(*inputs)``; its parameters are initialized from
            the global torch RNG, which the loop seeds with the trial's init seed.
        """

    def loss(self, outputs: Tensor, targets: Tensor) -> tuple[Tensor, int]:
        """Return the loss SUMMED over the batch and the number of terms summed (PB-22).

        Training minimizes ``sum / count``; evaluation adds sums and counts over all
        batches, so a partial final batch weighs exactly its size. The default is cross
        entropy for classification and language models, squared error for regression.
        """
        if not isinstance(outputs, Tensor):
            raise WorkloadError(
                f"workload {self.ref!r}: the model returned {type(outputs).__name__}, not a tensor"
            )
        if self.task == "regression":
            if outputs.shape != targets.shape and outputs.shape == (*targets.shape, 1):
                outputs = outputs.squeeze(-1)
            if outputs.shape != targets.shape:
                raise WorkloadError(
                    f"workload {self.ref!r}: model output has shape {tuple(outputs.shape)}, "
                    f"expected {tuple(targets.shape)} like the regression targets"
                )
            return ((outputs - targets) ** 2).sum(), targets.numel()
        expected = (*targets.shape, "classes")
        if outputs.ndim != targets.ndim + 1 or outputs.shape[:-1] != targets.shape:
            raise WorkloadError(
                f"workload {self.ref!r}: model output has shape {tuple(outputs.shape)}, "
                f"expected {expected} for {self.task}"
            )
        if targets.ndim > 1:
            outputs, targets = outputs.flatten(0, -2), targets.flatten()
        return F.cross_entropy(outputs, targets, reduction="sum"), targets.numel()

    def metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, tuple[Any, int]]:
        """Return evaluation metrics as ``{name: (sum, count)}`` for one batch.

        Sums may be tensors (kept on device until the end of the evaluation) or numbers.
        The loop reports ``sum / count`` over the split, or the plain sum for names in
        ``total_metrics``. Defaults: classification ``loss``, ``error``, ``correct``;
        regression ``loss`` and ``mse``; language models ``loss`` (nats per token) and
        ``bits_per_byte`` (right for byte-level tokens).
        """
        total, count = self.loss(outputs, targets)
        if self.task == "regression":
            return {"loss": (total, count), "mse": (total, count)}
        if self.task == "language_model":
            return {"loss": (total, count), "bits_per_byte": (total / math.log(2), count)}
        wrong = (outputs.argmax(-1) != targets).sum()
        return {"loss": (total, count), "error": (wrong, count), "correct": (count - wrong, count)}

    def chance_baseline(self) -> float | None:
        """The objective's value for a predictor that ignores the inputs (PB-4), or None.

        Computed from the data: the majority training class's validation error, the
        validation MSE of the training mean, or a language model's byte-unigram entropy.
        """
        splits = self.splits(0)
        train_targets = split_tensors(splits.train)[-1]
        val_targets = split_tensors(splits.validation)[-1]
        return _chance_from_targets(self.task, self.objective.metric, train_targets, val_targets)

    def data_notes(self) -> list[str]:
        """Likely mistakes in the data, shown (never refused) when a session is created.

        The default notes a classification target with many distinct values (more than
        `MANY_CLASSES_SHARE` of the training rows): probably a quantity, for regression.
        Workloads may add their own; each note is one sentence.
        """
        if self.task != "classification":
            return []
        targets = split_tensors(self.splits(0).train)[-1]
        if targets.is_floating_point():
            return []
        rows, distinct = targets.numel(), int(torch.unique(targets).numel())
        if distinct <= max(MANY_CLASSES, MANY_CLASSES_SHARE * rows):
            return []
        return [
            f"the classification target has {distinct} distinct values in {rows} training "
            f"rows, more than {MANY_CLASSES_SHARE:.0%} of them; if it is a quantity, "
            f"{REGRESSION_HINT}"
        ]

    def resolve_hparams(self, hparams: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``hparams`` over the declared defaults, rejecting unknown names and kinds."""
        declared = {h.name: h for h in self.hparams}
        unknown = [name for name in hparams if name not in declared]
        if unknown:
            raise WorkloadError(
                f"hyperparameter {unknown[0]!r} is not declared by workload {self.ref!r} "
                f"(it has: {', '.join(declared) or 'none'})"
            )
        try:
            return {
                name: h.coerce(hparams[name]) if name in hparams else h.default
                for name, h in declared.items()
            }
        except BadInput as exc:
            raise WorkloadError(f"workload {self.ref!r}: {exc}") from exc

    def build_model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """``model()`` on resolved hyperparameters, with its failures named in one sentence."""
        resolved = self.resolve_hparams(hparams)
        try:
            model = self.model(resolved)
        except WorkloadError:
            raise
        except Exception as exc:
            raise WorkloadError(
                f"workload {self.ref!r}: model() raised {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(model, nn.Module):
            raise WorkloadError(
                f"workload {self.ref!r}: model() returned {type(model).__name__}, "
                "not a torch.nn.Module"
            )
        return model
