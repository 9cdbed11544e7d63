"""Shared Lightning glue for the FFN apps: the base CLI, callbacks and benchmark helpers."""

from .callbacks import SelfGuidedTraining
from .cli import FFNLightningCLI

__all__ = ["FFNLightningCLI", "SelfGuidedTraining"]
