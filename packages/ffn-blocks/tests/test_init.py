"""Virgo: the published rule on a graph small enough to check by hand."""

import pytest
import torch

from ffn_blocks.init import virgo_norms, virgo_uniform_, virgo_variances


def _path_adjacency():
    """Â for the path 0 - 1 - 2 with self-loops: D^-1/2 (A + I) D^-1/2."""
    a = torch.tensor([[1.0, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=torch.float64)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


def test_norms_are_repeated_propagation():
    adj = _path_adjacency()
    v = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    norms = virgo_norms(lambda x: adj @ x, v, 3)
    expected = [float((torch.linalg.matrix_power(adj, k) @ v).square().sum()) for k in (1, 2, 3)]
    assert norms == pytest.approx(expected)


def test_variances_follow_the_rule():
    s, b = [4.0, 2.0, 1.0], [9.0, 6.0, 3.0]
    forward = virgo_variances(
        s, b, in_features=10, hidden_features=8, num_classes=3, num_nodes=5, mode="forward"
    )
    assert forward == pytest.approx([2 / 10, 2 / 8 * 4 / 2, 2 / 8 * 2 / 1])
    backward = virgo_variances(
        s, b, in_features=10, hidden_features=8, num_classes=3, num_nodes=5, mode="backward"
    )
    assert backward == pytest.approx([2 / 8 * 6 / 3, 2 / 8 * 9 / 6, 5 / (2 * 9)])  # output layer last
    both = virgo_variances(s, b, in_features=10, hidden_features=8, num_classes=3, num_nodes=5)
    assert both == pytest.approx([2 * f * k / (f + k) for f, k in zip(forward, backward, strict=True)])


def test_uniform_draw_has_the_variance():
    w = virgo_uniform_(torch.empty(400, 400), 0.02)
    assert w.var().item() == pytest.approx(0.02, rel=0.02)
    assert w.abs().max().item() <= (3 * 0.02) ** 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="num_classes=1 must be >= 2"):
        virgo_variances([1.0], [1.0], in_features=2, hidden_features=2, num_classes=1, num_nodes=3)
    with pytest.raises(ValueError, match="one norm per layer"):
        virgo_variances([1.0, 2.0], [1.0], in_features=2, hidden_features=2, num_classes=2, num_nodes=3)
    with pytest.raises(ValueError, match="must be positive"):
        virgo_variances([0.0], [1.0], in_features=2, hidden_features=2, num_classes=2, num_nodes=3)
