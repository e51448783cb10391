"""The batch-size probe (PB-3, PB-21): the largest batch size that still buys speed.

Sizes double from a start (powers of two) until the memory ceiling: a CUDA out-of-memory
error on a GPU (caught; the probe goes on), on a CPU the memory budget (by default
`DEFAULT_BUDGET_SHARE` of the RAM available when the probe starts), or a size that leaves
fewer than four steps per epoch of the training split. Each size trains `WARMUP_STEPS`
untimed steps, then at least `min_steps` steps and `min_seconds` seconds, and reports the
median time per step with its spread (the interquartile range as a share of the median),
examples/s, peak memory and the share of each step spent waiting for data.

The rule (documented in the README): doubling the batch size "nearly doubles" throughput
when examples/s grow by at least `NEAR_DOUBLING` (×1.8); the probe reports the size from
which no doubling does any more (one noisy dip in between does not count): from there on
the pipeline has a bottleneck. The recommendation is the largest size reached by doublings
that each still gained at least `MIN_GAIN` (×1.1): past that, a bigger batch only costs
memory (and means re-tuning the other hyperparameters, PB-3). Two doublings in a row
without that gain end the probe early: larger sizes will not be faster.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunebook.core.execution.devices import checked_device, default_device
from tunebook.core.project_start.probe import (
    THROUGHPUT_UNIT,
    Points,
    ProbePlan,
    Unit,
    train_payload,
)
from tunebook.sessions import BadInput, DecisionKind, ProbeKind, Session

if TYPE_CHECKING:
    from tunebook.core.project_start.project import Project
    from tunebook.core.workloads import Workload


NEAR_DOUBLING = 1.8
MIN_GAIN = 1.1
NOISY_SPREAD = 0.5  # step times this spread out make the throughput unreliable
INPUT_BOUND_SHARE = 0.3  # a data wait above this share of a step flags the pipeline (PB-21)
DEFAULT_BUDGET_SHARE = 0.5
DEFAULT_START = 16
DEFAULT_MAX_SIZE = 2**16
NO_ACCUMULATION = (
    "Gradient accumulation is not offered: it runs the same number of examples per second as "
    "the smaller batch it accumulates, so it never trains faster, and it changes the batch "
    "size the other hyperparameters were tuned for (PB-3)."
)


def available_memory_mb() -> float:
    """The memory available to new processes now (Linux MemAvailable; else physical RAM)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


