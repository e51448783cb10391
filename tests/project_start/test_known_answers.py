"""Each probe on a synthetic workload whose answer is known by construction."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.project_start.helpers import new_session, run_inline
from tests.project_start.workloads import (
    BLOBS_REF,
    CUBLAS_FULL_REF,
    CURVY_REF,
    DEVICE_FITS,
    DEVICE_FULL_REF,
    MB_PER_EXAMPLE,
    MEMORY_HOG_REF,
    SATURATES_AT,
    SATURATING_REF,
)
from tunebook.core.project_start.batch_size import MIN_GAIN
from tunebook.core.project_start.probe import TRAIN_UNIT
from tunebook.core.project_start.stability import StabilityProbe, instability
from tunebook.core.project_start.units import train_unit

FAST = {"min_steps": 5, "min_seconds": 0.08, "max_steps": 12, "device": "cpu"}


def test_batch_size_saturating_at_64_recommends_64(tmp_path: Path) -> None:
    """A fixed 40 ms per step up to 64 examples: 16 → 32 → 64 gain throughput, 128 and
    256 gain nothing, so the probe stops there and recommends 64."""
    path = new_session(tmp_path, SATURATING_REF)
    probe = run_inline(path, "batch-size", {"start": 16, "max_size": 1024, **FAST})
    summary = probe.summary
    gains = {row["batch_size"]: row["gain"] for row in summary["rows"]}
    assert list(gains) == [16, 32, 64, 128, 256]  # two doublings without gain end it
    assert all(gains[b] > MIN_GAIN for b in (32, 64)), gains
    assert all(gains[b] < MIN_GAIN for b in (128, 256)), gains
    assert summary["saturates_at"] == 2 * SATURATES_AT
    assert summary["recommendation"]["value"] == SATURATES_AT
    assert summary["ceiling"] is None


def test_batch_size_stops_at_the_cpu_memory_budget(tmp_path: Path) -> None:
    """2 MB per example and a 200 MB budget: batch 64 (128 MB) fits, 128 (256 MB) does not;
    the probe stops at 128 and never measures 256."""
    path = new_session(tmp_path, MEMORY_HOG_REF)
    options = {"start": 32, "max_size": 1024, "memory_budget_mb": 200, **FAST, "min_steps": 2}
    probe = run_inline(path, "batch-size", options)
    points = probe.points
    assert list(points) == ["b32", "b64", "b128"]
    assert points["b64"]["status"] == "ok"
    # What the size's training added to the process: the hog's buffer and a little more.
    expected = 64 * MB_PER_EXAMPLE
    assert 0.95 * expected < points["b64"]["peak_memory_mb"] < expected + 50, points["b64"]
    assert points["b128"]["status"] == "out_of_memory"
    assert points["b128"]["peak_memory_mb"] > 0.95 * 128 * MB_PER_EXAMPLE
    ceiling = probe.summary["ceiling"]
    assert ceiling["batch_size"] == 128 and ceiling["status"] == "out_of_memory"
    assert "memory budget of 200 MB" in ceiling["reason"]
    assert probe.summary["recommendation"]["value"] in (32, 64)


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        (DEVICE_FULL_REF, "OutOfMemoryError at step 1: CUDA out of memory"),
        (CUBLAS_FULL_REF, "RuntimeError at step 1: CUDA error: CUBLAS_STATUS_ALLOC_FAILED"),
    ],
)
def test_an_out_of_memory_error_is_the_ceiling_and_the_probe_recovers(
    tmp_path: Path, ref: str, error: str
) -> None:
    """A full GPU above 64 examples (torch's out-of-memory error, or cuBLAS failing to
    allocate): the probe records 128 as the ceiling (`out_of_memory`, with the error),
    measures nothing larger, and completes with a recommendation among the sizes that fit."""
    path = new_session(tmp_path, ref)
    probe = run_inline(path, "batch-size", {"start": 16, "max_size": 1024, **FAST})
    assert list(probe.points) == ["b16", "b32", "b64", "b128"]
    ceiling = probe.summary["ceiling"]
    assert ceiling["batch_size"] == 2 * DEVICE_FITS and ceiling["status"] == "out_of_memory"
    assert ceiling["reason"].startswith("out of memory: ")
    assert error in ceiling["reason"]
    assert probe.summary["recommendation"]["value"] <= DEVICE_FITS


def test_training_length_is_short_for_an_easy_task_and_long_for_a_hard_one(
    tmp_path: Path,
) -> None:
    """Far-apart blobs are fit at the first evaluation (step 5 of 100); random labels are
    memorised only late in the sweep. A sweep whose rates tie at the best is not widened."""
    easy = new_session(_mkdir(tmp_path / "easy"), BLOBS_REF)
    options = {"steps": 100, "learning_rate": 0.01}
    summary = run_inline(easy, "training-length", options).summary
    assert summary["recommendation"]["value"] == 5  # the first evaluation (every 5 steps)
    assert summary["edge"] is None
    assert len(summary["rows"]) == 5, "tied best rates inside the sweep need no widening"

    hard = new_session(_mkdir(tmp_path / "hard"), BLOBS_REF, {"hard": True})
    summary = run_inline(hard, "training-length", options).summary
    assert summary["recommendation"]["value"] >= 50
    assert not any("no run fit" in w for w in summary["warnings"])


def test_stability_finds_the_early_instability_and_the_warmup_that_fixes_it(
    tmp_path: Path,
) -> None:
    """SGD on `Curvy` at best rate 0.25: 2× (0.5) spikes in the first steps, and the 10-step
    warmup the probe proposes makes 0.5 stable; the best rate itself needs none."""
    path = new_session(tmp_path, CURVY_REF, optimizer="sgd")
    probe = run_inline(path, "stability", {"learning_rate": 0.25, "steps": 100})
    summary, points = probe.summary, probe.points
    assert summary["rate"] == 0.5
    assert summary["unstable"] and summary["phase"] == "early"
    assert instability(points["2x"]) is not None
    assert summary["stable_warmup"] == 10
    assert summary["recommendation"]["value"] == {"warmup_steps": 10, "grad_clip": None}
    assert points["warmup=10"]["status"] == "completed"
    assert instability(points["warmup=10"]) is None

    # The best rate without warmup is stable: the instability starts above it.
    unit = StabilityProbe()._unit({**probe.config, "rate": 0.25}, "1x", 0)
    assert unit.function == TRAIN_UNIT
    assert instability(train_unit(unit.payload, None)) is None


def _mkdir(folder: Path) -> Path:
    folder.mkdir()
    return folder
