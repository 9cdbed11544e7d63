"""2-D image fitting: a field maps pixel coordinates to colour; PSNR/SSIM with torchmetrics.

Images come from scikit-image's bundled data (``astronaut``, ``camera``, ``coffee``, ``chelsea``, ...;
no download) or any image file. Coordinates are pixel centres in ``[−1, 1]²``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, Dataset
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from ffn_blocks import auxiliary_loss
from ffn_lightning import ResumableDataLoader, register_safe_globals

from .fields import CAMField, Field, parameter_groups

__all__ = ["ImageData", "ImageFitting", "load_image", "pixel_coordinates"]

SKIMAGE_IMAGES = ("astronaut", "camera", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry")


def load_image(source: str, size: int | None = 256) -> torch.Tensor:
    """``(H, W, 3)`` float in ``[0, 1]``: a scikit-image sample by name, or an image file path.

    Grey images are repeated to three channels; ``size`` resizes the shorter side (None keeps it).
    """
    if source in SKIMAGE_IMAGES:
        import skimage.data

        array = getattr(skimage.data, source)()
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no such image file (or skimage sample name; known: {SKIMAGE_IMAGES})"
            )
        from PIL import Image, UnidentifiedImageError

        try:
            array = np.asarray(Image.open(path).convert("RGB"))
        except UnidentifiedImageError:
            raise ValueError(f"{path}: not an image file") from None
    image = torch.from_numpy(
        np.asarray(array, dtype=np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    )
    if image.ndim == 2:
        image = image[..., None].repeat(1, 1, 3)
    image = image[..., :3]
    if size is not None:
        h, w = image.shape[:2]
        scale = size / min(h, w)
        image = F.interpolate(
            image.permute(2, 0, 1)[None], size=(round(h * scale), round(w * scale)), mode="area"
        )[0].permute(1, 2, 0)
    return image.clamp(0, 1)


def pixel_coordinates(height: int, width: int) -> torch.Tensor:
    """``(H, W, 2)`` pixel centres in ``[−1, 1]``, x (column) first."""
    ys = (torch.arange(height) + 0.5) / height * 2 - 1
    xs = (torch.arange(width) + 0.5) / width * 2 - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


class _Pixels(Dataset):
    """``steps`` random batches of ``batch_size`` pixels per epoch (new pixels every epoch, see
    ``set_epoch``), or every pixel ``steps`` times (``batch_size=None``: full-batch training, or
    evaluation with ``steps=1``); ``stride`` keeps every stride-th pixel along each axis."""

    def __init__(
        self, image: torch.Tensor, batch_size: int | None, steps: int, seed: int = 0, stride: int = 1
    ) -> None:
        self.coords = pixel_coordinates(*image.shape[:2])[::stride, ::stride].reshape(-1, 2)
        self.colors = image[::stride, ::stride].reshape(-1, 3)
        self.batch_size, self.steps, self.seed, self.epoch = batch_size, steps, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.batch_size:
            return self.coords, self.colors
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_003 + index)
        pick = torch.randint(len(self.colors), (self.batch_size,), generator=generator)
        return self.coords[pick], self.colors[pick]


class ImageData(LightningDataModule):
    """One image to fit: random pixel batches for training, the full image for validation and test.

    Args:
        image: a scikit-image sample name or an image path.
        size: shorter side after resizing (None: original).
        batch_size: pixels per training step (None: every training pixel every step).
        steps_per_epoch: training batches per epoch.
        train_stride: train on every this-many-th pixel along each axis (the CAM paper's image code: 2,
            so three quarters of the pixels are only seen at evaluation); validation and test score
            the full image.
    """

    def __init__(
        self,
        image: str = "astronaut",
        size: int | None = 256,
        batch_size: int | None = 16384,
        steps_per_epoch: int = 100,
        train_stride: int = 1,
    ) -> None:
        super().__init__()
        if train_stride < 1:
            raise ValueError(f"ImageData: train_stride={train_stride} must be >= 1")
        self.train_stride = train_stride
        self.image = load_image(image, size)
        self.name, self.batch_size, self.steps_per_epoch = image, batch_size, steps_per_epoch
        self.image_shape = tuple(self.image.shape[:2])

    def train_dataloader(self) -> DataLoader:
        return ResumableDataLoader(
            _Pixels(self.image, self.batch_size, self.steps_per_epoch, stride=self.train_stride),
            batch_size=None,
        )

    def val_dataloader(self) -> DataLoader:
        return ResumableDataLoader(_Pixels(self.image, None, 1), batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()


class ImageFitting(LightningModule):
    """Regress colours from coordinates with MSE; PSNR and SSIM of the full reconstruction.

    Args:
        field: field factory, called with ``(2, 3)``: pixel coordinates → RGB. None: `CAMField` (no class
            default, so a config naming another field gets that field's own defaults, not CAMField's).
        optimizer: optimizer factory, called with parameter groups.
        grid_lr_scale: learning-rate multiplier of grid parameters (CAM paper: 10).
        lr_scheduler: learning-rate scheduler factory, stepped every training step (CAM's image code:
            ``MultiStepLR`` at steps 1000 and 1500, γ = 0.1); None: a constant rate.
        image_shape: linked from the data, to rebuild images for logging and SSIM.
        compile: compile the field with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        field: Callable[[int, int], Field] | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        grid_lr_scale: float = 10.0,
        image_shape: tuple[int, int] = (256, 256),
        lr_scheduler: LRSchedulerCallable | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.field: Field = (field or CAMField)(2, 3)
        if compile:
            self.field.compile()
        self.optimizer_factory, self.scheduler_factory = optimizer, lr_scheduler
        self.psnr = PeakSignalNoiseRatio(data_range=1.0)
        self.ssim = StructuralSimilarityIndexMeasure(data_range=1.0)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.field(coords)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        coords, colors = batch
        loss = F.mse_loss(self(coords), colors) + auxiliary_loss(self.field)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def _evaluate(self, batch: Any, stage: str) -> None:
        coords, colors = batch
        h, w = self.hparams.image_shape
        with torch.no_grad():
            prediction = torch.cat([self(c) for c in coords.split(65536)]).clamp(0, 1)
        image, target = (
            prediction.reshape(1, h, w, 3).permute(0, 3, 1, 2),
            colors.reshape(1, h, w, 3).permute(0, 3, 1, 2),
        )
        self.psnr(image, target)
        self.ssim(image, target)
        self.log(f"{stage}/psnr", self.psnr, prog_bar=True)
        self.log(f"{stage}/ssim", self.ssim)
        if stage == "val" and self.trainer.is_global_zero and not self.trainer.sanity_checking:
            for logger in self.trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image("val/reconstruction", image[0], self.global_step)
                    error = (image - target).abs().mean(1)[0]
                    logger.experiment.add_image(
                        "val/error", (error / error.max().clamp_min(1e-8))[None], self.global_step
                    )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self) -> Any:
        groups = parameter_groups(self.field, self.optimizer_factory, self.hparams.grid_lr_scale)
        optimizer = self.optimizer_factory(groups)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


register_safe_globals()  # checkpoints naming these classes load with weights_only=True
