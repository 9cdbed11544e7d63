"""Feed-forward (FFN/MLP) blocks with one constructor contract, shared by every app of the FFN study.

Every block maps ``(*, in_features) -> (*, out_features)`` and is built as ``Block(in_features,
out_features, *, hidden_features=None, act=..., bias=True, dropout=0.0, norm=None, ...)``.
This module is the one import path configs use: ``class_path: ffn_blocks.SwiGLU``.
"""

from .base import DEFAULT_EXPANSION, FeedForward, FeedForwardFactory, reparameterize
from .frequency import FrequencyMLP
from .fsmn import ConvFFN, FSMNMemory, GatedConvUnit
from .glu import GLU, GeGLU, SwiGLU
from .kan import GroupRational, KANLayer
from .mlp import MLP
from .modulation import CoordinateModulation
from .moe import MoEMLP, auxiliary_loss
from .norm import LastDimBatchNorm
from .repa import RePaMLP
from .structured import (
    BlockDenseLinear,
    BlockDenseMLP,
    BlockShuffleLinear,
    BlockShuffleMLP,
    LowRankLinear,
    LowRankMLP,
    set_guide_ratio,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EXPANSION",
    "GLU",
    "MLP",
    "BlockDenseLinear",
    "BlockDenseMLP",
    "BlockShuffleLinear",
    "BlockShuffleMLP",
    "ConvFFN",
    "CoordinateModulation",
    "FSMNMemory",
    "FeedForward",
    "FeedForwardFactory",
    "FrequencyMLP",
    "GatedConvUnit",
    "GeGLU",
    "GroupRational",
    "KANLayer",
    "LastDimBatchNorm",
    "LowRankLinear",
    "LowRankMLP",
    "MoEMLP",
    "RePaMLP",
    "SwiGLU",
    "auxiliary_loss",
    "reparameterize",
    "set_guide_ratio",
]
