"""RePaViT: a DeiT/ViT whose FFNs are `ffn_blocks.RePaMLP`, registered in timm's model registry.

From "RePaViT: Scalable Vision Transformer Acceleration via Structural Reparameterization on
Feedforward Network Layers" (Xu et al., ICML 2025, https://arxiv.org/abs/2505.21847). The details that
matter, as in the official code (Ackesnal/RePaViT, ``repavit.py``, ``Mlp`` with ``feature_norm="BatchNorm"``):
the FFN's pre-norm is a BatchNorm (attention keeps LayerNorm) and a second BatchNorm normalizes the hidden
width after the activation, the activation applies to the first ``ceil(hidden · (1 − θ))`` hidden
channels, and after `ffn_blocks.reparameterize` the idle path, both BatchNorms and the residual shortcut
are one ``C × C`` matrix per block (the hidden one folds into the output layer).

Any other `ffn_blocks` block can take the RePaMLP's place: ``timm.create_model(name, ffn=SwiGLU)``.
The FFN blocks keep their own initialization (timm's truncated-normal 0.02 applies to everything else),
so e.g. `KANLayer`'s variance-preserving init survives.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import VisionTransformer, build_model_with_cfg, generate_default_cfgs, register_model

from ffn_blocks import FeedForward, FeedForwardFactory, LastDimBatchNorm, RePaMLP

from .vit_block import FFNBlock

__all__ = ["REPAVIT_SIZES", "create_repavit"]

#: name → (embed_dim, depth, num_heads), the DeiT/ViT sizes.
REPAVIT_SIZES = {
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
    "large": (1024, 24, 16),
    "huge": (1280, 32, 16),
}


def _cfg(input_size: tuple[int, int, int], **kwargs: Any) -> dict[str, Any]:
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": input_size,
        "pool_size": None,
        "crop_pct": 0.9 if input_size[-1] >= 224 else 1.0,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.proj",
        "classifier": "head",
        "license": "none: no pretrained weights are published for these names",
        **kwargs,
    }


default_cfgs = generate_default_cfgs(
    {
        **{f"ffn_repavit_{size}_patch16_224": _cfg((3, 224, 224)) for size in REPAVIT_SIZES},
        **{f"ffn_repavit_{size}_patch4_32": _cfg((3, 32, 32), num_classes=10) for size in ("tiny", "small")},
    }
)


def create_repavit(
    variant: str, pretrained: bool = False, *, ffn: FeedForwardFactory | None = None, **kwargs: Any
) -> VisionTransformer:
    """Build a RePaViT through timm's builder; ``ffn`` defaults to the official FFN: `RePaMLP` with θ = 0.75
    and a BatchNorm over the hidden width after the activation (``hidden_norm``; the FFN's pre-norm is
    ``ffn_norm``, a BatchNorm too). ``ffn=partial(RePaMLP, idle_ratio=0.75)`` is the variant without the
    hidden BatchNorm (what this package built before 2026-12-03)."""
    if pretrained:
        raise ValueError(f"{variant}: no pretrained weights exist for this model; use pretrained=False")
    ffn = ffn or partial(RePaMLP, idle_ratio=0.75, hidden_norm=LastDimBatchNorm)
    ffn_norm = kwargs.pop("ffn_norm", LastDimBatchNorm)
    model = build_model_with_cfg(
        VisionTransformer,
        variant,
        pretrained=False,
        block_fn=partial(FFNBlock, ffn=ffn, ffn_norm=ffn_norm),
        **kwargs,
    )
    for module in model.modules():  # the FFN blocks' own init wins over timm's trunc-normal 0.02
        if isinstance(module, FeedForward):
            module.reset_parameters()
    return model


def _sized(size: str, patch_size: int, img_size: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    embed_dim, depth, num_heads = REPAVIT_SIZES[size]
    defaults = {
        "patch_size": patch_size,
        "img_size": img_size,
        "embed_dim": embed_dim,
        "depth": depth,
        "num_heads": num_heads,
    }
    return {**defaults, **kwargs}


@register_model
def ffn_repavit_tiny_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """RePaViT-Tiny (DeiT-Ti, 192 wide, 12 blocks, 3 heads), 16×16 patches at 224²."""
    return create_repavit("ffn_repavit_tiny_patch16_224", pretrained, **_sized("tiny", 16, 224, kwargs))


@register_model
def ffn_repavit_small_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """RePaViT-Small (DeiT-S, 384 wide, 12 blocks, 6 heads), 16×16 patches at 224²."""
    return create_repavit("ffn_repavit_small_patch16_224", pretrained, **_sized("small", 16, 224, kwargs))


@register_model
def ffn_repavit_base_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """RePaViT-Base (DeiT-B, 768 wide, 12 blocks, 12 heads), 16×16 patches at 224²."""
    return create_repavit("ffn_repavit_base_patch16_224", pretrained, **_sized("base", 16, 224, kwargs))


@register_model
def ffn_repavit_large_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """RePaViT-Large (ViT-L, 1024 wide, 24 blocks, 16 heads), 16×16 patches at 224²."""
    return create_repavit("ffn_repavit_large_patch16_224", pretrained, **_sized("large", 16, 224, kwargs))


@register_model
def ffn_repavit_huge_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """RePaViT-Huge (ViT-H, 1280 wide, 32 blocks, 16 heads), 16×16 patches at 224²."""
    return create_repavit("ffn_repavit_huge_patch16_224", pretrained, **_sized("huge", 16, 224, kwargs))


@register_model
def ffn_repavit_tiny_patch4_32(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """RePaViT-Tiny for 32×32 images (CIFAR-sized): 4×4 patches, 64 tokens."""
    return create_repavit("ffn_repavit_tiny_patch4_32", pretrained, **_sized("tiny", 4, 32, kwargs))


@register_model
def ffn_repavit_small_patch4_32(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """RePaViT-Small for 32×32 images (CIFAR-sized): 4×4 patches, 64 tokens."""
    return create_repavit("ffn_repavit_small_patch4_32", pretrained, **_sized("small", 4, 32, kwargs))
