"""A short study end to end, the way a user meets it, against a hand-written Optuna loop.

The study: 16 trials tuning Adam's learning rate (log, 1e-4 … 1e-1) of an MLP
64-256-256-10 on the 8×8 digits (scikit-learn's copy, 1,797 images, written once as a CSV),
300 steps at batch 64, evaluated on the validation split every 50 steps, one torch thread
per process. Four sides, each a fresh process tree timed from the shell's point of view,
run alternately (tunebook, tunebook-cold, optuna, bare; five rounds), medians reported:

* ``tunebook``: ``tunebook new`` + ``tunebook experiment add`` + ``tunebook run --workers 2``
  (quasi-random search; every step's metrics, every evaluation, the best checkpoint and the
  resume states stored in the session file). Each round starts with no warm worker server
  (a folder of its own, `TUNEBOOK_WARM_DIR`): ``new`` starts one, as a user's first study
  of the day would, and ``run`` forks its workers there;
* ``tunebook-cold``: the same with the warm server off (``TUNEBOOK_WARM_SECONDS=0``): the
  runner starts a server of its own, which imports torch while the run waits;
* ``optuna``: the script a user writes by hand: one process, Optuna's default sampler over
  SQLite storage, each evaluation reported with ``trial.report``;
* ``bare``: the same loop in one process with nothing stored (16 log-spaced rates).

The hand-written sides split and standardize the CSV exactly as the tabular workload does
(rows shuffled with its dataset seed, 70/15/15, train mean and std), so the best validation
errors are comparable. Goals (issue 13): ``run`` ≤ 0.6 × the Optuna script's wall time, and
``new`` + ``add`` + ``run`` ≤ 0.8 ×. Needs scikit-learn for the dataset only
(``pip install scikit-learn``). Run: ``python benchmarks/end_to_end.py`` (``E2E_ROUNDS``
sets the rounds); the last line printed is the results as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROUNDS = int(os.environ.get("E2E_ROUNDS", "5"))
TRIALS, STEPS, BATCH, EVAL_EVERY, WIDTH, DEPTH = 16, 300, 64, 50, 256, 2
LR_LOW, LR_HIGH = 1e-4, 1e-1
DATASET_SEED = 20240517  # the tabular workload's: the same split on every side
GOAL_RUN, GOAL_ALL = 0.6, 0.8

SPEC = f"""\
name = "lr"
goal = "Which learning rate trains the digits MLP best?"
max_train_steps = {STEPS}
eval_every = {EVAL_EVERY}

[fixed]
optimizer = "adam"
batch_size = {BATCH}
width = {WIDTH}
depth = {DEPTH}

[nuisance]
learning_rate = {{ low = {LR_LOW}, high = {LR_HIGH}, scale = "log" }}

