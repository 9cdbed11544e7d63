"""`ffn_blocks.__all__` is the one import path configs use; changing it is a deliberate, visible act."""

import inspect

import torch

import ffn_blocks
from ffn_blocks import FeedForward

PUBLIC_API = [
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
    "FeedForward",
    "FeedForwardFactory",
    "FSMNMemory",
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


def test_all_is_pinned():
    assert sorted(ffn_blocks.__all__) == sorted(PUBLIC_API)


def test_every_public_name_resolves_and_is_documented():
    for name in ffn_blocks.__all__:
        obj = getattr(ffn_blocks, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_every_exported_block_builds_from_two_widths():
    blocks = [getattr(ffn_blocks, n) for n in ffn_blocks.__all__]
    blocks = [b for b in blocks if inspect.isclass(b) and issubclass(b, FeedForward) and b is not FeedForward]
    assert len(blocks) >= 8
    for block in blocks:
        assert block(16, 16)(torch.randn(2, 16)).shape == (2, 16), block.__name__
