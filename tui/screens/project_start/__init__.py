"""The project-start screens, one per playbook step (PB-1 … PB-4, PB-19, PB-30): model,
optimizer, batch size, initial configuration, training length, stability. Each shows its
step's choices or probe, starts the probe in a detached runner, and records the decision
through `tunebook decide` (the app never writes the session itself)."""

from __future__ import annotations

from textual.screen import Screen

from tunebook.tui.screens.project_start.batch_size import BatchSizeScreen
from tunebook.tui.screens.project_start.initial_config import InitialConfigScreen
from tunebook.tui.screens.project_start.model import ModelScreen
from tunebook.tui.screens.project_start.optimizer import OptimizerScreen
from tunebook.tui.screens.project_start.stability import StabilityScreen
from tunebook.tui.screens.project_start.training_length import TrainingLengthScreen

#: The screen of each project-start stage, by the stage's key (a decision kind's value).
PROJECT_SCREENS: dict[str, type[Screen]] = {
    "model": ModelScreen,
    "optimizer": OptimizerScreen,
    "batch_size": BatchSizeScreen,
    "initial_config": InitialConfigScreen,
    "max_train_steps": TrainingLengthScreen,
    "stability": StabilityScreen,
}
