"""The separator: shapes for any length, the paper's parameter count, every block inside it."""

import pytest
import torch

import ffn_blocks
from ffn_blocks.testing import block_classes
from ffn_speech.models import ConvTasNet, MossFormer2Separator
from ffn_speech.models.separator import count_parameters

BLOCKS = block_classes()
TINY = {
    "encoder_dim": 16,
    "dim": 16,
    "num_layers": 1,
    "qk_dim": 8,
    "group_size": 16,
    "inner_dim": 8,
    "expansion": 2.0,
}


def test_full_size_matches_the_paper_parameter_count():
    params = count_parameters(MossFormer2Separator())
    assert abs(params - 55.7e6) / 55.7e6 < 0.005, params  # 55,570,970 vs the paper's 55.7 M


@pytest.mark.parametrize("length", [24, 801, 8000, 12345])
def test_outputs_keep_the_input_length(length):
    model = MossFormer2Separator(**TINY).eval()
    assert model(torch.randn(2, length)).shape == (2, 2, length)


def test_identical_length_mixture_gives_two_outputs_of_its_length():
    a, b = torch.randn(4000), torch.randn(4000)
    out = MossFormer2Separator(**TINY).eval()((a + b)[None])
    assert out.shape == (1, 2, 4000)


def test_baseline_interface():
    assert ConvTasNet()(torch.randn(2, 1000)).shape == (2, 2, 1000)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_every_block_works_inside_the_separator(block):
    model = MossFormer2Separator(**TINY, ffn=block, memory=block)
    out = model(torch.randn(2, 800))
    (out.square().mean() + ffn_blocks.auxiliary_loss(model)).backward()
    grads = [p.grad for m in model.modules() if isinstance(m, block) for p in m.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_too_short_input_is_a_clear_error():
    with pytest.raises(ValueError, match="20 samples is shorter than the minimum of 24"):
        MossFormer2Separator(**TINY)(torch.randn(1, 20))


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"expected a waveform batch \(B, L\), got \(800,\)"):
        MossFormer2Separator(**TINY)(torch.randn(800))
