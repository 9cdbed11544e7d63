"""ConvFFN, FSMNMemory, GatedConvUnit: contract on sequences, receptive fields, lengths, bad input."""

import pytest
import torch
from torch import nn

from ffn_blocks import ConvFFN, FSMNMemory, GatedConvUnit
from ffn_blocks.testing import FeedForwardContract

SEQUENCES = ((7,), (2, 9), (2, 3, 8))


class TestConvFFN(FeedForwardContract):
    block = ConvFFN
    leading_shapes = SEQUENCES
    init_args = {"kernel_size": 5}

    def test_learns_a_smooth_map(self):
        """ConvFFN has one nonlinearity and no hidden layer, so its target is one layer deep too."""
        torch.manual_seed(0)
        block = self.make_block().train()
        x = self.sample_input(256)
        target = nn.functional.silu(x @ torch.randn(16, 12) / 4)
        optimizer = torch.optim.Adam(block.parameters(), lr=3e-3)
        losses = []
        for _ in range(200):
            optimizer.zero_grad()
            loss = (block(x) - target).square().mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0]


class TestFSMNMemory(FeedForwardContract):
    block = FSMNMemory
    leading_shapes = SEQUENCES
    init_args = {"hidden_features": 16, "kernel_size": 5}


class TestFSMNMemorySameWidth(FeedForwardContract):
    block = FSMNMemory
    out_features = 16
    leading_shapes = SEQUENCES
    init_args = {"kernel_size": 3, "dilations": (1, 2, 4)}


class TestGatedConvUnit(FeedForwardContract):
    block = GatedConvUnit
    out_features = 16
    leading_shapes = SEQUENCES
    init_args = {"kernel_size": 3, "memory_kernel_size": 5, "norm": nn.LayerNorm, "act": nn.SiLU}


def _receptive_field(block, length=64, position=32):
    """Which output steps change when input step ``position`` changes."""
    block.eval()
    x = torch.randn(1, length, block.in_features)
    x2 = x.clone()
    x2[0, position] += 1.0
    with torch.no_grad():
        changed = (block(x2) - block(x)).abs().amax(-1)[0] > 1e-7
    return changed.nonzero().flatten().tolist()


def test_memory_window_is_the_dilated_kernel_span():
    block = FSMNMemory(4, 6, kernel_size=5, dilations=(1, 2))
    # instance norm makes every step depend on the whole sequence; without it the window shows
    block.memory_norms = nn.ModuleList(nn.Identity() for _ in block.memory_norms)
    # two stacked layers with dense skips: half-widths 2 and 2*2 add up to 6 steps on each side
    field = _receptive_field(block)
    assert min(field) == 32 - 6 and max(field) == 32 + 6


def test_conv_ffn_window():
    field = _receptive_field(ConvFFN(4, 4, kernel_size=7))
    assert (min(field), max(field)) == (29, 35)


@pytest.mark.parametrize("length", [2, 5, 100])
def test_lengths_are_kept(length):
    assert GatedConvUnit(8, 8, kernel_size=3, memory_kernel_size=5)(torch.randn(2, length, 8)).shape == (
        2,
        length,
        8,
    )


def test_a_single_step_is_a_clear_error():
    with pytest.raises(ValueError, match=r"needs T >= 2 steps, got \(2, 1, 8\)"):
        FSMNMemory(8, 8)(torch.randn(2, 1, 8))


def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size=4 must be a positive odd integer"):
        FSMNMemory(4, 4, kernel_size=4)
    with pytest.raises(ValueError, match=r"dilations=\(\) must be one or more positive integers"):
        FSMNMemory(4, 4, dilations=())
    with pytest.raises(ValueError, match="with a sequence axis"):
        ConvFFN(4, 4)(torch.randn(4))


@pytest.mark.parametrize(
    ("width", "dilation", "group", "length", "padding"),
    [
        (39, 1, 1, 50, None),
        (39, 2, 2, 50, None),
        (39, 2, 2, 999, None),  # the speech clips' 999 frames: a 1080-point transform
        (17, 1, 1, 37, None),
        (16, 1, 1, 50, None),
        (3, 1, 1, 50, None),
        (17, 1, 2, 20, 0),  # no padding: a shorter output
        (17, 2, 1, 8, 30),  # padding wider than the input
    ],
)
def test_grouped_conv1d_equals_conv1d_in_values_and_gradients(width, dilation, group, length, padding):
    import torch.nn.functional as F

    from ffn_blocks.fft_conv import grouped_conv1d

    torch.manual_seed(0)
    x = torch.randn(3, 4 * group, length, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, group, width, dtype=torch.float64, requires_grad=True)
    padding = dilation * (width // 2) if padding is None else padding
    ours = grouped_conv1d(x, weight, padding, dilation)
    direct = F.conv1d(x, weight, padding=padding, dilation=dilation, groups=4)
    torch.testing.assert_close(ours, direct)
    grads = torch.autograd.grad(ours.square().sum(), (x, weight))
    expected = torch.autograd.grad(direct.square().sum(), (x, weight))
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_fft_lengths_are_5_smooth_and_minimal():
    from ffn_blocks.fft_conv import fft_length

    assert [fft_length(n) for n in (1, 7, 999, 1007, 1037, 1081)] == [1, 8, 1000, 1024, 1080, 1125]


def test_grouped_conv1d_passes_gradcheck_through_its_own_backward():
    from ffn_blocks.fft_conv import grouped_conv1d

    torch.manual_seed(0)
    x = torch.randn(2, 6, 23, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 9, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda a, w: grouped_conv1d(a, w, padding=8, dilation=2), (x, weight))
    only_x = grouped_conv1d(x, weight.detach(), padding=8, dilation=2)  # weight needs no gradient
    assert only_x.grad_fn is not None and torch.autograd.grad(only_x.sum(), x)[0].shape == x.shape


def test_a_kernel_span_longer_than_the_input_is_a_clear_error():
    from ffn_blocks.fft_conv import grouped_conv1d

    with pytest.raises(ValueError, match="shorter than the kernel span 39"):
        grouped_conv1d(torch.randn(1, 2, 10), torch.randn(2, 1, 39), padding=0)


def test_fsmn_blocks_give_the_same_output_through_the_fft_and_the_direct_kernel(monkeypatch):
    import ffn_blocks.fft_conv as fft_conv

    torch.manual_seed(0)
    block = GatedConvUnit(8, 8, kernel_size=17, memory_kernel_size=39, dilations=(1, 2)).eval()
    x = torch.randn(2, 60, 8)
    fast = block(x)
    monkeypatch.setattr(fft_conv, "FFT_MIN_SPAN", 10**9)  # every convolution direct
    torch.testing.assert_close(block(x), fast, rtol=1e-5, atol=1e-5)
