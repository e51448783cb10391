"""The measurements probes are made of, as they run inside a worker process.

Each function takes a JSON-able payload and the worker's stop event (set too once its runner
is gone: `worker.StopOrRunnerGone`) and returns a JSON-able dict; none raises for a
measurement's own failure (it comes back as `status: failed`, or `out_of_memory`). A stopped
measurement (asked to stop, or its runner died) returns `{"stopped": True}` and is measured
again when the probe resumes. They use the same training loop as every trial, so a probe
measures what the experiments will run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import resource
import statistics
import sys
import time
from collections.abc import Mapping
from typing import Any

import torch

from tunebook.core.execution.trial_config import config_from_hparams
from tunebook.core.execution.trial_task import OOM_MARKERS, cached_workload, describe_error
from tunebook.core.training import MemoryReporter, TrainingStatus, train_trial
from tunebook.core.training.loop import evaluate, split_hparams
from tunebook.core.training.state import from_bytes
from tunebook.core.workloads.base import split_length, split_tensors

#: Steps trained before timing starts (allocator, caches, lazy initialisation).
WARMUP_STEPS = 5
#: The batch-size probe's last size leaves at least this many steps per epoch: a batch of
#: most of the training split makes every step see nearly the same examples.
STEPS_PER_EPOCH = 4


def _workload_and_config(payload: Mapping[str, Any], **settings: Any) -> tuple[Any, Any]:
    workload = _workload(payload)
    config = config_from_hparams(
        workload,
        payload["hparams"],
        max_train_steps=int(payload["max_train_steps"]),
        settings={"checkpoint_every": 0, "keep_best": 1, **settings},
        objective=tuple(payload["objective"]) if payload.get("objective") else None,
        init_seed=int(payload.get("init_seed", 0)),
        data_seed=int(payload.get("data_seed", 0)),
        threads=int(payload.get("threads", 1)),
        device=payload.get("device", "cpu"),
    )
    return workload, config


def train_unit(payload: Mapping[str, Any], stop: Any) -> dict[str, Any]:
    """Train one short run and return its curves: the per-step training loss and unclipped
    gradient norm (PB-31), and the objective on the validation split and on a fixed subset
    of the training split (`eval_train_examples`) at each evaluation."""
    try:
        workload, config = _workload_and_config(payload, eval_every=int(payload["eval_every"]))
        config = dataclasses.replace(
            config, eval_train_examples=int(payload.get("eval_train_examples", 0))
        )
        reporter = MemoryReporter(
            config.objective_for(workload).mode, stop_event=stop
        )
        started = time.perf_counter()
        result = train_trial(workload, config, reporter)
        wall = time.perf_counter() - started
    except Exception as exc:
        return {"status": "failed", "error": describe_error(exc)}
    if result.status is TrainingStatus.STOPPED:
        return {"stopped": True}
    metric = config.objective_for(workload).metric
    seconds = result.data_seconds + result.compute_seconds
    return {
        "status": result.status.value,
        "reason": result.reason or "",
        "steps": result.steps_done,
        "best_value": result.best_value,
        "best_step": result.best_step,
        "final_value": result.final_value,
        "seconds_per_step": seconds / result.steps_done if result.steps_done else None,
        "wall_seconds": wall,
        "loss": [_finite(v) for _, v in reporter.step_series("train/loss")],
        "grad_norm": [_finite(v) for _, v in reporter.step_series("train/grad_norm")],
        "validation": _pairs(reporter.eval_series(f"validation/{metric}")),
        "train": _pairs(reporter.eval_series(f"train/{metric}"))
        if config.eval_train_examples
        else [],
    }


class _Timer(MemoryReporter):
    """Collects per-step timings and stops the loop once enough steps are timed."""

    def __init__(self, stop: Any, min_steps: int, min_seconds: float, max_steps: int) -> None:
        super().__init__(stop_event=stop)
        self.min_steps, self.min_seconds, self.max_steps = min_steps, min_seconds, max_steps
        self.times: list[tuple[float, float]] = []  # (data, compute) per timed step

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        self.last_step = step
        if step > WARMUP_STEPS:
            self.times.append((values["time/data"], values["time/compute"]))

    def enough(self) -> bool:
        timed = sum(d + c for d, c in self.times)
        n = len(self.times)
        return n >= self.max_steps or (n >= self.min_steps and timed >= self.min_seconds)

    def should_stop(self) -> bool:
        return self.enough() or super().should_stop()


def throughput_unit(payload: Mapping[str, Any], stop: Any) -> dict[str, Any]:
    """Time training steps at one batch size (PB-3, PB-21): after `WARMUP_STEPS` warm-up
    steps, at least `min_steps` steps and `min_seconds` seconds. Returns examples/s, the
    median time per step and its spread, the data-wait share and the peak memory; a size
    that does not fit comes back `out_of_memory` (CUDA OOM, or the CPU memory budget)."""
    batch_size = int(payload["hparams"]["batch_size"])
    device = payload.get("device", "cpu")
    budget_mb = payload.get("memory_budget_mb")
    try:
        workload, config = _workload_and_config(payload, eval_every=0)
        examples = split_length(workload.splits(config.data_seed).train)
        if batch_size * STEPS_PER_EPOCH > examples:
            return {
                "status": "too_large",
                "error": f"batch size {batch_size} leaves fewer than {STEPS_PER_EPOCH} steps "
                f"per epoch of the {examples} training examples",
            }
        baseline_mb = _memory_baseline_mb(device)
        timer = _Timer(
            stop,
            int(payload["min_steps"]),
            float(payload["min_seconds"]),
            payload["max_steps"],
        )
        train_trial(workload, config, timer)
    except Exception as exc:
        if _is_out_of_memory(exc):
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
            return {"status": "out_of_memory", "error": describe_error(exc)}
        return {"status": "failed", "error": describe_error(exc)}
    if not timer.enough():
        return {"stopped": True}
    peak_mb = _peak_memory_mb(device) - baseline_mb
    steps = [d + c for d, c in timer.times]
    median = statistics.median(steps)
    quartiles = statistics.quantiles(steps, n=4) if len(steps) > 1 else [median] * 3
    point = {
        "status": "ok",
        "batch_size": batch_size,
        "steps_timed": len(steps),
        "seconds_per_step": median,
        "examples_per_second": batch_size / median,
        "spread": (quartiles[2] - quartiles[0]) / median,
        "data_share": sum(d for d, _ in timer.times) / sum(steps),
        "peak_memory_mb": peak_mb,
    }
    if budget_mb is not None and not device.startswith("cuda") and peak_mb > budget_mb:
        return {
            **point,
            "status": "out_of_memory",
            "error": (
                f"peak memory {peak_mb:.0f} MB exceeds the memory budget of {budget_mb:.0f} MB"
            ),
        }
    return point


def chance_unit(payload: Mapping[str, Any], stop: Any) -> dict[str, Any]:
    """The objective of a predictor that ignores the inputs (PB-4), computed from the data."""
    try:
        workload = _workload(payload)
        value = workload.chance_baseline()
    except Exception as exc:
        return {"status": "failed", "error": describe_error(exc)}
    objective = workload.objective
    return {
        "status": "ok",
        "chance": value,
        "metric": objective.metric,
        "mode": objective.mode,
        "task": workload.task,
    }


def _workload(payload: Mapping[str, Any]) -> Any:
    config = json.dumps(payload["workload_config"], sort_keys=True)
    return cached_workload(payload["workload"], config)


def _memory_baseline_mb(device: str) -> float:
    """Start measuring one batch size's memory; returns what its peak is counted from.

    On CUDA the allocator's peak is reset and counts from zero (the model included). On a
    CPU the process's resident peak (VmHWM) is reset to its current resident set, which is
    returned: the size's peak is what its training added to what the process held. Where
    the peak cannot be reset (no Linux /proc), the peak so far is returned: sizes measured
    in increasing order then read as the growth of the process's peak.
    """
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
        return 0.0
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # Linux >= 4.0: reset VmHWM to the current VmRSS
        return _proc_status_mb("VmRSS")
    except (OSError, ValueError):
        return _peak_memory_mb(device)


def _peak_memory_mb(device: str) -> float:
    """The peak memory since the last reset: CUDA's allocator peak, or this process's peak
    resident set (VmHWM, else the lifetime peak from getrusage)."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        return _proc_status_mb("VmHWM")
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _proc_status_mb(field: str) -> float:
    """One `kB` field of /proc/self/status (VmRSS, VmHWM) in MB; ValueError if absent."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/self/status has no {field}")


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return any(marker in str(exc).lower() for marker in OOM_MARKERS)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _pairs(series: list[tuple[int, float]]) -> list[list[float | None]]:
    return [[step, _finite(value)] for step, value in series]


def final_test_unit(payload: Mapping[str, Any], stop: Any) -> dict[str, Any]:
    """Evaluate one stored checkpoint on the workload's test split, and on its validation
    split to check it is the model the session recorded (PB-18). The checkpoint is read
    from the session file (read-only) and loaded with `weights_only=True`."""
    from tunebook.sessions import Session

    try:
        workload, config = _workload_and_config(payload, eval_every=0)
        splits = workload.splits(config.data_seed)
        if splits.test is None:
            error = f"workload {workload.ref!r} has no test split"
            return {"status": "no_test_split", "error": error}
        with Session.open(payload["session"], read_only=True) as session:
            state = from_bytes(session.checkpoint_data(int(payload["checkpoint"])))
        architecture, _, _ = split_hparams(workload, config.optimizer, config.hparams)
        model = workload.build_model(architecture).to(config.device)
        model.load_state_dict(state)
        results = {}
        for name, split in (("test", splits.test), ("validation", splits.validation)):
            tensors = [t.to(config.device) for t in split_tensors(split)]
            results[name] = evaluate(workload, model, tensors, config.batch_size, name)
    except Exception as exc:
        return {"status": "failed", "error": describe_error(exc)}
    return {"status": "ok", **results}