[search]
algorithm = "quasi-random"
trials = {TRIALS}
seed = 0
"""


# --- the hand-written sides: what a user's own script imports, nothing of tunebook ---------


def load_splits(csv: str) -> tuple[Any, Any, Any, Any]:
    """Training and validation tensors, split and standardized as the tabular workload does."""
    import numpy as np
    import torch

    data = np.loadtxt(csv, delimiter=",", skiprows=1)
    x, y = data[:, :-1], data[:, -1].astype(np.int64)
    order = np.random.default_rng(DATASET_SEED).permutation(len(x))
    n_train, n_val = int(len(x) * 0.7), int(len(x) * 0.15)
    train, val = order[:n_train], order[n_train : n_train + n_val]
    mean, std = x[train].mean(0), x[train].std(0)
    std[std == 0] = 1.0
    x = ((x - mean) / std).astype(np.float32)
    return (
        torch.from_numpy(x[train]),
        torch.from_numpy(y[train]),
        torch.from_numpy(x[val]),
        torch.from_numpy(y[val]),
    )


def train_one(splits: tuple[Any, ...], lr: float, seed: int, report: Any) -> float:
    """One trial: Adam on the MLP; `report(step, error)` after each evaluation; the best
    validation error."""
    import torch
    from torch import nn

    x_train, y_train, x_val, y_val = splits
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = x_train.shape[1]
    for _ in range(DEPTH):
        layers += [nn.Linear(width, WIDTH), nn.ReLU()]
        width = WIDTH
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    order, position, best = torch.randperm(len(x_train), generator=generator), 0, 1.0
    for step in range(1, STEPS + 1):
        if position + BATCH > len(x_train):
            order, position = torch.randperm(len(x_train), generator=generator), 0
        index = order[position : position + BATCH]
        position += BATCH
        loss = nn.functional.cross_entropy(model(x_train[index]), y_train[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % EVAL_EVERY == 0:
            with torch.no_grad():
                error = (model(x_val).argmax(1) != y_val).float().mean().item()
            report(step, error)
            best = min(best, error)
    return best


def side_optuna(csv: str, storage: str) -> dict[str, Any]:
    """The hand-written Optuna script: one process, SQLite storage, evaluations reported."""
    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    splits = load_splits(csv)
    study = optuna.create_study(
        storage=f"sqlite:///{storage}", sampler=optuna.samplers.TPESampler(seed=0)
    )

    def objective(trial: Any) -> float:
        lr = trial.suggest_float("learning_rate", LR_LOW, LR_HIGH, log=True)
        return train_one(splits, lr, trial.number, lambda step, error: trial.report(error, step))

    study.optimize(objective, n_trials=TRIALS)
    stored = sum(len(t.intermediate_values) for t in study.trials)
    return {"best_error": study.best_value, "trials": len(study.trials), "stored_values": stored}


def side_bare(csv: str) -> dict[str, Any]:
    """The same loop with nothing stored."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    splits = load_splits(csv)
    rates = np.geomspace(LR_LOW, LR_HIGH, TRIALS)
    best = min(
        train_one(splits, float(lr), i, lambda step, error: None) for i, lr in enumerate(rates)
    )
    return {"best_error": best, "trials": TRIALS, "stored_values": 0}


# --- the orchestration ---------------------------------------------------------------------


def write_digits(folder: Path) -> Path:
    """scikit-learn's 8×8 digits as a CSV with a `label` column."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = folder / "digits.csv"
    with path.open("w") as out:
        out.write(",".join(f"p{i}" for i in range(64)) + ",label\n")
        for row, label in zip(digits.data.astype(int), digits.target):
            out.write(",".join(map(str, row)) + f",{label}\n")
    return path


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of `command` (must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def tunebook_side(folder: Path, csv: Path, warm: bool) -> dict[str, Any]:
    """new + experiment add + run --workers 2 on a fresh session, with no warm server yet
    (`warm`) or with it off; each command's seconds and what the session stored."""
    from tunebook.sessions import Session

    tunebook = str(Path(sys.executable).with_name("tunebook"))
    session = folder / "lr.tunebook"
    session.unlink(missing_ok=True)
    spec = folder / "lr.toml"
    spec.write_text(SPEC)
    new = [tunebook, "new", str(session), "-w", "tabular", "-o", f"csv={csv}", "-o", "target=label"]
    servers = tempfile.mkdtemp(prefix="tbw-")  # the round's server folder: none runs yet
    env = {**os.environ, "TUNEBOOK_WARM_DIR": servers}
    if not warm:
        env["TUNEBOOK_WARM_SECONDS"] = "0"
    try:
        seconds = {
            "new": timed(new, folder, env),
            "add": timed([tunebook, "experiment", "add", str(session), str(spec)], folder, env),
            "run": timed([tunebook, "run", str(session), "--workers", "2"], folder, env),
        }
    finally:
        shutil.rmtree(servers)  # its server sees its socket gone, and exits
    time.sleep(6)  # … within `warm_server.CHECK_EVERY` seconds, before the next side starts
    with Session.open(session, read_only=True) as opened:
        trials = opened.trials()
        values = opened.db.conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
        best = min(t.best_value for t in trials if t.best_value is not None)
    return {"seconds": seconds, "best_error": best, "trials": len(trials), "stored_values": values}


