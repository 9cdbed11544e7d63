"""Learning-rate schedules the apps share, as factories ``(optimizer, total_steps) -> LRScheduler``.

The apps inject a schedule factory the way they inject the optimizer (Lightning CLI's callable
pattern); the LightningModule supplies ``total_steps`` from ``trainer.estimated_stepping_batches``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeAlias

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["ScheduleFactory", "WarmupCosineLR"]

#: ``(optimizer, total_steps) -> scheduler``, stepped once per optimizer step.
ScheduleFactory: TypeAlias = Callable[[Optimizer, int], LRScheduler]


class WarmupCosineLR(LRScheduler):
    """Linear warm-up from ``warmup_start`` × lr to lr, then cosine decay to ``min_lr_ratio`` × lr.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        total_steps: optimizer steps of the whole run.
        warmup_fraction: share of ``total_steps`` spent warming up (ignored if ``warmup_steps`` is set).
        warmup_steps: explicit warm-up length.
        min_lr_ratio: final learning rate as a fraction of the base one.
        warmup_start: initial learning rate as a fraction of the base one.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        warmup_fraction: float = 0.05,
        warmup_steps: int | None = None,
        min_lr_ratio: float = 0.0,
        warmup_start: float = 0.01,
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"WarmupCosineLR: total_steps={total_steps} must be a positive integer")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"WarmupCosineLR: warmup_fraction={warmup_fraction} must be in [0, 1)")
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps if warmup_steps is not None else int(warmup_fraction * total_steps)
        self.min_lr_ratio = min_lr_ratio
        self.warmup_start = warmup_start
        super().__init__(optimizer)

    def factor(self, step: int) -> float:
        """Multiplier of the base learning rate at optimizer step ``step``."""
        if step < self.warmup_steps:
            return self.warmup_start + (1.0 - self.warmup_start) * step / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def get_lr(self) -> list[float]:
        return [base * self.factor(self.last_epoch) for base in self.base_lrs]
