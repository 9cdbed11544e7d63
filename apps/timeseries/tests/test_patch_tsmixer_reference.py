"""PatchTSMixer against transformers' ``PatchTSMixerForPrediction``, the reference implementation.

The parameter counts are pinned to the reference's numbers, so the default install checks them too;
with the optional ``bench`` group (``uv sync --group bench``) the reference is built live, its weights
are copied into ours by name, and the two forecasts must agree.
"""

from __future__ import annotations

import re

import pytest
import torch

from ffn_timeseries.models import PatchTSMixer

# transformers 5.x PatchTSMixerForPrediction, counted with `sum(p.numel() for p in model.parameters())`
REFERENCE_PARAMS = {
    "paper ETTh1 (L=512, H=96, patch 8, d_model 16, 8 layers)": ((512, 96, 7), {}, 275_696),
    "small (L=96, H=24, patch 16 stride 8, d_model 32, 2 layers)": (
        (96, 24, 7),
        dict(patch_length=16, patch_stride=8, d_model=32, num_layers=2),
        21_066,
    ),
}


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", list(REFERENCE_PARAMS))
def test_parameter_count_is_the_references(name):
    shape, kwargs, expected = REFERENCE_PARAMS[name]
    assert _params(PatchTSMixer(*shape, **kwargs)) == expected


def test_first_layout_is_an_option_with_its_own_count():
    # norm over the mixed axis: the patch mixer's LayerNorm is 64 wide, not 16, per layer; RevIN affine
    model = PatchTSMixer(512, 96, 7, norm_axis="mixed", revin_affine=True)
    assert _params(model) == 275_696 + 8 * 2 * (64 - 16) + 2 * 7  # = 276,478, its earlier count


def test_windows_end_at_the_newest_step():
    # L=100, patch 16, stride 8: 11 windows cover steps 4..99; the 4 oldest steps cannot matter
    model = PatchTSMixer(100, 8, 2, patch_length=16, patch_stride=8, num_layers=1, revin=False).eval()
    x = torch.randn(3, 100, 2)
    changed_old, changed_new = x.clone(), x.clone()
    changed_old[:, :4] += 5.0
    changed_new[:, -1] += 5.0
    torch.testing.assert_close(model(changed_old), model(x))
    assert not torch.allclose(model(changed_new), model(x))


def test_linear_layers_start_as_the_reference():
    model = PatchTSMixer(512, 96, 7)
    weight = model.layers[0].patch_mixer.mlp.fc1.weight
    assert abs(weight.std().item() - 0.02) < 0.002
    assert model.head[-1].bias.abs().max() == 0


def _hf_to_ours(key: str) -> str:
    key = key.removeprefix("model.model.encoder.").removeprefix("model.")
    for pattern, replacement in (
        (r"^patcher\.", "embed."),
        (r"^mlp_mixer_encoder\.mixers\.", "layers."),
        (r"channel_feature_mixer\.", "channel_mixer."),
        (r"\.norm\.(norm|batchnorm)\.", ".norm."),
        (r"\.norm\.batchnorm\.", ".norm."),
        (r"gating_block\.attn_layer\.", "gate.gate."),
        (r"^head\.base_forecast_block\.", "head.2."),
    ):
        key = re.sub(pattern, replacement, key)
    return key


@pytest.mark.parametrize(
    "mode, norm",
    [("common_channel", "LayerNorm"), ("mix_channel", "LayerNorm"), ("common_channel", "BatchNorm")],
)
def test_same_forecast_as_transformers_with_the_same_weights(mode, norm):
    pytest.importorskip("transformers")
    from ffn_timeseries.models.reference import HFPatchTSMixer

    torch.manual_seed(0)
    shape = (100, 12, 3)  # 100 = 16 + 8·10 + 4: the reference drops the 4 oldest steps
    common = dict(patch_length=16, patch_stride=8, d_model=8, num_layers=2)
    theirs = HFPatchTSMixer(*shape, mode=mode, norm=norm, **common).eval()
    ours = PatchTSMixer(
        *shape,
        channel_mode="hybrid" if mode == "mix_channel" else "independent",
        norm="batch" if norm == "BatchNorm" else "layer",
        **common,
    ).eval()
    assert _params(ours) == _params(theirs)
    state = {_hf_to_ours(k): v for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    x = torch.randn(4, 100, 3) * 3 + 1
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
