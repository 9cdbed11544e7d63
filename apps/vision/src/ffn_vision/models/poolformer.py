"""PoolFormer (MetaFormer with a pooling token mixer) whose channel MLP is an injected `ffn_blocks` block.

From "MetaFormer Is Actually What You Need for Vision" (Yu et al., CVPR 2022,
https://arxiv.org/abs/2111.11418). Each block is ``x + ls₁ · (pool(n₁(x)) − n₁(x))`` followed by
``x + ls₂ · ffn(n₂(x))`` with GroupNorm of one group (normalizing C, H and W together) and layer scale.
The FFN sees channels-last tokens: the network runs in ``torch.channels_last`` memory format, where the
``(B, C, H, W) → (B, H, W, C)`` view the block needs is free. With `ffn_blocks.MLP` the parameter counts
equal timm's ``poolformer_*`` exactly. Registered in timm as ``ffn_poolformer_{s12,s24,s36,m36,m48}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import DropPath, GroupNorm1, trunc_normal_
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.metaformer import Pooling, Scale
from torch import nn

from ffn_blocks import MLP, Dropout, FeedForward, FeedForwardFactory, reparameterize

__all__ = ["POOLFORMER_SIZES", "PoolFormer", "PoolFormerBlock"]

#: name → (depths, dims, layer-scale init), as in the paper and timm.
POOLFORMER_SIZES = {
    "s12": ((2, 2, 6, 2), (64, 128, 320, 512), 1e-5),
    "s24": ((4, 4, 12, 4), (64, 128, 320, 512), 1e-5),
    "s36": ((6, 6, 18, 6), (64, 128, 320, 512), 1e-6),
    "m36": ((6, 6, 18, 6), (96, 192, 384, 768), 1e-6),
    "m48": ((8, 8, 24, 8), (96, 192, 384, 768), 1e-6),
}


class PoolFormerBlock(nn.Module):
    """One MetaFormer block with the pooling mixer; the channel MLP is ``ffn(dim, dim)`` on channels-last.

    A position-wise block sees ``(B, H, W, dim)``; a block that mixes along the sequence axis
    (``position_wise = False``: FSMN, gated conv units, frequency MLPs) sees the feature map as one token
    sequence ``(B, H*W, dim)`` in raster order, as a ViT would.

    Shape:
        - Input: ``(B, dim, H, W)``
        - Output: ``(B, dim, H, W)``
    """

    def __init__(
        self,
        dim: int,
        *,
        ffn: FeedForwardFactory,
        pool_size: int = 3,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm1 = GroupNorm1(dim)
        self.token_mixer = Pooling(pool_size=pool_size)
        self.layer_scale1 = Scale(dim, init_value=layer_scale_init)
        self.norm2 = GroupNorm1(dim)
        self.mlp = ffn(dim, dim)
        self.layer_scale2 = Scale(dim, init_value=layer_scale_init)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale1(self.token_mixer(self.norm1(x))))
        tokens = self.norm2(x).permute(0, 2, 3, 1)  # a free view in channels_last memory format
        if getattr(self.mlp, "position_wise", True):
            mixed = self.mlp(tokens)
        else:
            b, h, w, c = tokens.shape
            mixed = self.mlp(tokens.reshape(b, h * w, c)).reshape(b, h, w, -1)
        return x + self.drop_path(self.layer_scale2(mixed.permute(0, 3, 1, 2)))

    def reparameterize(self) -> None:
        """Reparameterize inside the FFN (GroupNorm does not fold: it normalizes over H and W too)."""
        self.mlp = reparameterize(self.mlp, inplace=True)


class PoolFormer(nn.Module):
    """PoolFormer: a 7×7/4 stem, four stages of `PoolFormerBlock` joined by 3×3/2 downsampling convs.

    Args:
        depths: blocks per stage.
        dims: channels per stage.
        ffn: channel-MLP factory, called as ``ffn(dim, dim)`` (hidden width: the block's own, 4× by default).
        in_chans: input channels.
        num_classes: classifier outputs (0 for features only).
        img_size: accepted for timm's common interface; the network is convolutional (any size ≥ 32).
        layer_scale_init: initial layer-scale value.
        drop_path_rate: stochastic-depth rate, growing linearly with depth.
        drop_rate: dropout before the classifier.
    """

    def __init__(
        self,
        depths: Sequence[int] = (2, 2, 6, 2),
        dims: Sequence[int] = (64, 128, 320, 512),
        *,
        ffn: FeedForwardFactory = MLP,
        in_chans: int = 3,
        num_classes: int = 1000,
        img_size: int | None = None,
        layer_scale_init: float = 1e-5,
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if len(depths) != len(dims):
            raise ValueError(f"PoolFormer: depths has {len(depths)} stages but dims has {len(dims)}")
        if img_size is not None and img_size < 32:
            raise ValueError(f"PoolFormer: img_size={img_size} must be at least 32 (four downsamplings)")
        self.num_classes = num_classes
        self.num_features = dims[-1]
        self.stem = nn.Conv2d(in_chans, dims[0], kernel_size=7, stride=4, padding=2)
        total = sum(depths)  # stochastic-depth rates grow linearly (plain Python: works on the meta device)
        rates = [drop_path_rate * i / max(1, total - 1) for i in range(total)]
        stages, start = [], 0
        for i, (depth, dim) in enumerate(zip(depths, dims, strict=True)):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.Conv2d(dims[i - 1], dim, kernel_size=3, stride=2, padding=1))
            layers += [
                PoolFormerBlock(dim, ffn=ffn, drop_path=rates[start + j], layer_scale_init=layer_scale_init)
                for j in range(depth)
            ]
            stages.append(nn.Sequential(*layers))
            start += depth
        self.stages = nn.Sequential(*stages)
        self.norm = GroupNorm1(dims[-1])
        self.head_drop = Dropout(drop_rate)
        self.head = nn.Linear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)
        for module in self.modules():  # the FFN blocks' own init wins over the paper's trunc-normal 0.02
            if isinstance(module, FeedForward):
                module.reset_parameters()

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Conv2d | nn.Linear):
            trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        return self.norm(self.stages(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_drop(x.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


default_cfgs = generate_default_cfgs(
    {
        f"ffn_poolformer_{size}": {
            "url": "",
            "num_classes": 1000,
            "input_size": (3, 224, 224),
            "pool_size": (7, 7),
            "crop_pct": 0.9 if size.startswith("s") else 0.95,
            "interpolation": "bicubic",
            "mean": IMAGENET_DEFAULT_MEAN,
            "std": IMAGENET_DEFAULT_STD,
            "first_conv": "stem",
            "classifier": "head",
            "license": "none: no pretrained weights are published for these names",
        }
        for size in POOLFORMER_SIZES
    }
)


def _create(size: str, pretrained: bool, kwargs: dict[str, Any]) -> PoolFormer:
    variant = f"ffn_poolformer_{size}"
    if pretrained:
        raise ValueError(f"{variant}: no pretrained weights exist for this model; use pretrained=False")
    depths, dims, layer_scale = POOLFORMER_SIZES[size]
    kwargs = {"depths": depths, "dims": dims, "layer_scale_init": layer_scale, **kwargs}
    if kwargs.get("ffn") is None:
        kwargs.pop("ffn", None)
    return build_model_with_cfg(PoolFormer, variant, pretrained=False, **kwargs)


@register_model
def ffn_poolformer_s12(pretrained: bool = False, **kwargs: Any) -> PoolFormer:
    """PoolFormer-S12: depths 2/2/6/2, dims 64/128/320/512 (11.9 M parameters with `MLP`)."""
    return _create("s12", pretrained, kwargs)


@register_model
def ffn_poolformer_s24(pretrained: bool = False, **kwargs: Any) -> PoolFormer:
    """PoolFormer-S24: depths 4/4/12/4, dims 64/128/320/512."""
    return _create("s24", pretrained, kwargs)


@register_model
def ffn_poolformer_s36(pretrained: bool = False, **kwargs: Any) -> PoolFormer:
    """PoolFormer-S36: depths 6/6/18/6, dims 64/128/320/512."""
    return _create("s36", pretrained, kwargs)


@register_model
def ffn_poolformer_m36(pretrained: bool = False, **kwargs: Any) -> PoolFormer:
    """PoolFormer-M36: depths 6/6/18/6, dims 96/192/384/768."""
    return _create("m36", pretrained, kwargs)


@register_model
def ffn_poolformer_m48(pretrained: bool = False, **kwargs: Any) -> PoolFormer:
    """PoolFormer-M48: depths 8/8/24/8, dims 96/192/384/768."""
    return _create("m48", pretrained, kwargs)
