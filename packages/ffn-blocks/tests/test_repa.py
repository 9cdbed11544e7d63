"""RePaMLP: contract (with folded BatchNorm and shortcut), merge equivalence and cost, bad input."""

import math
from functools import partial

import pytest
import torch
from torch import nn

from ffn_blocks import MLP, LastDimBatchNorm, RePaMLP, reparameterize
from ffn_blocks.repa import RePaMLPInference
from ffn_blocks.testing import FeedForwardContract, count_flops, randomize_batchnorm_


class TestRePaMLP(FeedForwardContract):
    block = RePaMLP
    init_args = {"hidden_features": 32}


class TestRePaMLPWithBatchNormAndShortcut(FeedForwardContract):
    block = RePaMLP
    out_features = 16
    init_args = {"hidden_features": 64, "norm": LastDimBatchNorm, "shortcut": True}


class TestRePaMLPWithBothBatchNormsAndShortcut(FeedForwardContract):
    """The official RePaViT FFN: BatchNorm over the inputs and over the hidden width after the activation."""

    block = RePaMLP
    out_features = 16
    init_args = {
        "hidden_features": 64,
        "norm": LastDimBatchNorm,
        "hidden_norm": LastDimBatchNorm,
        "shortcut": True,
    }


class TestRePaMLPWithLayerNormAndShortcut(FeedForwardContract):
    block = RePaMLP
    out_features = 16
    init_args = {"norm": nn.LayerNorm, "shortcut": True, "idle_ratio": 0.5}


class TestRePaMLPWithoutBias(FeedForwardContract):
    block = RePaMLP
    init_args = {"bias": False, "idle_ratio": 0.9}


def test_active_channels_are_ceil_of_hidden_times_one_minus_theta():
    assert RePaMLP(8, 8, hidden_features=10, idle_ratio=0.7).active_features == 3  # not 4 (float error)
    assert RePaMLP(8, 8, hidden_features=10, idle_ratio=0.75).active_features == math.ceil(2.5)
    assert RePaMLP(8, 8, hidden_features=32, idle_ratio=0.0).active_features == 32


def test_idle_channels_are_linear():
    block = RePaMLP(6, 4, hidden_features=8, idle_ratio=0.5, act=nn.ReLU)
    x = torch.randn(10, 6)
    h = x @ block.fc1.weight.T + block.fc1.bias
    h = torch.cat([torch.relu(h[:, :4]), h[:, 4:]], dim=-1)
    torch.testing.assert_close(block(x), h @ block.fc2.weight.T + block.fc2.bias)


def test_zero_idle_ratio_is_an_mlp():
    torch.manual_seed(0)
    repa = RePaMLP(8, 8, idle_ratio=0.0)
    torch.manual_seed(0)
    mlp = MLP(8, 8)
    x = torch.randn(3, 8)
    torch.testing.assert_close(repa(x), mlp(x))


def test_batchnorm_and_shortcut_fold_into_one_matrix():
    block = RePaMLP(32, 32, norm=LastDimBatchNorm, shortcut=True)
    randomize_batchnorm_(block)
    merged = block.eval().reparameterize()
    assert isinstance(merged, RePaMLPInference)
    assert isinstance(merged.pre_norm, nn.Identity) and not merged.shortcut
    # one (out + active) x in input matmul and one out x active output matmul: 3C² at θ = 0.75
    assert merged.input_weight.shape == (32 + 32, 32) and merged.output_weight.shape == (32, 32)


def test_reparameterize_model_with_several_blocks_is_equivalent_and_cheaper():
    torch.manual_seed(0)
    bn_block = partial(RePaMLP, norm=LastDimBatchNorm, shortcut=True)
    model = nn.Sequential(
        nn.Linear(24, 48),
        bn_block(48, 48),
        nn.Sequential(nn.GELU(), bn_block(48, 48, idle_ratio=0.5)),
        RePaMLP(48, 10),
    )
    model.train()
    for _ in range(3):  # real running statistics, not the defaults
        model(torch.randn(64, 24) * 2 + 0.5)
    model.eval()
    merged = reparameterize(model)
    assert sum(isinstance(m, RePaMLPInference) for m in merged.modules()) == 3
    assert not any(isinstance(m, RePaMLP) for m in merged.modules())
    assert any(isinstance(m, RePaMLP) for m in model.modules()), "the original must be left untouched"
    x = torch.randn(16, 5, 24)
    with torch.no_grad():
        assert (merged(x) - model(x)).abs().max() <= 1e-5
    assert count_flops(merged, x) < count_flops(model, x)


def test_reparameterize_walks_in_place_on_request():
    model = nn.Sequential(RePaMLP(8, 8))
    out = reparameterize(model, inplace=True)
    assert out is model and isinstance(model[0], RePaMLPInference)


def test_flops_drop_to_three_eighths_at_vit_ratio():
    block = RePaMLP(64, 64, norm=LastDimBatchNorm, shortcut=True).eval()
    x = torch.randn(10, 64)
    assert count_flops(block.reparameterize(), x) / count_flops(block, x) == pytest.approx(3 / 8)


@pytest.mark.parametrize("theta", [1.0, -0.1, float("nan"), 2])
def test_idle_ratio_outside_unit_interval_is_rejected(theta):
    with pytest.raises(ValueError, match=rf"RePaMLP: idle_ratio={theta!r} must be in \[0, 1\)"):
        RePaMLP(8, 8, idle_ratio=theta)


def test_shortcut_needs_equal_widths():
    with pytest.raises(ValueError, match="shortcut=True needs in_features == out_features, got 8 and 4"):
        RePaMLP(8, 4, shortcut=True)


@pytest.mark.parametrize("norm", [LastDimBatchNorm, nn.LayerNorm], ids=["batchnorm", "layernorm"])
def test_merge_residual_equals_the_residual_sublayer(norm):
    from ffn_blocks.repa import merge_residual

    block, pre = RePaMLP(24, 24, hidden_features=64), norm(24)
    gamma = torch.rand(24) + 0.5
    randomize_batchnorm_(pre)
    block.eval(), pre.eval()
    merged = merge_residual(block, norm=pre, layer_scale=gamma)
    x = torch.randn(6, 5, 24)
    with torch.no_grad():
        expected = x + gamma * block(pre(x))
        assert (merged(x) - expected).abs().max() <= 1e-5
    assert merged.shortcut == (norm is nn.LayerNorm)  # folded into M only when the norm folds


def test_merge_residual_refuses_what_it_cannot_express():
    from ffn_blocks.repa import merge_residual

    block = RePaMLP(8, 8, norm=nn.LayerNorm)  # an unfoldable norm inside the block
    with pytest.raises(ValueError, match="cannot fold an input affine map after an unfoldable pre-norm"):
        merge_residual(block.eval(), norm=LastDimBatchNorm(8).eval())


def test_a_hidden_norm_that_is_not_a_batchnorm_cannot_merge():
    block = RePaMLP(8, 8, hidden_norm=nn.LayerNorm).eval()
    with pytest.raises(ValueError, match="the hidden norm must be a BatchNorm to fold, got LayerNorm"):
        block.reparameterize()
