"""MLP: the shared contract, and the exact function it computes."""

from functools import partial

import torch
from torch import nn

from ffn_blocks import MLP, LastDimBatchNorm
from ffn_blocks.testing import FeedForwardContract


class TestMLP(FeedForwardContract):
    block = MLP
    init_args = {"hidden_features": 32}


class TestMLPWithBatchNorm(FeedForwardContract):
    block = MLP
    init_args = {"hidden_features": 24, "norm": LastDimBatchNorm, "act": nn.ReLU}


def test_mlp_computes_fc2_act_fc1():
    block = MLP(4, 3, hidden_features=5, act=nn.Tanh)
    x = torch.randn(7, 4)
    expected = torch.tanh(x @ block.fc1.weight.T + block.fc1.bias) @ block.fc2.weight.T + block.fc2.bias
    torch.testing.assert_close(block(x), expected)


def test_default_hidden_is_four_times_input():
    assert MLP(10, 3).hidden_features == 40


def test_layer_norm_factory_is_applied_to_the_input():
    block = MLP(6, 6, norm=partial(nn.LayerNorm, elementwise_affine=False)).eval()
    x = torch.randn(5, 6)
    torch.testing.assert_close(block(x * 10 + 3), block(x), rtol=1e-4, atol=1e-4)
