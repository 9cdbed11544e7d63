"""3-D radiance fields from nerfstudio's parts: cameras and rays, uniform + PDF samplers, renderers.

`RadianceRenderer` is the whole differentiable renderer (field + samplers + RGB/depth/accumulation
renderers) as one ``nn.Module`` taking a nerfstudio `RayBundle`; the Lightning module here and the
nerfstudio method plugin (`ffn_fields.nerfstudio_method`) both train it. Data is any blender-format
folder read by nerfstudio's own `Blender` dataparser; without a path the app writes its analytic scene
(`ffn_fields.scene`) once into a cache folder and reads that.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.loggers import TensorBoardLogger
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.dataparsers.blender_dataparser import BlenderDataParserConfig
from nerfstudio.data.datasets.base_dataset import InputDataset
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler
from nerfstudio.model_components.renderers import AccumulationRenderer, DepthRenderer, RGBRenderer
from nerfstudio.model_components.scene_colliders import NearFarCollider
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchmetrics.image import PeakSignalNoiseRatio

from ffn_blocks import auxiliary_loss
from ffn_data import cache_root
from ffn_lightning import ResumableDataLoader, register_safe_globals

from .fields import CAMField, Field, parameter_groups
from .scene import write_blender_scene

__all__ = ["BlenderData", "RadianceFitting", "RadianceRenderer", "analytic_scene_path", "load_blender_split"]


class RadianceRenderer(nn.Module):
    """A field of density and colour rendered along rays: coarse uniform samples, then PDF samples.

    One field serves both passes (as in mip-NeRF) and the loss supervises both renderings.

    Args:
        field: field factory, called with ``(3, 4)``: position → (density logit, RGB logits).
            None: `CAMField` (no class default, so a config naming another field gets that field's
            own defaults, not CAMField's).
        num_samples: uniform samples per ray.
        num_importance_samples: extra samples per ray drawn from the coarse weights (0: none).
        near: near plane distance.
        far: far plane distance.
        scene_radius: positions are divided by it, so the scene box maps to ``[−1, 1]³``.
        background: background colour name or RGB, as nerfstudio's `RGBRenderer` takes it.
    """

    def __init__(
        self,
        field: Callable[[int, int], Field] | None = None,
        *,
        num_samples: int = 48,
        num_importance_samples: int = 48,
        near: float = 2.0,
        far: float = 6.0,
        scene_radius: float = 1.5,
        background: str = "white",
    ) -> None:
        super().__init__()
        self.field = (field or CAMField)(3, 4)
        self.collider = NearFarCollider(near, far, reset_near_plane=False)
        self.uniform = UniformSampler(num_samples=num_samples)
        self.pdf = PDFSampler(num_samples=num_importance_samples) if num_importance_samples else None
        self.rgb_renderer = RGBRenderer(background_color=background)
        self.depth_renderer = DepthRenderer(method="expected")
        self.accumulation_renderer = AccumulationRenderer()
        self.scene_radius = scene_radius

    def _shade(self, samples: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        positions = samples.frustums.get_positions() / self.scene_radius
        raw = self.field(positions)
        density = F.softplus(raw[..., :1] - 1.0)  # shifted so that empty space starts nearly transparent
        weights = samples.get_weights(density)
        rgb = self.rgb_renderer(rgb=torch.sigmoid(raw[..., 1:]), weights=weights)
        return rgb, weights, density

    def forward(self, rays: RayBundle) -> dict[str, torch.Tensor]:
        """``rgb``, ``depth``, ``accumulation`` (and ``rgb_coarse``), each ``(*rays, C)``."""
        rays = self.collider(rays)
        samples = self.uniform(rays)
        rgb, weights, _ = self._shade(samples)
        outputs = {"rgb_coarse": rgb}
        if self.pdf is not None:
            samples = self.pdf(rays, samples, weights.detach())
            rgb, weights, _ = self._shade(samples)
        outputs["rgb"] = rgb
        outputs["depth"] = self.depth_renderer(weights=weights, ray_samples=samples)
        outputs["accumulation"] = self.accumulation_renderer(weights=weights)
        return outputs

    def render_in_chunks(self, rays: RayBundle, chunk: int = 4096) -> dict[str, torch.Tensor]:
        """Render a large bundle (e.g. a whole image ``(H, W)``) without building its full graph."""
        flat = rays.flatten()
        parts = [self(flat[i : i + chunk]) for i in range(0, len(flat), chunk)]
        return {k: torch.cat([p[k] for p in parts]).reshape(*rays.shape, -1) for k in parts[0]}


def analytic_scene_path(root: str | Path | None = None) -> Path:
    """Folder of the app's generated blender scene in the data cache (`ffn_data.cache_root`), rendered on
    first use into a temporary folder and renamed into place, so no reader ever sees half a scene."""
    path = cache_root(root) / "analytic-spheres-48px"
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
        write_blender_scene(staging)
        try:
            staging.rename(path)
        except OSError:  # another process got there first: keep its scene
            shutil.rmtree(staging)
    return path


def load_blender_split(path: Path, split: str) -> tuple[Any, torch.Tensor]:
    """nerfstudio cameras and ``(N, H, W, 3)`` images (composited over white) of one split."""
    if not (path / f"transforms_{split}.json").is_file():
        raise FileNotFoundError(f"{path}: not a blender-format scene (no transforms_{split}.json)")
    outputs = BlenderDataParserConfig(data=path, alpha_color="white").setup().get_dataparser_outputs(split)
    dataset = InputDataset(outputs)
    images = torch.stack([dataset.get_image_float32(i) for i in range(len(dataset))])
    return outputs.cameras, images


class _Rays(Dataset):
    """Random batches of rays from all training views, or one whole view per item (evaluation)."""

    def __init__(self, cameras: Any, images: torch.Tensor, batch_size: int | None, steps: int) -> None:
        self.cameras, self.images, self.batch_size, self.steps = cameras, images, batch_size, steps
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """New random rays every epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps if self.batch_size else len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        n, h, w = self.images.shape[:3]
        if not self.batch_size:
            rays = self.cameras.generate_rays(camera_indices=index)
            return torch.cat([rays.origins, rays.directions], -1), self.images[index]
        generator = torch.Generator().manual_seed(self.epoch * 1_000_003 + index)
        view, y, x = (torch.randint(k, (self.batch_size,), generator=generator) for k in (n, h, w))
        coords = torch.stack([y, x], -1).float() + 0.5
        rays = self.cameras.generate_rays(camera_indices=view[:, None], coords=coords)
        return torch.cat([rays.origins, rays.directions], -1), self.images[view, y, x]


class BlenderData(LightningDataModule):
    """A blender-format scene through nerfstudio's dataparser: random rays to train, whole views to test.

    Args:
        path: scene folder with ``transforms_{train,val,test}.json`` (None: the app's analytic scene).
        root: the data cache where the analytic scene is rendered once (default: ``$FFN_STUDY_DATA``,
            else the user cache folder).
        rays_per_batch: rays per training step.
        steps_per_epoch: training batches per epoch.
    """

    def __init__(
        self,
        path: str | None = None,
        root: str | None = None,
        rays_per_batch: int = 1024,
        steps_per_epoch: int = 100,
    ) -> None:
        super().__init__()
        self.path = Path(path) if path is not None else None
        self.root = root
        if self.path is not None and not (self.path / "transforms_train.json").is_file():
            raise FileNotFoundError(f"{self.path}: not a blender-format scene (no transforms_train.json)")
        self.rays_per_batch, self.steps_per_epoch = rays_per_batch, steps_per_epoch

    def setup(self, stage: str) -> None:
        path = self.path or analytic_scene_path(self.root)
        self.splits = {split: load_blender_split(path, split) for split in ("train", "val", "test")}

    def train_dataloader(self) -> DataLoader:
        data = _Rays(*self.splits["train"], self.rays_per_batch, self.steps_per_epoch)
        return ResumableDataLoader(data, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return ResumableDataLoader(_Rays(*self.splits["val"], None, 0), batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return ResumableDataLoader(_Rays(*self.splits["test"], None, 0), batch_size=None)


def _bundle(rays: torch.Tensor) -> RayBundle:
    origins, directions = rays[..., :3], rays[..., 3:]
    return RayBundle(origins=origins, directions=directions, pixel_area=torch.ones_like(origins[..., :1]))


class RadianceFitting(LightningModule):
    """Photometric MSE on the coarse and fine renderings; novel-view PSNR on held-out views.

    Args:
        renderer: the `RadianceRenderer` (its field is the injected part).
        optimizer: optimizer factory, called with parameter groups.
        grid_lr_scale: learning-rate multiplier of grid parameters (CAM's modulation grids).
        chunk: rays per forward pass when rendering whole views.
        compile: compile the renderer's field with ``torch.compile`` (in place, so checkpoint keys do
            not change); off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        renderer: RadianceRenderer | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        grid_lr_scale: float = 10.0,
        chunk: int = 4096,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["renderer"])
        self.renderer = renderer if renderer is not None else RadianceRenderer()
        if compile:
            self.renderer.field.compile()
        self.optimizer_factory = optimizer
        self.psnr = PeakSignalNoiseRatio(data_range=1.0)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        rays, colors = batch
        outputs = self.renderer(_bundle(rays))
        loss = F.mse_loss(outputs["rgb"], colors) + F.mse_loss(outputs["rgb_coarse"], colors)
        loss = loss + auxiliary_loss(self.renderer)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def _evaluate(self, batch: Any, batch_idx: int, stage: str) -> None:
        rays, image = batch
        outputs = self.renderer.render_in_chunks(_bundle(rays), self.hparams.chunk)
        prediction = outputs["rgb"].clamp(0, 1)
        self.psnr(prediction.permute(2, 0, 1)[None], image.permute(2, 0, 1)[None])
        self.log(f"{stage}/psnr", self.psnr, prog_bar=True)
        if batch_idx == 0 and self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._save_view(prediction, image, outputs["depth"], stage)

    def _save_view(
        self, prediction: torch.Tensor, image: torch.Tensor, depth: torch.Tensor, stage: str
    ) -> None:
        depth = (depth - depth.min()) / (depth.max() - depth.min()).clamp_min(1e-8)
        panel = torch.cat([image, prediction, depth.expand_as(image)], dim=1)  # target | rendering | depth
        for logger in self.trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(f"{stage}/novel_view", panel.permute(2, 0, 1), self.global_step)
        if stage == "test" and self.trainer.log_dir:
            import imageio.v2 as imageio

            out = Path(self.trainer.log_dir) / "novel_view.png"
            imageio.imwrite(out, (panel.cpu().numpy() * 255).round().astype("uint8"))

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = parameter_groups(self.renderer.field, self.optimizer_factory, self.hparams.grid_lr_scale)
        return self.optimizer_factory(groups)


register_safe_globals()  # checkpoints naming these classes load with weights_only=True
