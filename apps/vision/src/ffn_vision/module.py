"""`ImageClassifier`: the LightningModule around any timm-registered model built with an injected FFN."""

from __future__ import annotations

from typing import Any

import timm
import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

import ffn_vision.models  # noqa: F401 -- registers ffn_repavit_* and ffn_poolformer_* in timm
from ffn_blocks import FeedForwardFactory, auxiliary_loss, reparameterize
from ffn_lightning import ScheduleFactory, WarmupCosineLR, register_safe_globals

__all__ = ["ImageClassifier"]

_MERGED_KEY = "ffn_vision_merged"


class ImageClassifier(LightningModule):
    """Image classification with label smoothing, optional Mixup/CutMix, injected optimizer and schedule.

    Args:
        model_name: any timm model name; ``ffn_repavit_*`` and ``ffn_poolformer_*`` take ``ffn``.
        ffn: feed-forward factory for every FFN of the model (None: the architecture's default,
            `RePaMLP` θ=0.75 for RePaViT, `MLP` for PoolFormer).
        num_classes: classifier outputs (linked from the DataModule).
        in_chans: input channels (linked from the DataModule).
        img_size: input side (linked from the DataModule); passed to the ``ffn_*`` models (others take
            it through ``model_kwargs`` if they need it).
        model_kwargs: extra keyword arguments for the model (e.g. ``depth``, ``embed_dim``).
        drop_path_rate: stochastic depth.
        label_smoothing: smoothing of the targets.
        mixup_alpha: Mixup's Beta parameter (0 disables).
        cutmix_alpha: CutMix's Beta parameter (0 disables).
        optimizer: optimizer factory, called with the parameter groups.
        lr_scheduler: schedule factory ``(optimizer, total_steps)``, stepped every optimizer step.
        merged: build the reparameterized (inference-only) model, e.g. to load a merged checkpoint.
        compile: compile the timm model with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        model_name: str = "ffn_repavit_tiny_patch4_32",
        ffn: FeedForwardFactory | None = None,
        num_classes: int = 10,
        in_chans: int = 3,
        img_size: int = 32,
        model_kwargs: dict[str, Any] | None = None,
        drop_path_rate: float = 0.0,
        label_smoothing: float = 0.1,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: ScheduleFactory = WarmupCosineLR,
        merged: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if not timm.is_model(model_name):
            raise ValueError(f"ImageClassifier: model_name={model_name!r} is not in timm's registry")
        kwargs = dict(model_kwargs or {})
        if model_name.startswith("ffn_"):  # ours take the FFN factory and the image size
            kwargs.update(ffn=ffn, img_size=kwargs.get("img_size", img_size))
        elif ffn is not None:
            raise ValueError(f"ImageClassifier: model_name={model_name!r} takes no ffn; use an ffn_* model")
        self.model = timm.create_model(
            model_name, num_classes=num_classes, in_chans=in_chans, drop_path_rate=drop_path_rate, **kwargs
        )
        if compile:
            self.model.compile()
        self.optimizer_factory = optimizer
        self.schedule_factory = lr_scheduler
        self.mixup = (
            Mixup(
                mixup_alpha=mixup_alpha,
                cutmix_alpha=cutmix_alpha,
                label_smoothing=label_smoothing,
                num_classes=num_classes,
            )
            if mixup_alpha > 0 or cutmix_alpha > 0
            else None
        )
        self.soft_criterion = SoftTargetCrossEntropy()
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        metrics = MetricCollection(
            {
                "acc1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
                "acc5": MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro"),
            }
        )
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.is_merged = False
        if merged:
            self.merge()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def merge(self) -> None:
        """Reparameterize the model in place (eval-mode equivalent, inference only)."""
        if not self.is_merged:
            reparameterize(self.model.eval(), inplace=True)
            self.is_merged = True

    def _shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        images, labels = batch
        if stage == "train" and self.mixup is not None:
            images, soft_targets = self.mixup(images, labels)
            logits = self(images)
            loss = self.soft_criterion(logits, soft_targets)
        else:
            logits = self(images)
            loss = self.criterion(logits, labels)
        if stage == "train":
            loss = loss + auxiliary_loss(self.model)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits.detach(), labels)
        self.log(f"{stage}/loss", loss, prog_bar=stage != "test", on_step=stage == "train", on_epoch=True)
        self.log_dict(metrics, prog_bar=stage == "val", on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.is_merged:
            raise RuntimeError("ImageClassifier: a merged (reparameterized) model is inference-only")
        return self._shared_step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        images = batch[0] if isinstance(batch, list | tuple) else batch
        logits = self(images)
        return {"logits": logits, "prediction": logits.argmax(dim=-1)}

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Weight decay on matrices only: not on biases, norms, layer scales, tokens, position embeddings."""
        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            if param.requires_grad:
                skip = param.ndim <= 1 or name.endswith(("cls_token", "pos_embed"))
                (no_decay if skip else decay).append(param)
        return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(self.parameter_groups())
        scheduler = self.schedule_factory(optimizer, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[_MERGED_KEY] = self.is_merged

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # A merged checkpoint loads into a module built unmerged (e.g. `ffn-vision test --ckpt_path`):
        # merge the structure first so the state dict fits.
        if checkpoint.get(_MERGED_KEY, False):
            self.merge()


register_safe_globals()  # checkpoints naming these classes load with weights_only=True
