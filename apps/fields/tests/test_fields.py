"""Field models: CAM's identity start, SIREN's init, every ffn_blocks block as the field MLP, errors."""

from functools import partial

import pytest
import torch

import ffn_blocks
from ffn_blocks.testing import block_classes
from ffn_fields.fields import CAMField, CAMGridField, GridField, PEField, SirenField, parameter_groups


@pytest.mark.parametrize("cam_field, plain_field", [(CAMField, PEField), (CAMGridField, GridField)])
def test_cam_with_fresh_modulation_equals_the_plain_mlp(cam_field, plain_field):
    torch.manual_seed(0)
    cam = cam_field(width=32, depth=3, normalize=False)
    plain = plain_field(width=32, depth=3)
    missing, unexpected = plain.load_state_dict(cam.state_dict(), strict=False)
    assert not missing and all(k.startswith("modulations.") for k in unexpected)
    coords = torch.rand(100, 2) * 2 - 1
    assert torch.allclose(cam(coords), plain(coords), atol=1e-6)  # γ = 1, β = 0 up to interpolation rounding
    with torch.no_grad():  # and once the grid moves, it no longer does
        cam.modulations[0].grid.add_(0.1)
    assert not torch.allclose(cam(coords), plain(coords), atol=1e-3)


def test_cam_modulates_only_the_requested_blocks_and_its_grids_get_their_own_group():
    cam = CAMField(width=16, depth=3, resolution=8, modulated_blocks=1)
    assert len(cam.modulations) == 1 and cam.modulations[0].grid.shape == (1, 32, 8, 8)
    shared = CAMField(width=16, depth=3, resolution=8, modulation_channels=1)  # the paper's image code
    assert [m.grid.shape for m in shared.modulations] == [(1, 2, 8, 8)] * 3
    groups = parameter_groups(cam, partial(torch.optim.Adam, lr=1e-3), grid_lr_scale=10)
    assert groups[1]["lr"] == pytest.approx(1e-2) and groups[1]["params"] == [cam.modulations[0].grid]
    assert sum(len(g["params"]) for g in groups) == len(list(cam.parameters()))
    on_grid = CAMGridField(width=16, depth=2, resolution=8, features=4, modulation_resolution=4)
    assert [m.grid.shape for m in on_grid.modulations] == [(1, 16, 4, 4)]  # 8 γ/β groups, first block
    fast = parameter_groups(on_grid, partial(torch.optim.Adam, lr=1e-3), grid_lr_scale=10)[1]["params"]
    assert fast == [on_grid.features, on_grid.modulations[0].grid]


def test_feature_normalization_is_available_without_modulation():
    grid = GridField(width=16, depth=2, resolution=8, normalize=True)
    assert all(isinstance(n, torch.nn.LayerNorm) for n in grid.norms) and not grid.modulations
    h = grid.norms[0](torch.randn(5, 16) * 7 + 3)
    assert torch.allclose(h.mean(-1), torch.zeros(5), atol=1e-5)


def test_siren_initialization_keeps_sine_inputs_in_range():
    torch.manual_seed(0)
    siren = SirenField(width=64, depth=2)
    bound = (6 / 64) ** 0.5 / 30
    weights = [m.weight for m in siren.modules() if isinstance(m, torch.nn.Linear)][1:]
    assert all(w.abs().max() <= bound for w in weights)
    out = siren(torch.rand(512, 2) * 2 - 1)
    assert 0.05 < out.std() < 2  # neither vanishing nor exploding through the sines


@pytest.mark.parametrize("field", [PEField, CAMField, GridField, CAMGridField], ids=lambda f: f.__name__)
@pytest.mark.parametrize("block", block_classes(), ids=lambda b: b.__name__)
def test_every_block_works_as_the_field_mlp(block, field):
    torch.manual_seed(0)
    kwargs = {"resolution": 4} if field is not PEField else {}
    kwargs |= {"modulation_resolution": 4} if field is CAMGridField else {}
    model = field(3, 4, ffn=block, width=16, depth=1, **kwargs)
    coords = torch.rand(2, 8, 3) * 2 - 1  # (rays, samples, xyz): sequence blocks mix along samples
    out = model(coords)
    assert out.shape == (2, 8, 4)
    (out.square().mean() + ffn_blocks.auxiliary_loss(model)).backward()
    grads = [p.grad for m in model.modules() if isinstance(m, block) for p in m.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_wrong_coordinate_width_names_the_shape():
    with pytest.raises(ValueError, match=r"CAMField: expected coordinates \(\*, 2\), got \(5, 3\)"):
        CAMField(width=8, depth=1)(torch.zeros(5, 3))
