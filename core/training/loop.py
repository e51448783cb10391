"""The training loop every trial runs: tunebook owns how, the workload says what.

Step numbering is 1-based: step t is the t-th optimizer update (t = 1 … max_train_steps);
metrics logged at step t describe that update, evaluations and checkpoints at step t
come after it, and a resume state saved at step t continues with step t + 1.

Per step the loop reports ``train/loss`` (the batch mean), ``train/lr``,
``train/grad_norm`` (unclipped global L2 norm, PB-31), ``train/clipped`` (0/1),
``time/data`` and ``time/compute`` (seconds, PB-21). Every ``eval_every`` steps and at the
last step it reports ``validation/<metric>`` exactly over the whole split (sums and counts,
PB-22) plus ``validation/count``, keeps the best N checkpoints by the objective (PB-23) and
never stops early. A non-finite or exploding loss ends the trial as infeasible.
"""

from __future__ import annotations

import enum
import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from tunebook.core.training.optimizers import make_optimizer, optimizer_spec
from tunebook.core.training.reporter import TrialReporter
from tunebook.core.training.schedules import SCHEDULE_HPARAMS, Schedule
from tunebook.core.training.state import (
    STATE_VERSION,
    capture_rng,
    decode_state,
    restore_rng,
    to_bytes,
)
from tunebook.core.workloads.base import (
    Objective,
    Splits,
    Workload,
    WorkloadError,
    split_length,
    split_tensors,
)
from tunebook.core.workloads.loading import workload_class_name
from tunebook.sessions.errors import BadInput

# Settings that may differ between a trial and its resumption.
_RESUMABLE_CHANGES = (
    "hparams",
    "threads",
    "device",
    "checkpoint_every",
    "checkpoint_min_seconds",
)


class TrainingStatus(str, enum.Enum):
    """How a trial ended: ran all steps, diverged (a result, PB-11), or was stopped."""

    COMPLETED = "completed"
    INFEASIBLE = "infeasible"
    STOPPED = "stopped"


