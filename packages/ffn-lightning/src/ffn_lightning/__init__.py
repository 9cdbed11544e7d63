"""Shared Lightning glue for the FFN apps: the base CLI, callbacks and benchmark helpers."""

from .callbacks import SelfGuidedTraining
from .cli import FFNLightningCLI
from .spectral_monitor import SpectralMonitor

__all__ = ["FFNLightningCLI", "SelfGuidedTraining", "SpectralMonitor"]
