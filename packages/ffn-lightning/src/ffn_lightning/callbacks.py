"""Callbacks shared by the apps: `SelfGuidedTraining` drives the structured FFNs' dense-guide schedule."""

from __future__ import annotations

import math
from typing import Any, Literal

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

from ffn_blocks import set_guide_ratio
from ffn_blocks.base import check_ratio

__all__ = ["SelfGuidedTraining"]


class SelfGuidedTraining(Callback):
    """Anneal the dense guide of self-guided structured FFNs from 1 to 0 over the first part of training.

    From "Building on Efficient Foundations: Effectively Training LLMs with Structured Feedforward
    Layers" (Wei et al., NeurIPS 2024): each structured linear built with ``self_guided=True`` computes
    ``r · dense(x) + (1 − r) · structured(x)``; this callback sets ``r`` before every training batch
    from the global step, so the schedule resumes exactly from a checkpoint (the ratio is also saved in
    the weights). After the annealing phase ``r = 0`` and the guide costs nothing.

    Args:
        anneal_fraction: fraction of the run's total optimizer steps over which ``r`` goes 1 → 0
            (the paper's default 0.5). Ignored when ``anneal_steps`` is set.
        anneal_steps: explicit number of optimizer steps for the annealing.
        schedule: ``"cosine"`` (paper default) or ``"linear"``.
        warmup_steps: steps at ``r = 1`` before annealing starts.

    Example (YAML)::

        trainer:
          callbacks:
            - class_path: ffn_lightning.SelfGuidedTraining
              init_args: {anneal_fraction: 0.5}
        model:
          ffn: {class_path: ffn_blocks.LowRankMLP, init_args: {self_guided: true}}
    """

    def __init__(
        self,
        anneal_fraction: float = 0.5,
        anneal_steps: int | None = None,
        schedule: Literal["cosine", "linear"] = "cosine",
        warmup_steps: int = 0,
    ) -> None:
        check_ratio("SelfGuidedTraining", "anneal_fraction", anneal_fraction, high_inclusive=True)
        if anneal_steps is not None and anneal_steps < 1:
            raise ValueError(f"SelfGuidedTraining: anneal_steps={anneal_steps} must be a positive integer")
        if schedule not in ("cosine", "linear"):
            raise ValueError(f"SelfGuidedTraining: schedule={schedule!r} must be 'cosine' or 'linear'")
        if warmup_steps < 0:
            raise ValueError(f"SelfGuidedTraining: warmup_steps={warmup_steps} must be >= 0")
        self.anneal_fraction = anneal_fraction
        self.anneal_steps = anneal_steps
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self._total: int | None = None

    def ratio_at(self, step: int, anneal_steps: int) -> float:
        """Guide ratio at optimizer step ``step`` when annealing lasts ``anneal_steps`` steps."""
        progress = (step - self.warmup_steps) / max(1, anneal_steps)
        progress = min(1.0, max(0.0, progress))
        if self.schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.anneal_steps is not None:
            self._total = self.anneal_steps
        else:
            self._total = max(1, int(self.anneal_fraction * trainer.estimated_stepping_batches))
        if set_guide_ratio(pl_module, self.ratio_at(trainer.global_step, self._total)) == 0:
            rank_zero_warn(
                "SelfGuidedTraining: the model has no self-guided layer; build its FFN with self_guided=True"
            )

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        assert self._total is not None
        ratio = self.ratio_at(trainer.global_step, self._total)
        set_guide_ratio(pl_module, ratio)
        pl_module.log("self_guided/ratio", ratio, on_step=True, on_epoch=False)
