"""Structured FFNs: contract, dense equivalents, parameter savings, self-guided mixing, bad input."""

import io

import pytest
import torch

from ffn_blocks import (
    MLP,
    BlockDenseLinear,
    BlockDenseMLP,
    BlockShuffleLinear,
    BlockShuffleMLP,
    LowRankLinear,
    LowRankMLP,
    set_guide_ratio,
)
from ffn_blocks.testing import FeedForwardContract


class TestLowRankMLP(FeedForwardContract):
    block = LowRankMLP
    init_args = {"hidden_features": 32, "rank": 4}


class TestBlockDenseMLP(FeedForwardContract):
    block = BlockDenseMLP
    init_args = {"hidden_features": 32, "num_blocks": 4, "rank": 8}


class TestBlockShuffleMLP(FeedForwardContract):
    block = BlockShuffleMLP
    # 2 blocks: with 4, the 32 -> 12 layer's 3-channel blocks cannot reach all 4 blocks after the shuffle.
    init_args = {"hidden_features": 32, "num_blocks": 2}


class TestSelfGuidedLowRankMLP(FeedForwardContract):
    block = LowRankMLP
    init_args = {"hidden_features": 32, "rank": 4, "self_guided": True}

    def make_block(self, seed=0):
        block = super().make_block(seed)
        set_guide_ratio(block, 0.5)
        return block


class TestLowRankMLPNarrowHead(FeedForwardContract):
    block = LowRankMLP
    out_features = 1


class TestBlockDenseMLPNarrowHead(FeedForwardContract):
    block = BlockDenseMLP
    out_features = 3
    init_args = {"rank": 8}


class TestBlockShuffleMLPNarrowHead(FeedForwardContract):
    block = BlockShuffleMLP
    out_features = 10


def test_narrow_output_layers_stay_dense_and_wide_ones_structured():
    assert isinstance(LowRankMLP(16, 1).fc2, torch.nn.Linear)
    assert isinstance(LowRankMLP(16, 16, rank=4).fc2, LowRankLinear)
    assert isinstance(BlockDenseMLP(16, 8, rank=8).fc2, torch.nn.Linear)
    assert isinstance(BlockDenseMLP(16, 12, rank=8).fc2, BlockDenseLinear)
    assert isinstance(BlockShuffleMLP(16, 10).fc2, torch.nn.Linear)
    assert isinstance(BlockShuffleMLP(16, 12).fc2, BlockShuffleLinear)
    assert all(
        isinstance(m.fc1, LowRankLinear | BlockDenseLinear | BlockShuffleLinear)
        for m in (LowRankMLP(16, 1), BlockDenseMLP(16, 1), BlockShuffleMLP(16, 1))
    )


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    "linear",
    [
        LowRankLinear(24, 16, rank=5),
        BlockDenseLinear(24, 16, num_blocks=4, rank=8),
        BlockShuffleLinear(24, 16, num_blocks=4),
        BlockShuffleLinear(16, 24, num_blocks=4),
    ],
    ids=["lowrank", "blockdense", "blockshuffle-down", "blockshuffle-up"],
)
def test_structured_linear_equals_its_dense_weight(linear):
    x = torch.randn(3, 5, 24 if linear.in_features == 24 else 16)
    torch.testing.assert_close(linear(x), x @ linear.dense_weight().T + linear.bias, rtol=1e-5, atol=1e-5)


def test_dense_weight_ranks():
    assert torch.linalg.matrix_rank(LowRankLinear(24, 16, rank=5).dense_weight()) == 5
    assert torch.linalg.matrix_rank(BlockDenseLinear(24, 16, num_blocks=4, rank=8).dense_weight()) == 8


def test_block_diagonal_stage_is_block_diagonal():
    linear = BlockDenseLinear(8, 6, num_blocks=2, rank=4)
    with torch.no_grad():
        linear.dense.copy_(torch.eye(6, 4))
    w = linear.dense_weight()
    # rank channels 0-1 see only input block 0 (channels 0-3); rank channels 2-3 only input block 1.
    assert torch.all(w[:2, 4:] == 0) and torch.all(w[2:4, :4] == 0)


def test_block_shuffle_connects_every_input_to_every_output():
    w = BlockShuffleLinear(32, 32, num_blocks=4).dense_weight()
    assert torch.all(w != 0)


def test_structured_blocks_use_fewer_parameters_at_vit_width():
    dense = count(MLP(768, 768))
    for block in (
        LowRankMLP(768, 768, rank=192),
        BlockDenseMLP(768, 768, num_blocks=4, rank=256),
        BlockShuffleMLP(768, 768, num_blocks=4),
    ):
        assert count(block) < 0.5 * dense, type(block).__name__


def test_output_variance_matches_dense_default_init():
    torch.manual_seed(0)
    x = torch.randn(4096, 256)
    reference = torch.nn.Linear(256, 256)(x).var().item()
    for linear in (
        LowRankLinear(256, 256, rank=64),
        BlockDenseLinear(256, 256, num_blocks=4, rank=64),
        BlockShuffleLinear(256, 256, num_blocks=4),
    ):
        ratio = linear(x).var().item() / reference
        assert 0.8 < ratio < 1.25, (type(linear).__name__, ratio)


