"""Feed-forward (FFN/MLP) blocks with one constructor contract, shared by every app of the FFN study.

Every block maps ``(*, in_features) -> (*, out_features)`` and is built as ``Block(in_features,
out_features, *, hidden_features=None, act=..., bias=True, dropout=0.0, norm=None, ...)``.
This module is the one import path configs use: ``class_path: ffn_blocks.SwiGLU``.

Public submodules, for what a block's user or author needs beyond the blocks (each one's ``__all__`` is
its public API; `tests/test_layering.py` holds the apps to it): ``base`` (the block base class and
argument checks), ``dropout`` (the CPU dropout mask), ``frequency`` (``ComplexLinear``), ``init`` (Virgo
initialization), ``modulation`` (``sample_grid``), ``repa`` (merge helpers, the merged block),
``spectral`` (NerVE metrics) and ``testing`` (the block contract and FLOP counting).
"""

from .base import DEFAULT_EXPANSION, FeedForward, FeedForwardFactory, reparameterize
from .dropout import Dropout
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

#: the submodules whose ``__all__`` names apps and the shared glue may import (see above)
PUBLIC_SUBMODULES = ("base", "dropout", "frequency", "init", "modulation", "repa", "spectral", "testing")

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
    "Dropout",
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
