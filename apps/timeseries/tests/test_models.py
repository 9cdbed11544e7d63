"""Networks: shapes, TSMixer/PatchTSMixer/FreTS structure, FreTS's full complex weights, every block inside."""

import pytest
import torch
from torch import nn

import ffn_blocks
from ffn_blocks import FrequencyMLP
from ffn_blocks.testing import block_classes
from ffn_timeseries.models import FreTS, PatchTSMixer, RevIN, TSMixer

BLOCKS = block_classes()
NETWORKS = {
    "tsmixer": lambda ffn: TSMixer(32, 8, 8, ffn=ffn, num_blocks=1),
    "patch_tsmixer": lambda ffn: PatchTSMixer(32, 8, 8, ffn=ffn, num_layers=1, channel_mode="hybrid"),
    "frets": lambda ffn: FreTS(32, 8, 8, ffn=ffn, embed_size=8),
}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_block_fits_every_network(name, block):
    torch.manual_seed(0)
    network = NETWORKS[name](block)
    x = torch.randn(4, 32, 8)
    y = network(x)
    assert y.shape == (4, 8, 8)
    (y.square().mean() + ffn_blocks.auxiliary_loss(network)).backward()
    grads = [p.grad for m in network.modules() if isinstance(m, block) for p in m.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_revin_round_trip_and_scale_invariance():
    revin = RevIN(3)
    x = torch.randn(2, 50, 3) * 5 + 10
    normalized, stats = revin.normalize(x)
    torch.testing.assert_close(revin.denormalize(normalized, stats), x, rtol=1e-4, atol=1e-4)
    model = TSMixer(50, 10, 3).eval()
    torch.testing.assert_close(model(x * 3 + 7), model(x) * 3 + 7, rtol=1e-3, atol=1e-3)


def test_tsmixer_time_mixing_is_one_l_by_l_linear_and_feature_mlp_is_injected():
    model = TSMixer(64, 16, 5, ffn=ffn_blocks.SwiGLU, num_blocks=3)
    block = model.blocks[0]
    assert isinstance(block.time_linear, nn.Linear) and block.time_linear.weight.shape == (64, 64)
    assert isinstance(block.feature_mlp, ffn_blocks.SwiGLU) and block.feature_mlp.in_features == 5
    assert len(model.blocks) == 3


def test_patch_tsmixer_patches_and_channel_modes():
    independent = PatchTSMixer(96, 24, 7, patch_length=16, patch_stride=8, num_layers=2)
    assert independent.num_patches == (96 - 16) // 8 + 1
    assert independent.layers[0].channel_mixer is None
    hybrid = PatchTSMixer(96, 24, 7, channel_mode="hybrid", num_layers=1)
    x = torch.randn(2, 96, 7)
    x2 = x.clone()
    x2[:, :, 3] += torch.randn(2, 96)  # not a constant: RevIN would remove that
    # channel-independent: changing channel 3 leaves the other channels' forecasts alone
    assert torch.allclose(independent.eval()(x)[..., 0], independent(x2)[..., 0], atol=1e-5)
    assert not torch.allclose(hybrid.eval()(x)[..., 0], hybrid(x2)[..., 0], atol=1e-5)


def test_reconciliation_head_adds_a_coarse_target_loss():
    model = PatchTSMixer(96, 24, 7, reconcile=True, aggregation=6, num_layers=1)
    y = model(torch.randn(2, 96, 7))
    target = torch.randn(2, 24, 7)
    loss = model.target_loss(target)
    assert y.shape == (2, 24, 7) and loss.item() > 0
    loss.backward()
    assert model.coarse_head[-1].weight.grad is not None
    with pytest.raises(ValueError, match="aggregation=5 must divide horizon=24"):
        PatchTSMixer(96, 24, 7, reconcile=True, aggregation=5)


def test_frets_uses_full_complex_weights_and_runs_its_channel_stage():
    model = FreTS(24, 6, 5, embed_size=8).eval()
    assert isinstance(model.channel_mlp, FrequencyMLP) and isinstance(model.time_mlp, FrequencyMLP)
    x = torch.randn(3, 24, 5)
    before = model(x)
    with torch.no_grad():
        model.time_mlp.fc1.weight_real[0, 1] += 0.5  # off the diagonal: the released code ignores it
    assert (model(x) - before).abs().max() > 1e-4
    with torch.no_grad():
        model.channel_mlp.fc1.weight_imag[2, 5] += 0.5
    changed = model(x)
    assert (changed - before).abs().max() > 1e-4
    x2 = x.clone()
    x2[:, :, 4] += torch.randn(3, 24)  # the channel stage mixes series: another channel's forecast moves
    assert (model(x2)[..., 0] - changed[..., 0]).abs().max() > 1e-5
    no_channel_stage = FreTS(24, 6, 5, embed_size=8, channel_stage=False).eval()
    assert torch.allclose(no_channel_stage(x2)[..., 0], no_channel_stage(x)[..., 0])


def test_frets_default_stage_holds_exactly_one_complex_weight():
    from ffn_blocks.frequency import ComplexLinear

    def complex_layers(module):
        return sum(isinstance(m, ComplexLinear) for m in module.modules())

    paper = FreTS(24, 6, 5, embed_size=8)
    assert complex_layers(paper.time_mlp) == 1 and complex_layers(paper.channel_mlp) == 1
    two = FreTS(24, 6, 5, embed_size=8, frequency_layers=2)
    assert complex_layers(two.time_mlp) == 2 and two.time_mlp.hidden_features == 8
    # the official FreTS: per stage 2 weights and 2 biases of embed_size² and embed_size, real and imag
    assert sum(p.numel() for p in paper.time_mlp.parameters()) == 2 * 8 * 8 + 2 * 8