def test_self_guided_ratio_mixes_dense_and_structured():
    linear = LowRankLinear(12, 10, rank=3, self_guided=True)
    x = torch.randn(5, 12)
    assert linear.guide_ratio == 1.0
    with torch.no_grad():
        linear.guide.add_(torch.randn_like(linear.guide))  # the guide drifts from the product in training
        dense = x @ linear.guide.T + linear.bias
        structured = x @ linear.dense_weight().T + linear.bias
        torch.testing.assert_close(linear(x), dense)
        linear.guide_ratio = 0.25
        torch.testing.assert_close(linear(x), 0.25 * dense + 0.75 * structured, rtol=1e-5, atol=1e-5)
        linear.guide_ratio = 0.0
        torch.testing.assert_close(linear(x), structured, rtol=1e-5, atol=1e-5)


def test_guide_starts_equal_to_structured_product():
    linear = BlockDenseLinear(16, 16, num_blocks=4, rank=8, self_guided=True)
    torch.testing.assert_close(linear.guide, linear.dense_weight())


def test_set_guide_ratio_counts_and_survives_checkpoints():
    model = torch.nn.Sequential(
        LowRankMLP(8, 8, rank=2, self_guided=True), BlockShuffleMLP(8, 8, num_blocks=2)
    )
    assert set_guide_ratio(model, 0.3) == 2  # two linears in the guided block, none in the other
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = torch.nn.Sequential(
        LowRankMLP(8, 8, rank=2, self_guided=True), BlockShuffleMLP(8, 8, num_blocks=2)
    )
    fresh.load_state_dict(torch.load(buffer))
    assert fresh[0].fc1.guide_ratio == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (
            lambda: LowRankMLP(16, 16, rank=16),
            r"LowRankMLP: rank=16 must be < min\(in_features, hidden_features\)=16",
        ),
        (lambda: LowRankMLP(16, 8, hidden_features=8, rank=9), r"rank=9 must be < .*=8"),
        (
            lambda: LowRankLinear(8, 6, rank=6),
            r"LowRankLinear: rank=6 must be < min\(in_features, out_features\)=6",
        ),
        (lambda: LowRankLinear(8, 8, rank=0), r"LowRankLinear: rank=0 must be a positive integer"),
        (
            lambda: BlockDenseMLP(18, 18, num_blocks=4),
            r"BlockDenseMLP: in_features=18 must be divisible by num_blocks=4",
        ),
        (lambda: BlockDenseMLP(16, 16, num_blocks=4, rank=6), r"rank=6 must be divisible by num_blocks=4"),
        (
            lambda: BlockShuffleMLP(18, 16, num_blocks=4),
            r"BlockShuffleMLP: in_features=18 must be divisible by num_blocks=4",
        ),
        (
            lambda: BlockShuffleLinear(16, 10, num_blocks=4),
            r"BlockShuffleLinear: out_features=10 must be divisible by num_blocks=4",
        ),
        (
            lambda: BlockShuffleMLP(16, 16, hidden_features=30, num_blocks=4),
            r"hidden_features=30 must be divisible",
        ),
        (lambda: BlockShuffleMLP(16, 16, num_blocks=0), r"num_blocks=0 must be a positive integer"),
        (lambda: set_guide_ratio(MLP(4, 4), 1.5), r"set_guide_ratio: ratio=1.5 must be in \[0, 1\]"),
        (lambda: LowRankMLP(0, 4), r"in_features=0 must be a positive integer"),
    ],
)
def test_bad_arguments_raise_one_line_value_errors(build, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        build()
    assert "\n" not in str(info.value)


def test_default_block_count_fits_narrow_widths_and_explicit_ones_are_strict():
    assert BlockDenseMLP(768, 768).num_blocks == 4 and BlockShuffleMLP(768, 768).num_blocks == 4
    assert BlockDenseMLP(4, 4).num_blocks == 2  # rank 4 would not be below the width 4
    assert BlockDenseMLP(7, 7).num_blocks == 1 and BlockShuffleMLP(7, 7).num_blocks == 1
    assert BlockShuffleMLP(6, 6).num_blocks == 2
    with pytest.raises(ValueError, match="in_features=7 must be divisible by num_blocks=4"):
        BlockShuffleMLP(7, 7, num_blocks=4)


def test_block_dense_with_one_block_is_low_rank_mlp_exactly():
    """An input width with no divisor 2 or 4 (7 series, Cora's 1433 words) leaves one block: the same
    network as LowRankMLP, as the docstring says and the study's note reports."""
    torch.manual_seed(0)
    low_rank = LowRankMLP(7, 7, hidden_features=315)
    torch.manual_seed(0)
    block_dense = BlockDenseMLP(7, 7, hidden_features=315)
    x = torch.randn(5, 7)
    assert block_dense.num_blocks == 1 and block_dense.rank == low_rank.rank
    assert torch.equal(block_dense(x), low_rank(x))
