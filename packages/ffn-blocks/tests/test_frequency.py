"""FrequencyMLP: contract (with a sequence axis), the full complex weight, sequence mixing, lengths."""

import pytest
import torch
from torch import nn

from ffn_blocks import FrequencyMLP
from ffn_blocks.frequency import ComplexLinear
from ffn_blocks.testing import FeedForwardContract


class TestFrequencyMLP(FeedForwardContract):
    block = FrequencyMLP
    init_args = {"hidden_features": 24}
    leading_shapes = ((7,), (2, 5), (2, 3, 4))  # the last leading axis is the sequence


class TestOneLayerFrequencyMLP(FeedForwardContract):
    """FreTS's stage: one complex layer, ``softshrink(σ(XW + B))``, weights N(0, 0.02²)."""

    block = FrequencyMLP
    init_args = {"layers": 1, "init_std": 0.02}
    leading_shapes = ((7,), (2, 5), (2, 3, 4))

    # One layer ending in its activation cannot halve the contract's loss: the real and imaginary parts
    # of its output spectrum are each bounded below (it reaches 0.75x). FreTS puts a residual and a
    # head after it. It must still learn: the loss falls by a fifth.
    smooth_map_loss_ratio = 0.8


def test_one_layer_is_softshrink_of_the_activated_complex_layer():
    block = FrequencyMLP(3, 3, layers=1, act=nn.ReLU, init_std=0.02, sparsity_threshold=0.01).eval()
    assert block.fc2 is None and sum(p.numel() for p in block.parameters()) == 2 * 3 * 3 + 2 * 3
    x = torch.randn(2, 8, 3)
    spectrum = torch.fft.rfft(x, dim=-2, norm="ortho")
    w = torch.complex(block.fc1.weight_real, block.fc1.weight_imag)
    b = torch.complex(block.fc1.bias_real, block.fc1.bias_imag)
    y = spectrum @ w.T + b
    y = torch.complex(
        nn.functional.softshrink(y.real.relu(), 0.01), nn.functional.softshrink(y.imag.relu(), 0.01)
    )
    expected = torch.fft.irfft(y, n=8, dim=-2, norm="ortho")
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-6)
    assert abs(block.fc1.weight_real.std().item() - 0.02) < 0.02


def test_layers_outside_one_or_two_and_a_hidden_width_for_one_layer_are_refused():
    with pytest.raises(ValueError, match="layers=3 must be 1 or 2"):
        FrequencyMLP(4, 4, layers=3)
    with pytest.raises(ValueError, match="one-layer block has no hidden_features"):
        FrequencyMLP(4, 4, layers=1, hidden_features=8)


def test_complex_linear_is_complex_matrix_multiplication():
    layer = ComplexLinear(3, 2)
    x = torch.randn(5, 3, dtype=torch.complex64)
    w = torch.complex(layer.weight_real, layer.weight_imag)
    b = torch.complex(layer.bias_real, layer.bias_imag)
    real, imag = layer(x.real, x.imag)
    torch.testing.assert_close(torch.complex(real, imag), x @ w.T + b)


def test_off_diagonal_weights_change_the_output():
    """The released FreTS code used only diag(W); every entry must matter here."""
    block = FrequencyMLP(4, 4, hidden_features=4, act=nn.Identity, sparsity_threshold=0.0).eval()
    x = torch.randn(2, 16, 4)
    before = block(x)
    with torch.no_grad():
        block.fc1.weight_real[0, 1] += 1.0  # an off-diagonal entry
    assert (block(x) - before).abs().max() > 1e-3
    with torch.no_grad():
        block.fc1.weight_imag[2, 3] += 1.0
    assert (block(x) - before).abs().max() > 1e-3


def test_linear_block_is_a_circular_convolution_along_the_sequence():
    block = FrequencyMLP(1, 1, hidden_features=1, act=nn.Identity, bias=False, sparsity_threshold=0.0).eval()
    x = torch.zeros(1, 16, 1)
    x[0, 3, 0] = 1.0
    shifted = torch.roll(x, 5, dims=1)
    torch.testing.assert_close(block(shifted), torch.roll(block(x), 5, dims=1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("length", [1, 7, 96])
def test_odd_and_even_lengths_round_trip(length):
    assert FrequencyMLP(3, 5)(torch.randn(2, length, 3)).shape == (2, length, 5)


def test_needs_a_sequence_axis():
    with pytest.raises(ValueError, match=r"with a sequence axis, got \(3,\)"):
        FrequencyMLP(3, 3)(torch.randn(3))
