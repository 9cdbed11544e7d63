"""Shared Lightning glue for the FFN apps: the base CLI, callbacks and benchmark helpers."""

from .allocator import keep_freed_memory
from .apps import Slot, StudyApp, discover_apps
from .callbacks import SelfGuidedTraining
from .checkpoints import register_safe_globals
from .cli import FFNLightningCLI
from .commands import app_main, cli_arguments, run_command, task_cli
from .plugins import LastDimBatchNormSync
from .resume import ExactResume, ResumableDataLoader
from .schedules import ScheduleFactory, WarmupCosineLR
from .spectral_monitor import SpectralMonitor

__all__ = [
    "ExactResume",
    "FFNLightningCLI",
    "LastDimBatchNormSync",
    "ResumableDataLoader",
    "ScheduleFactory",
    "SelfGuidedTraining",
    "Slot",
    "SpectralMonitor",
    "StudyApp",
    "WarmupCosineLR",
    "app_main",
    "cli_arguments",
    "discover_apps",
    "keep_freed_memory",
    "register_safe_globals",
    "run_command",
    "task_cli",
]

register_safe_globals()
