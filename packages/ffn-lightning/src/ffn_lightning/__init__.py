"""Shared Lightning glue for the FFN apps: the base CLI, callbacks and benchmark helpers."""

from .callbacks import SelfGuidedTraining
from .cli import FFNLightningCLI
from .schedules import ScheduleFactory, WarmupCosineLR
from .spectral_monitor import SpectralMonitor

__all__ = ["FFNLightningCLI", "ScheduleFactory", "SelfGuidedTraining", "SpectralMonitor", "WarmupCosineLR"]
