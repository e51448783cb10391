"""What the design-time training checks add to `tunebook new` and `experiment add` (#8, #13).

`new` now runs `check_workload` (one forward and backward pass on 16 examples, an
evaluation on 16 more, and the split sizes and data notes); `experiment add` runs
`check_step` once per study with a distinct configuration. Each measurement runs in a fresh
interpreter, as the CLI does, on the tabular built-in and a 3-study spec (depth 1, 2, 3).

    python benchmarks/design_checks.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

MEASURE = """
import json, time
from tunebook.core.design import design_from_dict, plan_studies
from tunebook.core.execution.trial_config import config_from_hparams
from tunebook.core.experiments import check_workload
from tunebook.core.training import check_step
from tunebook.core.workloads import load_workload

workload = load_workload("tabular")
started = time.perf_counter()
check_workload(workload)
new = time.perf_counter() - started
design = design_from_dict({
    "name": "depth", "goal": "g", "max_train_steps": 500,
    "fixed": {"optimizer": "adam", "batch_size": 256},
    "scientific": {"depth": [1, 2, 3]},
    "nuisance": {"learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"}},
    "search": {"trials": 10},
})
studies = []
for plan in plan_studies(design):
    hparams = plan.hparams(plan.space.decode([0.0] * len(plan.space)))
    config = config_from_hparams(workload, hparams, max_train_steps=500)
    started = time.perf_counter()
    check_step(workload, config)
    studies.append(time.perf_counter() - started)
print(json.dumps({"new": new, "studies": studies}))
"""


def main() -> None:
    """Print the median added seconds over fresh interpreters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", MEASURE], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(args.repeats)
    ]
    new = statistics.median(r["new"] for r in runs)
    add = statistics.median(sum(r["studies"]) for r in runs)
    first = statistics.median(r["studies"][0] for r in runs)
    print(f"new: +{new * 1000:.0f} ms (check_workload, median of {args.repeats})")
    print(
        f"experiment add, 3 studies: +{add * 1000:.0f} ms "
        f"(first study {first * 1000:.0f} ms, median of {args.repeats})"
    )


if __name__ == "__main__":
    main()