@dataclass(frozen=True)
class TrialConfig:
    """Everything that defines one training run besides the workload.

    Attributes:
        hparams: architecture hyperparameters (declared by the workload), optimizer
            hyperparameters (``OPTIMIZERS[optimizer].hparams``) and schedule ones
            (``SCHEDULE_HPARAMS``: schedule, warmup_steps, decay_start, final_lr_factor).
        optimizer: a name in ``OPTIMIZERS``.
        batch_size: training examples per step; a final partial batch of an epoch is
            dropped so every step sees the same batch size.
        max_train_steps: steps to run; fixed per experiment, never tuned (PB-19).
        eval_every: evaluate every this many steps and at the last step; 0 never evaluates.
        eval_batch_size: evaluation batch size; default 2 × batch_size (≥ batch size, PB-22).
        eval_train_examples: also evaluate the first this many training examples, reported
            as ``train/<metric>``; 0 skips it.
        keep_best: how many best checkpoints the reporter keeps (PB-23).
        checkpoint_every: save the full resume state every this many steps; 0 saves it
            only when the trial is stopped.
        checkpoint_min_seconds: skip a `checkpoint_every` save until this many seconds of
            the trial passed since the last one (or its start): a short trial is cheaper
            to re-run than to save; 0 saves at every `checkpoint_every` step.
        grad_clip: clip the global gradient norm to this value; None never clips.
        init_seed: seeds model initialization and in-model randomness (dropout).
        data_seed: seeds the order of training examples (PB-26).
        threads: ``torch.set_num_threads`` for the trial (restored afterwards); None keeps it.
        device: torch device the trial runs on.
        divergence_factor: the loss is exploding above this × max(first-step loss, 1).
        divergence_loss: an absolute loss threshold used instead of ``divergence_factor``.
        objective_metric, objective_mode: the experiment's objective when its spec names
            one (best checkpoints are chosen by it); None uses the workload's.
    """

    hparams: Mapping[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"
    batch_size: int = 64
    max_train_steps: int = 500
    eval_every: int = 100
    eval_batch_size: int | None = None
    eval_train_examples: int = 0
    keep_best: int = 1
    checkpoint_every: int = 0
    checkpoint_min_seconds: float = 0.0
    grad_clip: float | None = None
    init_seed: int = 0
    data_seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    divergence_factor: float = 1e3
    divergence_loss: float | None = None
    objective_metric: str | None = None
    objective_mode: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hparams", dict(self.hparams))
        positive = {"batch_size": self.batch_size, "max_train_steps": self.max_train_steps}
        positive["keep_best"] = self.keep_best
        if self.eval_batch_size is not None:
            positive["eval_batch_size"] = self.eval_batch_size
        if self.threads is not None:
            positive["threads"] = self.threads
        non_negative = {
            "eval_every": self.eval_every,
            "eval_train_examples": self.eval_train_examples,
            "checkpoint_every": self.checkpoint_every,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise BadInput(f"{name} must be a positive integer, got {value!r}")
        for name, value in non_negative.items():
            if not isinstance(value, int) or value < 0:
                raise BadInput(f"{name} must be a non-negative integer, got {value!r}")
        clip = self.grad_clip
        if clip is not None and not (
            isinstance(clip, (int, float)) and not isinstance(clip, bool) and 0 < clip < math.inf
        ):
            raise BadInput(f"grad_clip must be a positive number, got {clip!r}")
        if not (0 <= self.checkpoint_min_seconds < math.inf):  # also refuses NaN
            raise BadInput(
                "checkpoint_min_seconds must be a non-negative number, got "
                f"{self.checkpoint_min_seconds!r}"
            )
        if not self.divergence_factor > 1:
            raise BadInput(f"divergence_factor must exceed 1, got {self.divergence_factor!r}")
        if self.divergence_loss is not None and not self.divergence_loss > 0:
            raise BadInput(
                f"divergence_loss must be positive or None, got {self.divergence_loss!r}"
            )

    def objective_for(self, workload: Workload) -> Objective:
        """The objective best checkpoints are chosen by: the config's, else the workload's."""
        if self.objective_metric is None:
            return workload.objective
        return Objective(self.objective_metric, self.objective_mode or workload.objective.mode)

    @property
    def effective_eval_batch_size(self) -> int:
        """The evaluation batch size actually used."""
        return self.eval_batch_size or 2 * self.batch_size

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the config (the session stores it; the inverse is ``**``)."""
        return asdict(self)


@dataclass(frozen=True)
class TrialResult:
    """How a trial ended and its objective (the best evaluation, PB-12).

    ``best_step``/``best_value`` come from the best evaluation, ``final_value`` from the
    last one (None without evaluations). ``reason`` says why an infeasible trial was
    stopped. ``data_seconds``/``compute_seconds`` total the per-step timings.
    """

    status: TrainingStatus
    best_step: int | None = None
    best_value: float | None = None
    final_value: float | None = None
    reason: str | None = None
    steps_done: int = 0
    data_seconds: float = 0.0
    compute_seconds: float = 0.0


def split_hparams(
    workload: Workload, optimizer: str, hparams: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Sort a trial's hyperparameters into (architecture, optimizer, schedule) parts.

    Raises WorkloadError naming any hyperparameter that none of the three declares.
    """
    spec = optimizer_spec(optimizer)
    architecture = {h.name for h in workload.hparams}
    optimizer_names = set(spec.names)
    schedule_names = {h.name for h in SCHEDULE_HPARAMS}
    parts: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
    for name, value in hparams.items():
        if name in architecture:
            parts[0][name] = value
        elif name in optimizer_names:
            parts[1][name] = value
        elif name in schedule_names:
            parts[2][name] = value
        else:
            raise WorkloadError(
                f"hyperparameter {name!r} is not declared by workload {workload.ref!r} "
                f"(it has: {', '.join(h.name for h in workload.hparams) or 'none'}) and is "
                f"not one of optimizer {optimizer!r}'s ({', '.join(spec.names)}) or the "
                f"schedule's ({', '.join(sorted(schedule_names))})"
            )
    return parts


def _as_number(workload: Workload, name: str, value: Any) -> Any:
    """``value`` if it is a number or a one-element tensor, else a WorkloadError."""
    if isinstance(value, Tensor) and value.numel() == 1:
        return value.detach()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise WorkloadError(
        f"workload {workload.ref!r}: metric {name!r} returned {value!r}, not a number"
    )


def evaluate(
    workload: Workload, model: nn.Module, tensors: Sequence[Tensor], batch_size: int, prefix: str
) -> dict[str, float]:
    """Exact metrics of ``model`` over a whole split: sums and counts over all batches (PB-22).

    Returns ``{prefix/<metric>: value, prefix/count: examples}``; metric values are
    sum/count, or the sum for the workload's ``total_metrics``.
    """
    was_training = model.training
    model.eval()
    sums: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    examples = int(tensors[0].shape[0])
    try:
        with torch.no_grad():
            for start in range(0, examples, batch_size):
                batch = [t[start : start + batch_size] for t in tensors]
                try:
                    outputs = model(*batch[:-1])
                    metrics = workload.metrics(outputs, batch[-1])
                except WorkloadError:
                    raise
                except Exception as exc:
                    raise WorkloadError(
                        f"workload {workload.ref!r}: evaluation raised {type(exc).__name__}: {exc}"
                    ) from exc
                for name, pair in metrics.items():
                    if not (isinstance(pair, tuple) and len(pair) == 2):
                        raise WorkloadError(
                            f"workload {workload.ref!r}: metric {name!r} returned {pair!r}, "
                            "not a (sum, count) pair"
                        )
                    total = _as_number(workload, name, pair[0])
                    count = _as_number(workload, name, pair[1])
                    sums[name] = sums[name] + total if name in sums else total
                    counts[name] = counts[name] + count if name in counts else count
    finally:
        model.train(was_training)
    results = {f"{prefix}/count": float(examples)}
    for name, total in sums.items():
        total, count = float(total), float(counts[name])
        if name in workload.total_metrics:
            results[f"{prefix}/{name}"] = total
        else:
            results[f"{prefix}/{name}"] = total / count if count else math.nan
    return results


class _Trial:
    """One trial's live objects; ``run`` executes the loop."""

    def __init__(self, workload: Workload, config: TrialConfig, reporter: TrialReporter) -> None:
        self.workload, self.config, self.reporter = workload, config, reporter
        architecture, optimizer_hparams, schedule_hparams = split_hparams(
            workload, config.optimizer, config.hparams
        )
        try:
            self.schedule = Schedule.from_hparams(schedule_hparams, config.max_train_steps)
        except BadInput as exc:
            raise BadInput(f"trial config: {exc}") from exc
        settings = config.to_json()
        for name in _RESUMABLE_CHANGES:
            del settings[name]
        # What a resume state must match: values after defaults and coercion, so 2 and 2.0
        # or an omitted default compare equal.
        self.fingerprint = {
            "workload": workload_class_name(
                f"{type(workload).__module__}.{type(workload).__qualname__}"
            ),
            "workload config": json.dumps(workload.config(), sort_keys=True, default=str),
            "hyperparameters": json.dumps(
                [
                    workload.resolve_hparams(architecture),
                    optimizer_spec(config.optimizer).resolve(optimizer_hparams),
                    asdict(self.schedule),
                ],
                sort_keys=True,
            ),
            "settings": json.dumps(settings, sort_keys=True),
        }
        self.device = torch.device(config.device)
        splits = _splits(workload, config)
        self.train = self._tensors(splits.train, "training")
        self.validation = self._tensors(splits.validation, "validation")
        self.train_subset = [t[: config.eval_train_examples] for t in self.train]
        self.examples = int(self.train[0].shape[0])
        _check_batch_size(workload, config, self.examples)
        torch.manual_seed(config.init_seed)
        np.random.seed(config.init_seed % 2**32)
        random.seed(config.init_seed)
        self.model = workload.build_model(architecture).to(self.device)
        self.optimizer = make_optimizer(
            config.optimizer, self.model.parameters(), optimizer_hparams
        )
        self.base_lr = float(self.optimizer.param_groups[0]["lr"])
        self.generator = torch.Generator().manual_seed(config.data_seed)
        self.order = torch.empty(0, dtype=torch.int64)
        self.position = self.examples  # forces a fresh permutation at the first step
        self.step = 0
        self.first_loss: float | None = None
        self.best: list[tuple[float, int]] = []
        self.final_value: float | None = None
        self.seconds = [0.0, 0.0]  # data, compute
        self.last_saved = 0
        self.last_saved_at = time.monotonic()  # a resumed attempt counts from its own start

    def _tensors(self, split: Any, what: str) -> list[Tensor]:
        try:
            tensors = split_tensors(split)
        except BadInput as exc:
            raise WorkloadError(f"workload {self.workload.ref!r}: {what} split: {exc}") from exc
        return [t.to(self.device) for t in tensors]

    # --- resume state -------------------------------------------------------------------

    def state(self) -> bytes:
        """The full state after ``self.step``, as bytes."""
        return to_bytes(
            {
                "version": STATE_VERSION,
                "fingerprint": self.fingerprint,
                "step": self.step,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "rng": capture_rng(self.device),
                "data": {
                    "generator": self.generator.get_state(),
                    "order": self.order.cpu(),
                    "position": self.position,
                },
                "first_loss": self.first_loss,
                "best": [[value, step] for value, step in self.best],
                "final_value": self.final_value,
                "seconds": list(self.seconds),
            }
        )

    def restore(self, blob: bytes) -> None:
        """Continue from a state written by ``state`` for the same workload and config."""
        payload = decode_state(blob)
        saved = dict(payload.get("fingerprint", {}))
        saved["workload"] = workload_class_name(str(saved.get("workload")))  # older states
        different = [key for key, value in self.fingerprint.items() if saved.get(key) != value]
        if different:
            raise BadInput(
                "saved trial state belongs to a different trial "
                f"(its {' and '.join(different)} differ)"
            )
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        restore_rng(payload["rng"], self.device)
        data = payload["data"]
        self.generator.set_state(data["generator"])
        self.order = data["order"].to(self.device)
        self.position = data["position"]
        self.step = self.last_saved = payload["step"]
        self.first_loss = payload["first_loss"]
        self.best = [(value, step) for value, step in payload["best"]]
        self.final_value = payload["final_value"]
        self.seconds = list(payload["seconds"])

    # --- the loop -----------------------------------------------------------------------

    def result(self, status: TrainingStatus, reason: str | None = None) -> TrialResult:
        """The trial's outcome so far."""
        best_value, best_step = self.best[0] if self.best else (None, None)
        return TrialResult(
            status=status,
            best_step=best_step,
            best_value=best_value,
            final_value=self.final_value,
            reason=reason,
            steps_done=self.step,
            data_seconds=self.seconds[0],
            compute_seconds=self.seconds[1],
        )

    def divergence(self, loss: float, grad_norm: float) -> str | None:
        """Why the trial is infeasible after this step's loss and gradient norm, or None."""
        config = self.config
        if not math.isfinite(loss):
            return f"training loss is {loss} at step {self.step}"
        if not math.isfinite(grad_norm):
            return f"gradient norm is {grad_norm} at step {self.step}"
        if self.first_loss is None:
            self.first_loss = loss
        if config.divergence_loss is not None:
            limit, rule = config.divergence_loss, "divergence_loss"
        else:
            limit = config.divergence_factor * max(self.first_loss, 1.0)
            rule = f"{config.divergence_factor:g} × max(first-step loss, 1)"
        if loss > limit:
            return f"training loss {loss:.4g} at step {self.step} exceeds {limit:.4g} ({rule})"
        return None

    def run_evaluation(self) -> None:
        """Evaluate, report, and hand a checkpoint to the reporter if it is among the best."""
        config, workload = self.config, self.workload
        batch_size = config.effective_eval_batch_size
        values = evaluate(workload, self.model, self.validation, batch_size, "validation")
        if config.eval_train_examples:
            values.update(evaluate(workload, self.model, self.train_subset, batch_size, "train"))
        objective = config.objective_for(workload)
        _check_objective(workload, objective, values)
        self.reporter.log_eval(self.step, values)
        value = values[objective.key]
        self.final_value = value
        if not math.isfinite(value):
            return
        if len(self.best) >= config.keep_best and not objective.better(value, self.best[-1][0]):
            return
        self.best.append((value, self.step))
        self.best.sort(key=lambda e: (e[0] if objective.mode == "min" else -e[0], e[1]))
        del self.best[config.keep_best :]
        state = to_bytes({name: t.cpu() for name, t in self.model.state_dict().items()})
        self.reporter.save_best(self.step, value, state, config.keep_best)

    def save_state(self) -> None:
        """Hand the reporter the resume state after the current step."""
        self.reporter.save_state(self.step, self.state())
        self.last_saved = self.step
        self.last_saved_at = time.monotonic()

    def run(self) -> TrialResult:
        """Train from ``self.step`` to ``max_train_steps`` (or a stop, or divergence)."""
        config, workload, reporter = self.config, self.workload, self.reporter
        model, optimizer, train = self.model, self.optimizer, self.train
        batch_size, examples = config.batch_size, self.examples
        groups = optimizer.param_groups
        params = [p for p in model.parameters() if p.requires_grad]
        clip = config.grad_clip
        eval_every, checkpoint_every = config.eval_every, config.checkpoint_every
        checkpoint_min_seconds = config.checkpoint_min_seconds
        last_step = config.max_train_steps
        lr_of, base_lr = self.schedule.lr, self.base_lr
        current_lr = groups[0]["lr"]
        clock = time.perf_counter
        seeds: dict[int, Tensor] = {}
        model.train()
        while self.step < last_step:
            if reporter.should_stop():
                if self.step > self.last_saved:
                    self.save_state()
                return self.result(TrainingStatus.STOPPED)
            step = self.step = self.step + 1
            started = clock()
            if self.position + batch_size > examples:
                self.order = torch.randperm(examples, generator=self.generator).to(self.device)
                self.position = 0
            index = self.order[self.position : self.position + batch_size]
            self.position += batch_size
            batch = [t[index] for t in train]
            fetched = clock()
            lr = lr_of(step, base_lr)
            if lr != current_lr:
                for group in groups:
                    group["lr"] = lr
                current_lr = lr
            total, count = _batch_loss(workload, model, batch, step)
            optimizer.zero_grad(set_to_none=True)
            if type(count) is int:
                # Seeding backward with 1/count gives exactly the gradients of sum/count
                # without the division's forward and backward ops (~10 µs a step).
                seed = seeds.get(count)
                if seed is None:
                    seed = seeds[count] = torch.tensor(1.0 / count, dtype=total.dtype).to(
                        total.device
                    )
                total.backward(seed)
            else:
                total = total / count
                total.backward()
                count = 1
            if clip is None:
                norm = _total_norm([p.grad for p in params if p.grad is not None])
            else:
                norm = nn.utils.clip_grad_norm_(params, clip, foreach=True)
            optimizer.step()
            loss_value = total.item() / count  # the batch mean; one sync with the next line
            norm_value = norm.item()
            done = clock()
            self.seconds[0] += fetched - started
            self.seconds[1] += done - fetched
            reporter.log_step(
                step,
                {
                    "train/loss": loss_value,
                    "train/lr": lr,
                    "train/grad_norm": norm_value,
                    "train/clipped": 1.0 if clip is not None and norm_value > clip else 0.0,
                    "time/data": fetched - started,
                    "time/compute": done - fetched,
                },
            )
            reason = self.divergence(loss_value, norm_value)
            if reason is not None:
                return self.result(TrainingStatus.INFEASIBLE, reason)
            if eval_every and (step % eval_every == 0 or step == last_step):
                self.run_evaluation()
            if (
                checkpoint_every
                and step % checkpoint_every == 0
                and step < last_step
                and time.monotonic() - self.last_saved_at >= checkpoint_min_seconds
            ):
                self.save_state()
        return self.result(TrainingStatus.COMPLETED)


def _splits(workload: Workload, config: TrialConfig) -> Splits:
    """The workload's splits for the trial's data seed; a failure named in one sentence."""
    try:
        return workload.splits(config.data_seed)
    except WorkloadError:
        raise
    except Exception as exc:
        raise WorkloadError(
            f"workload {workload.ref!r}: splits() raised {type(exc).__name__}: {exc}"
        ) from exc


def _check_batch_size(workload: Workload, config: TrialConfig, examples: int) -> None:
    if examples < config.batch_size:
        raise BadInput(
            f"batch_size {config.batch_size} exceeds the {examples} training examples "
            f"of workload {workload.ref!r}"
        )


def _batch_loss(
    workload: Workload, model: nn.Module, batch: Sequence[Tensor], step: int
) -> tuple[Tensor, Any]:
    """The forward pass and the workload's (summed loss, count) on one training batch."""
    try:
        outputs = model(*batch[:-1])
    except Exception as exc:
        raise WorkloadError(
            f"workload {workload.ref!r}: the model's forward pass raised "
            f"{type(exc).__name__} at step {step}: {exc}"
        ) from exc
    try:
        return workload.loss(outputs, batch[-1])
    except WorkloadError:
        raise
    except Exception as exc:
        raise WorkloadError(
            f"workload {workload.ref!r}: loss() raised {type(exc).__name__} at step {step}: {exc}"
        ) from exc


def _check_objective(workload: Workload, objective: Objective, values: Mapping[str, float]) -> None:
    if objective.key not in values:
        names = ", ".join(sorted(k for k in values if k.startswith("validation/")))
        raise WorkloadError(
            f"workload {workload.ref!r}: objective {objective.key!r} is not among the "
            f"evaluated metrics ({names})"
        )


#: Examples of each split `check_step` uses: enough for batch norm, cheap for any model.
CHECK_EXAMPLES = 16


def check_step(workload: Workload, config: TrialConfig, examples: int = CHECK_EXAMPLES) -> None:
    """One forward and backward pass on the first `examples` training examples, then an
    evaluation on as many validation examples, as a trial would run them: a workload that
    cannot train (a wrong output shape, too few logits, a first layer of the wrong size, a
    missing objective metric) fails here in one sentence, before any trial is planned.

    No optimizer is built: constructing the first torch optimizer of a process imports
    torch._dynamo (seconds); `check_hparams` validates optimizer values on its own.
    Raises WorkloadError or BadInput.
    """
    architecture, _, schedule_hparams = split_hparams(workload, config.optimizer, config.hparams)
    Schedule.from_hparams(schedule_hparams, config.max_train_steps)
    splits = _splits(workload, config)
    try:
        _check_batch_size(workload, config, split_length(splits.train))
        train = split_tensors(splits.train, min(config.batch_size, examples))
        validation = split_tensors(splits.validation, examples)
    except WorkloadError:
        raise
    except BadInput as exc:
        raise WorkloadError(f"workload {workload.ref!r}: {exc}") from exc
    torch.manual_seed(config.init_seed)
    model = workload.build_model(architecture).to(config.device)
    model.train()
    train = [t.to(config.device) for t in train]
    total, count = _batch_loss(workload, model, train, 1)
    try:
        (total / count).backward()
    except Exception as exc:
        raise WorkloadError(
            f"workload {workload.ref!r}: the backward pass of the loss raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    validation = [t.to(config.device) for t in validation]
    values = evaluate(workload, model, validation, examples, "validation")
    _check_objective(workload, config.objective_for(workload), values)


def _total_norm(grads: list[Tensor]) -> Tensor:
    """The global L2 norm of ``grads`` without modifying them (what clip_grad_norm_ computes).

    ``torch._foreach_norm`` is what ``clip_grad_norm_`` itself uses; calling it directly
    skips the per-call device/dtype grouping of ``get_total_norm`` (~10 µs a step).
    """
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def train_trial(
    workload: Workload,
    config: TrialConfig,
    reporter: TrialReporter,
    resume_state: bytes | None = None,
) -> TrialResult:
    """Run one trial of ``workload`` under ``config``, reporting to ``reporter``.

    With ``resume_state`` (bytes the reporter received through ``save_state``) it continues
    after that state's step and, on CPU, reproduces an uninterrupted run's metrics exactly.
    Returns the trial's status and objective; raises WorkloadError when the workload's code
    fails or misbehaves and BadInput for an invalid config.
    """
    previous_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        trial = _Trial(workload, config, reporter)
        if resume_state is not None:
            trial.restore(resume_state)
        return trial.run()
    finally:
        if config.threads is not None:
            torch.set_num_threads(previous_threads)