def script_side(name: str, folder: Path, csv: Path) -> dict[str, Any]:
    """One hand-written side in a fresh process: its wall seconds and what it printed."""
    storage = folder / "optuna.db"
    storage.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--side", name, str(csv), str(storage)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"side {name} failed:\n{done.stderr}")
    return {"seconds": {"total": seconds}, **json.loads(done.stdout.splitlines()[-1])}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="tunebook-e2e-"))
    load_before = os.getloadavg()
    try:
        csv = write_digits(folder)
        runs: dict[str, list[dict[str, Any]]] = {
            "tunebook": [], "tunebook-cold": [], "optuna": [], "bare": []
        }  # fmt: skip
        for round_ in range(ROUNDS):
            runs["tunebook"].append(tunebook_side(folder, csv, warm=True))
            runs["tunebook-cold"].append(tunebook_side(folder, csv, warm=False))
            runs["optuna"].append(script_side("optuna", folder, csv))
            runs["bare"].append(script_side("bare", folder, csv))
            shown = {side: round(sum(r[-1]["seconds"].values()), 2) for side, r in runs.items()}
            print(f"round {round_ + 1}/{ROUNDS}: {shown}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def median(side: str, part: str | None = None) -> float:
        return statistics.median(
            sum(r["seconds"].values()) if part is None else r["seconds"][part] for r in runs[side]
        )

    optuna = median("optuna")
    parts = ("new", "add", "run")
    tunebook = {part: median("tunebook", part) for part in parts}
    tunebook["total"] = median("tunebook")
    cold = {part: median("tunebook-cold", part) for part in parts}
    cold["total"] = median("tunebook-cold")
    ratios = {
        "run/optuna": tunebook["run"] / optuna,
        "total/optuna": tunebook["total"] / optuna,
        "cold run/optuna": cold["run"] / optuna,
        "cold total/optuna": cold["total"] / optuna,
        "bare/optuna": median("bare") / optuna,
    }
    for side in runs:
        print(
            f"{side:<9} median {median(side):6.2f} s  best error {runs[side][-1]['best_error']:.4f}"
        )
    for side, seconds in (("tunebook", tunebook), ("tunebook-cold", cold)):
        print(f"{side} " + ", ".join(f"{part} {seconds[part]:.2f} s" for part in parts))
    print("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print(
        json.dumps(
            {
                "benchmark": "end_to_end",
                "rounds": ROUNDS,
                "cpus": os.cpu_count(),
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
                "median_seconds": {
                    "tunebook": {k: round(v, 2) for k, v in tunebook.items()},
                    "tunebook-cold": {k: round(v, 2) for k, v in cold.items()},
                    "optuna": round(optuna, 2),
                    "bare": round(median("bare"), 2),
                },
                "ratios": {k: round(v, 3) for k, v in ratios.items()},
                "goals_met": {
                    f"run <= {GOAL_RUN} x optuna": ratios["run/optuna"] <= GOAL_RUN,
                    f"new+add+run <= {GOAL_ALL} x optuna": ratios["total/optuna"] <= GOAL_ALL,
                },
                "stored_values": {side: r[-1]["stored_values"] for side, r in runs.items()},
                "best_error": {side: round(r[-1]["best_error"], 4) for side, r in runs.items()},
                "trials": {side: r[-1]["trials"] for side, r in runs.items()},
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--side"]:
        side, csv_path, db_path = sys.argv[2:5]
        result = side_optuna(csv_path, db_path) if side == "optuna" else side_bare(csv_path)
        print(json.dumps(result))
    else:
        main()
