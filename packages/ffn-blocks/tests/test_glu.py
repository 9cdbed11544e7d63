"""GLU family: the shared contract, the gate, and parameter counts."""

import torch
from torch import nn

from ffn_blocks import GLU, MLP, GeGLU, SwiGLU
from ffn_blocks.testing import FeedForwardContract


class TestGLU(FeedForwardContract):
    block = GLU
    init_args = {"hidden_features": 24}


class TestSwiGLU(FeedForwardContract):
    block = SwiGLU
    init_args = {"hidden_features": 24}


class TestGeGLU(FeedForwardContract):
    block = GeGLU


def test_swiglu_is_value_times_silu_gate():
    block = SwiGLU(4, 2, hidden_features=3)
    x = torch.randn(6, 4)
    w, b = block.fc1.weight, block.fc1.bias
    value = x @ w[:3].T + b[:3]
    gate = x @ w[3:].T + b[3:]
    expected = (value * torch.nn.functional.silu(gate)) @ block.fc2.weight.T + block.fc2.bias
    torch.testing.assert_close(block(x), expected)


def test_gate_activations_by_class():
    assert isinstance(GLU(4, 4).act, nn.Sigmoid)
    assert isinstance(GLU(4, 4, gate_act=nn.Tanh).act, nn.Tanh)
    assert isinstance(SwiGLU(4, 4).act, nn.SiLU)
    assert isinstance(GeGLU(4, 4).act, nn.GELU)


def test_two_thirds_hidden_matches_mlp_parameters():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    mlp, glu = MLP(96, 96, bias=False), SwiGLU(96, 96, hidden_features=8 * 96 // 3, bias=False)
    assert count(glu) == count(mlp)
