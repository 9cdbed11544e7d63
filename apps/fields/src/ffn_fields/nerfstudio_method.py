"""nerfstudio method plugin: ``ns-train ffn-cam --data PATH`` trains our field in nerfstudio's trainer.

Registered under nerfstudio's ``nerfstudio.method_configs`` entry-point group (see the app's
``pyproject.toml``), so ``ns-train --help`` lists ``ffn-cam`` (CAM field) and ``ffn-pe`` (plain
Fourier-feature field). Both are `RadianceRenderer` — the module the app's Lightning task trains —
wrapped in nerfstudio's `Model` interface; nothing here needs CUDA (no tcnn, nerfacc or gsplat), so
``--machine.device-type cpu`` works::

    ns-train ffn-cam --data path/to/blender/scene --machine.device-type cpu --vis tensorboard
    ns-train ffn-cam --data PATH --pipeline.model.ffn SwiGLU --pipeline.model.width 128
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import torch
import torch.nn.functional as F
from nerfstudio.configs.base_config import ViewerConfig
from nerfstudio.data.datamanagers.base_datamanager import VanillaDataManagerConfig
from nerfstudio.data.dataparsers.blender_dataparser import BlenderDataParserConfig
from nerfstudio.engine.optimizers import AdamOptimizerConfig
from nerfstudio.engine.trainer import TrainerConfig
from nerfstudio.models.base_model import Model, ModelConfig
from nerfstudio.pipelines.base_pipeline import VanillaPipelineConfig
from nerfstudio.plugins.types import MethodSpecification
from torch.nn import Parameter
from torchmetrics.image import PeakSignalNoiseRatio

import ffn_blocks

from .fields import CAMField, PEField
from .radiance import RadianceRenderer

__all__ = ["FFNFieldModel", "FFNFieldModelConfig", "ffn_cam", "ffn_pe"]


@dataclass
class FFNFieldModelConfig(ModelConfig):
    """Our field inside nerfstudio: which field, its FFN block (any ``ffn_blocks`` name) and sizes."""

    _target: type = field(default_factory=lambda: FFNFieldModel)
    field: Literal["cam", "pe"] = "cam"
    """``cam``: Fourier features + coordinate-aware modulation; ``pe``: Fourier features only."""
    ffn: str = "MLP"
    """Name of the FFN block in ``ffn_blocks`` (MLP, SwiGLU, LowRankMLP, KANLayer, ...)."""
    width: int = 128
    depth: int = 3
    num_frequencies: int = 8
    resolution: int = 16
    """CAM grid cells per axis."""
    modulated_blocks: int = 1
    num_coarse_samples: int = 64
    num_importance_samples: int = 64
    near_plane: float = 2.0
    far_plane: float = 6.0
    scene_radius: float = 1.5
    background_color: Literal["white", "black"] = "white"
    enable_collider: bool = False  # the renderer applies its own near/far collider


class FFNFieldModel(Model):
    """nerfstudio `Model` around `RadianceRenderer` (coarse + PDF-resampled fine rendering, one field)."""

    config: FFNFieldModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        c = self.config
        if c.ffn not in ffn_blocks.__all__:
            raise ValueError(f"FFNFieldModelConfig.ffn={c.ffn!r} is not an ffn_blocks block")
        ffn = getattr(ffn_blocks, c.ffn)
        common = {"ffn": ffn, "width": c.width, "depth": c.depth, "num_frequencies": c.num_frequencies}
        if c.field == "cam":
            factory = partial(
                CAMField, **common, resolution=c.resolution, modulated_blocks=c.modulated_blocks
            )
        else:
            factory = partial(PEField, **common)
        self.renderer = RadianceRenderer(
            factory,
            num_samples=c.num_coarse_samples,
            num_importance_samples=c.num_importance_samples,
            near=c.near_plane,
            far=c.far_plane,
            scene_radius=c.scene_radius,
            background=c.background_color,
        )
        self.psnr = PeakSignalNoiseRatio(data_range=1.0)

    def get_param_groups(self) -> dict[str, list[Parameter]]:
        grids = {id(p) for p in self.renderer.field.grid_parameters()}
        groups = {"fields": [p for p in self.renderer.parameters() if id(p) not in grids]}
        if grids:
            groups["grids"] = self.renderer.field.grid_parameters()
        return groups

    def get_outputs(self, ray_bundle: Any) -> dict[str, torch.Tensor]:
        return self.renderer(ray_bundle)

    def get_metrics_dict(self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, Any]:
        image = batch["image"].to(outputs["rgb"].device)[..., :3]
        return {"psnr": self.psnr(outputs["rgb"], image)}

    def get_loss_dict(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, Any], metrics_dict: Any = None
    ):
        image = batch["image"].to(outputs["rgb"].device)[..., :3]
        return {
            "rgb_loss_coarse": F.mse_loss(outputs["rgb_coarse"], image),
            "rgb_loss_fine": F.mse_loss(outputs["rgb"], image),
        }

    def get_image_metrics_and_images(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]
    ) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        image = batch["image"].to(outputs["rgb"].device)[..., :3]
        rgb = outputs["rgb"].clamp(0, 1)
        psnr = self.psnr(rgb.permute(2, 0, 1)[None], image.permute(2, 0, 1)[None])
        depth = outputs["depth"]
        depth = (depth - depth.min()) / (depth.max() - depth.min()).clamp_min(1e-8)
        images = {"img": torch.cat([image, rgb], dim=1), "depth": depth.expand(*depth.shape[:2], 3)}
        return {"psnr": float(psnr)}, images


def _trainer_config(method: str, model_field: Literal["cam", "pe"]) -> TrainerConfig:
    adam = {"optimizer": AdamOptimizerConfig(lr=5e-3, eps=1e-15), "scheduler": None}
    grid_adam = {"optimizer": AdamOptimizerConfig(lr=5e-2, eps=1e-15), "scheduler": None}  # CAM: 10× lr
    return TrainerConfig(
        method_name=method,
        steps_per_eval_batch=200,
        steps_per_eval_image=500,
        steps_per_save=1000,
        max_num_iterations=5000,
        pipeline=VanillaPipelineConfig(
            datamanager=VanillaDataManagerConfig(
                dataparser=BlenderDataParserConfig(),
                train_num_rays_per_batch=1024,
                eval_num_rays_per_batch=1024,
            ),
            model=FFNFieldModelConfig(field=model_field, eval_num_rays_per_chunk=4096),
        ),
        optimizers={"fields": adam, "grids": grid_adam},
        viewer=ViewerConfig(num_rays_per_chunk=4096),
    )


ffn_cam = MethodSpecification(
    config=_trainer_config("ffn-cam", "cam"),
    description="FFN study: Fourier features + coordinate-aware modulation (CAM), any ffn_blocks FFN.",
)
ffn_pe = MethodSpecification(
    config=_trainer_config("ffn-pe", "pe"),
    description="FFN study: plain Fourier-feature field (CAM's baseline), any ffn_blocks FFN.",
)
