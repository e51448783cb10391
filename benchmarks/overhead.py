"""Overhead of tunebook's training loop over a bare hand-written PyTorch loop.

Both sides train the built-in ``tabular`` MLP on the same data, batch size, optimizer
(Adam, constant LR), shuffling and number of steps, on one thread. tunebook runs
``train_trial`` with a ``MemoryReporter`` and every per-step metric on (loss, LR,
unclipped gradient norm, clipping flag, data/compute timings); evaluation is off on both
sides. Runs alternate, each side's median of ``--repeats`` is compared, in wall-clock
and in CPU time (steadier when other processes share the machine).

Two sizes: ``mid`` (width 256, depth 3, batch 256; the headline ``ratio``) and ``tiny``
(width 64, depth 2, batch 64, ~0.3 ms a step), where the fixed per-step cost of the
instrumentation, mostly the gradient norm PB-31 asks for, weighs most. The last line
printed is JSON. Usage: ``python benchmarks/overhead.py [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from tunebook.core.training import MemoryReporter, TrialConfig, train_trial
from tunebook.core.workloads import load_workload, split_tensors

CONFIGS = {
    # name: (architecture hparams, batch size, steps per run)
    "mid": ({"width": 256, "depth": 3}, 256, 300),
    "tiny": ({"width": 64, "depth": 2}, 64, 1000),
}
LEARNING_RATE = 1e-3


def bare_loop(arch: dict[str, int], batch_size: int, steps: int) -> None:
    """The loop a user would write: shuffle, index, forward, backward, step, log the loss."""
    workload = load_workload("tabular")
    x, y = split_tensors(workload.splits(0).train)
    torch.manual_seed(0)
    model = workload.build_model(arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(0)
    order, position, losses = torch.empty(0, dtype=torch.int64), len(x), []
    for _ in range(steps):
        if position + batch_size > len(x):
            order, position = torch.randperm(len(x), generator=generator), 0
        index = order[position : position + batch_size]
        position += batch_size
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


def tunebook_loop(arch: dict[str, int], batch_size: int, steps: int) -> None:
    """``train_trial`` on the same problem, every per-step metric on, no evaluation."""
    config = TrialConfig(
        hparams={**arch, "learning_rate": LEARNING_RATE},
        optimizer="adam",
        batch_size=batch_size,
        max_train_steps=steps,
        eval_every=0,
    )
    result = train_trial(load_workload("tabular"), config, MemoryReporter())
    assert result.steps_done == steps


def timed(loop: Callable[..., None], *args: Any) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run (CPU time resists other load on the machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    loop(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(name: str, repeats: int) -> dict[str, float]:
    """Alternate bare and tunebook runs of one configuration; medians of each."""
    arch, batch_size, steps = CONFIGS[name]
    bare_loop(arch, batch_size, 20), tunebook_loop(arch, batch_size, 20)  # warm up
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "tunebook": []}
    for _ in range(repeats):
        runs["bare"].append(timed(bare_loop, arch, batch_size, steps))
        runs["tunebook"].append(timed(tunebook_loop, arch, batch_size, steps))
    result = {"steps": steps}
    for loop, values in runs.items():
        result[f"{loop}_wall"] = statistics.median(wall for wall, _ in values)
        result[f"{loop}_cpu"] = statistics.median(cpu for _, cpu in values)
    result["ratio"] = result["tunebook_wall"] / result["bare_wall"]
    result["cpu_ratio"] = result["tunebook_cpu"] / result["bare_cpu"]
    return result


def main() -> None:
    """Measure each configuration, print a table and a JSON summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_workload("tabular").splits(0)  # build the cached dataset outside the timings
    results = {name: measure(name, args.repeats) for name in CONFIGS}
    print(f"tabular MLP, Adam, 1 thread, median of {args.repeats} alternating runs each")
    header = ("config", "bare s", "tunebook s", "ratio", "bare cpu", "tb cpu", "cpu ratio")
    print("".join(f"{h:>11}" for h in header) + "   µs/step bare → tunebook")
    for name, r in results.items():
        arch, batch_size, steps = CONFIGS[name]
        cells = (
            r["bare_wall"],
            r["tunebook_wall"],
            r["ratio"],
            r["bare_cpu"],
            r["tunebook_cpu"],
            r["cpu_ratio"],
        )
        per_step = f"{1e6 * r['bare_wall'] / steps:.0f} → {1e6 * r['tunebook_wall'] / steps:.0f}"
        print(f"{name:>11}" + "".join(f"{c:>11.3f}" for c in cells) + f"   {per_step}")
        print(
            f"{'':>11}  width {arch['width']}, depth {arch['depth']}, batch {batch_size}, "
            f"{steps} steps"
        )
    main_result, tiny = results["mid"], results["tiny"]
    summary = {
        "bench": "overhead",
        "tunebook_s": round(main_result["tunebook_wall"], 4),
        "bare_s": round(main_result["bare_wall"], 4),
        "ratio": round(main_result["ratio"], 4),
        "cpu_ratio": round(main_result["cpu_ratio"], 4),
        "tiny_ratio": round(tiny["ratio"], 4),
        "tiny_cpu_ratio": round(tiny["cpu_ratio"], 4),
        "goal": "<=1.05",
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
