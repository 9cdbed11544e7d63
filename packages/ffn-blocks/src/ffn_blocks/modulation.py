"""`CoordinateModulation`: per-feature scale and shift read from a small grid at each coordinate (CAM).

From "Coordinate-Aware Modulation for Neural Fields" (Lee et al., ICLR 2024,
https://arxiv.org/abs/2311.14993). A low-resolution grid over the coordinate domain holds, for every
feature, a scale γ and a shift β; they are interpolated (bilinearly in 2-D, trilinearly in 3-D) at each
query coordinate and modulate the MLP's intermediate features ``x ↦ γ(c) ⊙ x + β(c)``. The grid starts
at γ = 1, β = 0, so a fresh modulation is the identity and training moves it from there. The paper
trains the grid with a learning rate 10× the MLP's (see ``grid_parameters``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import check_positive_int

__all__ = ["CoordinateModulation", "sample_grid"]


def sample_grid(grid: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Values of a ``(1, C, *spatial)`` grid, linearly interpolated at ``coords`` ``(*, D)`` in ``[−1, 1]``.

    The spatial axes are in reverse coordinate order (``grid_sample``'s layout: ``(…, Z, Y, X)``); points
    outside the domain read the border. Returns ``(*, C)``.
    """
    dim = coords.shape[-1]
    if grid.ndim != dim + 2:
        raise ValueError(
            f"sample_grid: a {dim}-D coordinate needs a ({dim + 2})-D grid, got {tuple(grid.shape)}"
        )
    lead = coords.shape[:-1]
    points = coords.reshape(1, -1, *([1] * (dim - 1)), dim).to(grid.dtype)
    values = F.grid_sample(grid, points, mode="bilinear", padding_mode="border", align_corners=True)
    return values.reshape(grid.shape[1], -1).T.reshape(*lead, -1)


class CoordinateModulation(nn.Module):
    """``γ(c) ⊙ x + β(c)`` with γ and β interpolated from a learned grid at coordinates ``c ∈ [−1, 1]^D``.

    Args:
        num_features: F, the size of the modulated features' last dimension.
        resolution: grid cells per axis (an int for every axis, or one per axis; paper: 32 for images).
        coord_dim: D, 2 (images) or 3 (volumes).
        scale: learn the scale γ.
        shift: learn the shift β.
        channels: grid channels per part (γ, β); the features are split into this many contiguous
            groups that share a value. None: one per feature. 1: a single γ and β per location for all
            features, as the paper's image-regression code does (``2 · resolution^D`` parameters).

    Shape:
        - ``x``: ``(*, F)``; ``coords``: ``(*, D)`` with the same leading shape, values in ``[−1, 1]``
        - Output: ``(*, F)``
    """

    def __init__(
        self,
        num_features: int,
        *,
        resolution: int | Sequence[int] = 32,
        coord_dim: int = 2,
        scale: bool = True,
        shift: bool = True,
        channels: int | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("CoordinateModulation", "num_features", num_features)
        channels = num_features if channels is None else channels
        check_positive_int("CoordinateModulation", "channels", channels)
        if num_features % channels:
            raise ValueError(
                f"CoordinateModulation: channels={channels} must divide num_features={num_features}"
            )
        if coord_dim not in (2, 3):
            raise ValueError(f"CoordinateModulation: coord_dim={coord_dim} must be 2 or 3")
        sizes = [resolution] * coord_dim if isinstance(resolution, int) else list(resolution)
        if len(sizes) != coord_dim or min(sizes) < 1:
            raise ValueError(
                f"CoordinateModulation: resolution={resolution!r} needs {coord_dim} positive sizes"
            )
        if not (scale or shift):
            raise ValueError("CoordinateModulation: scale and shift cannot both be off")
        self.num_features, self.coord_dim, self.resolution = num_features, coord_dim, tuple(sizes)
        self.channels = channels
        self.has_scale, self.has_shift = scale, shift
        # grid_sample's layout: (1, channels, *spatial), spatial axes in reverse coordinate order
        self.grid = nn.Parameter(torch.empty(1, channels * (int(scale) + int(shift)), *reversed(sizes)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.grid.zero_()
            if self.has_scale:
                self.grid[:, : self.channels] = 1.0

    def grid_parameters(self) -> list[nn.Parameter]:
        """The parameters the paper trains at 10× the learning rate."""
        return [self.grid]

    def modulation(self, coords: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(γ, β)`` at ``coords``, each ``(*, channels)`` (None when that part is off)."""
        if coords.shape[-1] != self.coord_dim:
            raise ValueError(
                f"CoordinateModulation: expected coordinates of shape (*, {self.coord_dim}), "
                f"got {tuple(coords.shape)}"
            )
        values = sample_grid(self.grid, coords)
        gamma = values[..., : self.channels] if self.has_scale else None
        beta = values[..., -self.channels :] if self.has_shift else None
        return gamma, beta

    def forward(self, x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.num_features or x.shape[:-1] != coords.shape[:-1]:
            raise ValueError(
                f"CoordinateModulation: features {tuple(x.shape)} and coordinates {tuple(coords.shape)} "
                f"must share leading dimensions, with {self.num_features} features"
            )
        gamma, beta = self.modulation(coords)
        shape = x.shape
        if self.channels != self.num_features:  # groups of features share one value
            x = x.unflatten(-1, (self.channels, -1))
            gamma = None if gamma is None else gamma[..., None]
            beta = None if beta is None else beta[..., None]
        if gamma is not None:
            x = x * gamma
        if beta is not None:
            x = x + beta
        return x.reshape(shape)

    def extra_repr(self) -> str:
        parts = f"resolution={self.resolution}, scale={self.has_scale}, shift={self.has_shift}"
        if self.channels != self.num_features:
            parts += f", channels={self.channels}"
        return f"{self.num_features}, {parts}"
