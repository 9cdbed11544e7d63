"""CoordinateModulation: identity at start, exact interpolation of a linear grid, gradients, errors."""

import pytest
import torch

from ffn_blocks import CoordinateModulation


def test_fresh_modulation_is_the_identity():
    mod = CoordinateModulation(5, resolution=8)
    x, coords = torch.randn(3, 7, 5), torch.rand(3, 7, 2) * 2 - 1
    torch.testing.assert_close(mod(x, coords), x)


@pytest.mark.parametrize("dim", [2, 3])
def test_linear_grids_interpolate_exactly(dim):
    mod = CoordinateModulation(1, resolution=[5, 9, 4][:dim], coord_dim=dim)
    axes = torch.meshgrid(*[torch.linspace(-1, 1, n) for n in reversed(mod.resolution)], indexing="ij")
    # gamma(c) = 1 + 0.5 c_0 ; beta(c) = c_last  (axes are stored in reverse coordinate order)
    with torch.no_grad():
        mod.grid[0, 0] = 1 + 0.5 * axes[-1]
        mod.grid[0, 1] = axes[0]
    coords = torch.rand(50, dim) * 2 - 1
    x = torch.randn(50, 1)
    expected = x * (1 + 0.5 * coords[:, :1]) + coords[:, -1:]
    torch.testing.assert_close(mod(x, coords), expected, rtol=1e-5, atol=1e-5)


def test_grid_gets_gradients_where_sampled():
    mod = CoordinateModulation(4, resolution=4)
    mod(torch.randn(10, 4), torch.full((10, 2), -1.0)).sum().backward()
    grad = mod.grid.grad.abs().sum(1)[0]
    assert grad[0, 0] > 0 and grad[-1, -1] == 0  # only the corner cell at (-1, -1) was read


def test_errors():
    with pytest.raises(ValueError, match="coord_dim=4 must be 2 or 3"):
        CoordinateModulation(3, coord_dim=4)
    with pytest.raises(ValueError, match=r"expected coordinates of shape \(\*, 2\), got \(5, 3\)"):
        CoordinateModulation(3).modulation(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="must share leading dimensions"):
        CoordinateModulation(3)(torch.zeros(5, 3), torch.zeros(4, 2))


@pytest.mark.parametrize("channels", [1, 2])
def test_shared_channels_equal_a_per_feature_grid_holding_the_same_values(channels):
    torch.manual_seed(0)
    shared = CoordinateModulation(6, resolution=5, channels=channels)
    full = CoordinateModulation(6, resolution=5)
    with torch.no_grad():
        shared.grid.normal_()
        gamma, beta = shared.grid[:, :channels], shared.grid[:, channels:]
        full.grid.copy_(
            torch.cat(
                [gamma.repeat_interleave(6 // channels, 1), beta.repeat_interleave(6 // channels, 1)], 1
            )
        )
    x, coords = torch.randn(3, 7, 6), torch.rand(3, 7, 2) * 2 - 1
    assert torch.allclose(shared(x, coords), full(x, coords), atol=1e-6)
    assert shared.grid.numel() == 2 * channels * 25


def test_channels_must_divide_the_features():
    with pytest.raises(ValueError, match="channels=4 must divide num_features=6"):
        CoordinateModulation(6, channels=4)