class BatchSizeProbe(ProbePlan):
    """Throughput by batch size, up to the memory ceiling."""

    kind = ProbeKind.BATCH_SIZE
    name = "batch-size"
    title = "Batch size"
    playbook = ("PB-3", "PB-21")
    decision = DecisionKind.BATCH_SIZE
    parallel = False

    def plan_config(
        self, session: Session, workload: Workload, project: Project, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        start = int(options.get("start") or DEFAULT_START)
        max_size = int(options.get("max_size") or DEFAULT_MAX_SIZE)
        if start < 1 or start & (start - 1):
            raise BadInput(f"--start must be a power of two, got {start}")
        if max_size < start:
            raise BadInput(f"--max-size must be at least --start ({start}), got {max_size}")
        device = checked_device(str(options.get("device") or default_device()))
        budget = options.get("memory_budget_mb")
        if budget is not None and not float(budget) > 0:
            raise BadInput(f"--memory-budget must be a positive number of MB, got {budget}")
        default_budget = budget is None and device == "cpu"
        if default_budget:
            budget = _unfinished_default_budget(session) or round(
                available_memory_mb() * DEFAULT_BUDGET_SHARE
            )
        return {
            "start": start,
            "max_size": max_size,
            "device": device,
            "memory_budget_mb": None if budget is None else float(budget),
            "default_budget": default_budget,
            "min_steps": int(options.get("min_steps") or 20),
            "min_seconds": float(options.get("min_seconds") or 1.0),
            "max_steps": int(options.get("max_steps") or 500),
            "hparams": project.hparams(learning_rate=0.0),
            "inputs": project.inputs(),
        }

    def next_units(self, config: Mapping[str, Any], points: Points) -> list[Unit]:
        measured = _measured(points)
        if measured and (measured[-1]["status"] != "ok" or _stalled(measured)):
            return []
        size = config["start"] * 2 ** len(measured)
        if size > config["max_size"]:
            return []
        payload = train_payload(
            config,
            {**config["hparams"], "batch_size": size},
            max_train_steps=10**7,
            memory_budget_mb=config["memory_budget_mb"],
            min_steps=config["min_steps"],
            min_seconds=config["min_seconds"],
            max_steps=config["max_steps"],
        )
        return [Unit(f"b{size}", THROUGHPUT_UNIT, payload)]

    def summarize(self, config: Mapping[str, Any], points: Points) -> dict[str, Any]:
        return analyse_batch_sizes(_measured(points), config)


def _unfinished_default_budget(session: Session) -> float | None:
    """The default memory budget an unfinished batch-size probe was planned with, if any.

    The default is a share of the memory available *now*, which changes from one run to the
    next: reusing it keeps the settings of a killed or stopped probe equal, so that the next
    run resumes it instead of starting over."""
    latest = session.latest_probe(ProbeKind.BATCH_SIZE)
    if latest is None or latest.status not in ("running", "stopped"):
        return None
    if not latest.config.get("default_budget"):
        return None
    return latest.config.get("memory_budget_mb")


def _measured(points: Points) -> list[dict[str, Any]]:
    """The points in size order, each with its size."""
    rows = [{**p, "batch_size": int(k[1:])} for k, p in points.items()]
    return sorted(rows, key=lambda p: p["batch_size"])


def _stalled(measured: list[dict[str, Any]]) -> bool:
    ok = [p["examples_per_second"] for p in measured if p["status"] == "ok"]
    return len(ok) >= 3 and all(ok[-i] < MIN_GAIN * ok[-i - 1] for i in (1, 2))


def analyse_batch_sizes(
    measured: list[dict[str, Any]], config: Mapping[str, Any]
) -> dict[str, Any]:
    """The table with each doubling's gain, where doubling stops nearly doubling, the
    recommendation, the ceiling, input-bound sizes and the warnings."""
    ok = [p for p in measured if p["status"] == "ok"]
    rows = []
    for index, point in enumerate(ok):
        gain = (
            None
            if index == 0
            else point["examples_per_second"] / ok[index - 1]["examples_per_second"]
        )
        rows.append({**point, "gain": gain})
    saturates_at = None  # the size from which no doubling nearly doubles throughput any more
    for row in reversed(rows[1:]):
        if row["gain"] >= NEAR_DOUBLING:
            break
        saturates_at = row["batch_size"]
    best = None
    for row in rows:
        if row["gain"] is not None and row["gain"] < MIN_GAIN:
            break
        best = row
    ceiling = next((p for p in measured if p["status"] != "ok"), None)
    input_bound = [r["batch_size"] for r in rows if r["data_share"] > INPUT_BOUND_SHARE]
    warnings = []
    if ceiling is not None and ceiling["status"] == "failed":
        warnings.append(f"batch size {ceiling['batch_size']} failed: {ceiling.get('error', '')}")
    if input_bound:
        warnings.append(
            f"input-bound: waiting for data takes more than {INPUT_BOUND_SHARE:.0%} of a step "
            f"at batch size {', '.join(map(str, input_bound))}; prefetch, co-locate or trim "
            "the data before tuning (PB-21)"
        )
    noisy = [r["batch_size"] for r in rows if r["spread"] > NOISY_SPREAD]
    if noisy:
        warnings.append(
            f"step times varied by more than {NOISY_SPREAD:.0%} (interquartile range over the "
            f"median) at batch size {', '.join(map(str, noisy))}: "
            "the machine may be busy; measure again with --min-seconds higher"
        )
    recommendation = None
    if best is not None:
        why = (
            f"the largest size whose doubling still gained at least ×{MIN_GAIN:g} throughput "
            f"({best['examples_per_second']:,.0f} examples/s)"
        )
        if saturates_at is not None:
            why += f"; doubling stops nearly doubling throughput at {saturates_at}"
        if ceiling is not None:
            why += f"; the ceiling is {ceiling['batch_size']} ({_ceiling_words(ceiling)})"
        recommendation = {"value": best["batch_size"], "rationale": why}
    return {
        "rows": rows,
        "saturates_at": saturates_at,
        "ceiling": None
        if ceiling is None
        else {
            "batch_size": ceiling["batch_size"],
            "status": ceiling["status"],
            "reason": ceiling.get("error", ""),
        },
        "input_bound": input_bound,
        "recommendation": recommendation,
        "warnings": warnings,
        "device": config.get("device"),
        "memory_budget_mb": config.get("memory_budget_mb"),
        "no_accumulation": NO_ACCUMULATION,
    }


def _ceiling_words(point: Mapping[str, Any]) -> str:
    if point["status"] == "too_large":
        return "fewer than 4 steps per epoch of the training split"
    if point["status"] == "out_of_memory":
        return "out of memory"
    return "failed"


def seconds_per_step(summary: Mapping[str, Any], batch_size: int) -> float | None:
    """The measured median time per step at `batch_size`, if the probe measured it."""
    for row in summary.get("rows", []):
        if row["batch_size"] == batch_size and math.isfinite(row["seconds_per_step"]):
            return float(row["seconds_per_step"])
    return None
