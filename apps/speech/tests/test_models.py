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


def test_full_size_has_the_official_models_parameter_count():
    """ClearerVoice's MossFormer2_SS at 512/512, 24 layers, kernel 16: 55,735,410 (the paper's 55.7 M).

    Counted from the official code module by module: the attention projections' ScaleNorms hold one
    gain each (not 2·d), the 1×1 bottleneck has no bias, the stack ends in LayerNorm + GroupNorm, the
    mask head has its 512×512 output convolution, and the rotary frequencies (16) are a parameter.
    """
    assert count_parameters(MossFormer2Separator()) == 55_735_410
    ablated = MossFormer2Separator(rotary=False, token_shift=False)
    assert count_parameters(ablated) == 55_735_410 - 16


def test_rotary_rotates_pairs_by_position_and_keeps_relative_angles():
    from ffn_speech.models.separator import RotaryEmbedding

    rotary = RotaryEmbedding(8)
    x = torch.randn(3, 10, 12)
    y = rotary(x)
    torch.testing.assert_close(y[:, 0], x[:, 0])  # frame 0: no rotation
    torch.testing.assert_close(y[..., 8:], x[..., 8:])  # features past the rotary width pass unchanged
    pairs_in, pairs_out = x[..., :8].unflatten(-1, (4, 2)), y[..., :8].unflatten(-1, (4, 2))
    torch.testing.assert_close(pairs_out.norm(dim=-1), pairs_in.norm(dim=-1))
    # the same vector at frames m and n: the dot product depends on m - n only
    q = torch.randn(12).expand(1, 10, 12)
    rq = rotary(q)[0]
    torch.testing.assert_close(rq[2] @ rq[5], rq[4] @ rq[7])
    assert rotary.freqs.requires_grad is False


def test_rotary_equals_rotary_embedding_torch():
    reference = pytest.importorskip("rotary_embedding_torch")
    from ffn_speech.models.separator import RotaryEmbedding

    x = torch.randn(2, 300, 128)
    expected = reference.RotaryEmbedding(dim=32).rotate_queries_or_keys(x)
    torch.testing.assert_close(RotaryEmbedding(32)(x), expected)


def test_scale_norm_is_one_gain_on_the_rms_normalized_vector():
    from ffn_speech.models.separator import ScaleNorm

    norm = ScaleNorm(16)
    x = torch.randn(4, 16)
    torch.testing.assert_close(norm(x), x / x.norm(dim=-1, keepdim=True) * 16**0.5)
    assert count_parameters(norm) == 1


@pytest.mark.parametrize("length", [24, 801, 8000, 12345])
def test_outputs_keep_the_input_length(length):
    model = MossFormer2Separator(**TINY).eval()
    assert model(torch.randn(2, length)).shape == (2, 2, length)


def test_the_tail_past_the_last_full_frame_is_zero_as_the_official_code_unless_padded():
    """12345 samples, kernel 16, stride 8: frames cover 12344 samples; the official code leaves the last
    one unestimated (zero), ``pad_tail=True`` pads the input so a frame covers it."""
    torch.manual_seed(0)
    official_rule = MossFormer2Separator(**TINY).eval()
    padded = MossFormer2Separator(**TINY, pad_tail=True).eval()
    padded.load_state_dict(official_rule.state_dict())
    mixture = torch.randn(1, 12345)
    with torch.no_grad():
        tail, covered = official_rule(mixture)[..., -1], padded(mixture)[..., -1]
    assert torch.equal(tail, torch.zeros_like(tail))
    assert covered.abs().min() > 0


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


def test_the_study_swaps_blocks_in_with_ffconvm_s_input_norm(tmp_path):
    """Every block the cross-domain study puts in the separator keeps the ScaleNorm that MossFormer2's
    FFConvM has at its input: without it, the gated output FFN sees the unnormalized product of the
    attention output and its gate, and SwiGLU there grew 1e3 -> 1e9 in 80 steps until it overflowed."""
    import ffn_blocks
    from ffn_lightning.bench.study import _build
    from ffn_speech.cli import STUDY
    from ffn_speech.models.separator import ScaleNorm

    model = _build(STUDY, "SwiGLU", 96, tmp_path).model
    swapped = [m for m in model.modules() if isinstance(m, ffn_blocks.SwiGLU)]
    assert len(swapped) >= 3 and all(isinstance(block.norm, ScaleNorm) for block in swapped)
