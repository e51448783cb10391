"""Where trials train (`--device`): its one-sentence errors everywhere, and, on a machine with
a CUDA GPU (marked `gpu`; CI has none, the tests skip there and say so), trials that train on
the GPU under the `process` and `ray` executors, stop with a resume state on the GPU, resume
there, and draw the same curves as an uninterrupted run."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.execution.conftest import (
    BackgroundRun,
    losses,
    new_session,
    run_refused,
    running_trials,
    spec_text,
    stop_once_checkpointed,
    trials_of,
    wait_for,
)
from tunebook.core.execution.control import RunRequest
from tunebook.core.execution.devices import requested_device, trial_device
from tunebook.core.execution.executors import RayOptions
from tunebook.sessions import BadInput, Session, TrialStatus

GPU = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not GPU, reason="needs a CUDA GPU (none is visible to torch here)")
no_gpu = pytest.mark.skipif(GPU, reason="checks the refusal where no GPU is visible")


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_a_run_may_ask_for_these_devices(device: str) -> None:
    assert requested_device(device) == device


@pytest.mark.parametrize(
    ("options", "sentence"),
    [
        (["--device", "gpu"], "--device 'gpu' is not one of auto (a GPU when one is visible"),
        (["--device", "cuda:x"], "--device 'cuda:x' is not one of"),
        (
            ["--executor", "ray", "--device", "cuda"],
            "--device cuda with --executor ray needs --gpus-per-trial",
        ),
        pytest.param(
            ["--device", "cuda"], "no CUDA GPU is visible to torch on this machine", marks=no_gpu
        ),
    ],
)
def test_a_device_that_cannot_be_had_is_one_sentence_and_changes_nothing(
    tiny_session: Path, options: list[str], sentence: str
) -> None:
    assert sentence in run_refused(tiny_session, *options)


@no_gpu
def test_without_a_gpu_auto_trains_on_the_cpu_and_cuda_is_refused_in_the_worker() -> None:
    assert trial_device("auto", 3) == "cpu"
    with pytest.raises(BadInput, match="no CUDA GPU is visible to the worker"):
        trial_device("cuda")


def test_a_detached_run_passes_its_device_on() -> None:
    assert RunRequest(device="cpu").arguments()[-2:] == ["--device", "cpu"]
    assert "--device" not in RunRequest().arguments()


# -- on a GPU -----------------------------------------------------------------------------


def resume_devices(path: Path) -> list[tuple[str, bool]]:
    """For each stored resume state: the device of the model's weights, and whether the
    CUDA generator's state was saved with it."""
    found = []
    with Session.open(path, read_only=True) as session:
        for trial in session.trials():
            saved = session.resume_state(trial.id)
            if saved is None:
                continue
            state: dict[str, Any] = torch.load(io.BytesIO(saved[1]), weights_only=True)
            weights = next(iter(state["model"].values()))
            found.append((str(weights.device), "cuda" in state["rng"]))
    return found


#: Trials of a few seconds (the sleep), so that both are mid-way when the stop comes.
GPU_SPEC = spec_text(
    steps=400, trials=2, fixed={"sleep_ms": 10.0, "width": 64}, eval_every=20, checkpoint_every=20
)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("executor", ["process", pytest.param("ray", marks=pytest.mark.ray)])
def test_trials_train_on_the_gpu_stop_there_and_resume_to_the_same_curves(
    tmp_path: Path, executor: str
) -> None:
    if executor == "ray":
        pytest.importorskip("ray")
        options: dict[str, Any] = {
            "executor": "ray",
            "workers": 2,
            "ray": RayOptions(gpus_per_trial=0.5),
        }
    else:
        options = {"executor": "process", "workers": 2}
    interrupted = new_session(tmp_path, GPU_SPEC, name="interrupted")
    stop_once_checkpointed(interrupted, 2, **options)
    assert resume_devices(interrupted) == [("cuda:0", True), ("cuda:0", True)]
    assert all(t.status is TrialStatus.PENDING for t in trials_of(interrupted))
    BackgroundRun(interrupted, **options).result()

    uninterrupted = new_session(tmp_path, GPU_SPEC, name="uninterrupted")
    BackgroundRun(uninterrupted, **options).result()
    ended = [(t.status, t.attempts, t.error) for t in trials_of(interrupted)]
    assert ended == [(TrialStatus.COMPLETED, 2, "")] * 2, ended
    assert losses(interrupted) == losses(uninterrupted)


@pytest.mark.gpu
@pytest.mark.ray
@needs_gpu
def test_ray_trials_share_one_gpu_at_half_a_gpu_each(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    spec = spec_text(steps=300, trials=2, fixed={"sleep_ms": 10.0}, eval_every=50)
    path = new_session(tmp_path, spec)
    run = BackgroundRun(path, executor="ray", workers=2, ray=RayOptions(gpus_per_trial=0.5))
    wait_for(lambda: len(running_trials(path)) == 2, 120, "both trials running at once")
    run.result()
    assert [t.status for t in trials_of(path)] == [TrialStatus.COMPLETED] * 2


@pytest.mark.gpu
@needs_gpu
def test_workers_spread_over_the_gpus_torch_sees() -> None:
    count = torch.cuda.device_count()
    assert [trial_device("auto", slot) for slot in range(count + 1)] == [
        *(f"cuda:{i}" for i in range(count)),
        "cuda:0",
    ]
    assert trial_device("cpu", 1) == "cpu"
