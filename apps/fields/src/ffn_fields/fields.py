"""Neural fields (coordinates → signal) whose layers are injected `ffn_blocks` factories.

All share one backbone: ``Linear(encoding → width) → act`` then ``depth`` FFN blocks
``ffn(width, width)``, each followed (in the CAM fields) by feature normalization and a
`ffn_blocks.CoordinateModulation`, then the activation, and a final ``Linear(width → out)``:

- `PEField`: nerfstudio's `NeRFEncoding` (Fourier features of the coordinates) and ReLU;
- `SirenField`: sine activations with SIREN's initialization ("Implicit Neural Representations with
  Periodic Activation Functions", Sitzmann et al., NeurIPS 2020);
- `GridField`: a dense learned feature grid, interpolated at the coordinates, into a small MLP;
- `CAMField`: `PEField` plus coordinate-aware modulation after each block ("Coordinate-Aware Modulation
  for Neural Fields", Lee et al., ICLR 2024): ``Linear → normalize → γ(c) x + β(c) → activation``;
- `CAMGridField`: `GridField` with the same modulation.

Coordinates are in ``[−1, 1]^D``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

import torch
from nerfstudio.field_components.encodings import NeRFEncoding, RFFEncoding
from torch import nn

from ffn_blocks import MLP, CoordinateModulation, FeedForwardFactory
from ffn_blocks.modulation import sample_grid

#: What a field's ``ffn`` may be: an `ffn_blocks` block class (the study's swap point) or any
#: ``(in_features, out_features) -> module``, e.g. ``torch.nn.Linear`` for one linear layer per block
#: (a plain coordinate MLP, as the CAM paper's image code).
LayerFactory = FeedForwardFactory | Callable[[int, int], nn.Module]

__all__ = [
    "CAMField",
    "CAMGridField",
    "Field",
    "GridField",
    "LayerFactory",
    "PEField",
    "Sine",
    "SirenField",
    "parameter_groups",
]


class Sine(nn.Module):
    """``sin(ω₀ x)``, SIREN's activation."""

    def __init__(self, w0: float = 30.0) -> None:
        super().__init__()
        self.w0 = w0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * x)

    def extra_repr(self) -> str:
        return f"w0={self.w0}"


class Field(nn.Module):
    """Shared backbone; subclasses define ``encode`` (and the encoding width).

    Args:
        coord_dim: D, coordinate dimensions.
        out_dim: output channels (3 for RGB).
        ffn: the factory of the ``depth`` hidden blocks (an `ffn_blocks` block, or ``torch.nn.Linear``).
        width: feature width between blocks.
        depth: number of FFN blocks.
        act: activation between blocks.
        modulation: CAM modulation after each block (with ``resolution`` cells per axis).
        normalize: LayerNorm (no affine) after each block, before any modulation: the CAM paper's
            feature normalization (on by default in the CAM fields; available to the others as an
            ablation).
        resolution: modulation grid resolution.
        modulated_blocks: modulate only the first this many blocks (None: all).
        modulation_channels: γ and β channels per grid (`CoordinateModulation`'s ``channels``): None,
            one per feature; 1, one value per location shared by all features.
        modulate_input: normalize and modulate the input layer's features too (with ``modulation``);
            the CAM paper's image code modulates every layer, the first among them.
        output_act: activation on the output (CAM's image code: a sigmoid); None leaves it linear.
    """

    def __init__(
        self,
        coord_dim: int,
        out_dim: int,
        encoding_dim: int,
        *,
        ffn: LayerFactory,
        width: int,
        depth: int,
        act: Callable[[], nn.Module] = nn.ReLU,
        modulation: bool = False,
        normalize: bool = False,
        resolution: int | Sequence[int] = 32,
        modulated_blocks: int | None = None,
        modulation_channels: int | None = None,
        modulate_input: bool = False,
        output_act: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        modulated = (depth if modulated_blocks is None else min(modulated_blocks, depth)) if modulation else 0
        self.coord_dim, self.out_dim = coord_dim, out_dim
        self.input = nn.Linear(encoding_dim, width)
        self.act = act()
        self.blocks = nn.ModuleList(ffn(width, width) for _ in range(depth))
        self.norms = nn.ModuleList(
            nn.LayerNorm(width, elementwise_affine=False) if normalize else nn.Identity()
            for _ in range(depth)
        )
        modulate = partial(
            CoordinateModulation,
            width,
            resolution=resolution,
            coord_dim=coord_dim,
            channels=modulation_channels,
        )
        self.modulations = nn.ModuleList(modulate() for _ in range(modulated))
        self.input_modulation = (
            nn.Sequential(nn.LayerNorm(width, elementwise_affine=False), modulate())
            if modulation and modulate_input
            else None
        )
        self.output = nn.Linear(width, out_dim)
        self.output_act = output_act() if output_act is not None else nn.Identity()

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        if coords.shape[-1] != self.coord_dim:
            name, shape = type(self).__name__, tuple(coords.shape)
            raise ValueError(f"{name}: expected coordinates (*, {self.coord_dim}), got {shape}")
        h = self.input(self.encode(coords))
        if self.input_modulation is not None:
            norm, modulation = self.input_modulation
            h = modulation(norm(h), coords)
        h = self.act(h)
        for i, block in enumerate(self.blocks):
            h = self.norms[i](block(h))
            if i < len(self.modulations):
                h = self.modulations[i](h, coords)
            h = self.act(h)
        return self.output_act(self.output(h))

    def grid_parameters(self) -> list[nn.Parameter]:
        """Parameters trained with the higher learning rate (CAM's grids, a grid field's features)."""
        return [p for m in self.modules() if isinstance(m, CoordinateModulation) for p in m.grid_parameters()]


class PEField(Field):
    """Fourier-feature MLP: nerfstudio's `NeRFEncoding` with ``num_frequencies`` octaves (``encoding=
    "octave"``), or random Fourier features (``encoding="random"``: nerfstudio's `RFFEncoding`,
    ``num_frequencies`` Gaussian frequencies of std ``rff_sigma`` on coordinates mapped to ``[0, 1]``,
    sines and cosines, no raw input: the encoding of the CAM paper's image code, σ = 10, 256 frequencies).

    The remaining arguments are `Field`'s (`CAMField` sets its modulation settings through them).
    """

    def __init__(
        self,
        coord_dim: int = 2,
        out_dim: int = 3,
        *,
        ffn: LayerFactory = MLP,
        width: int = 128,
        depth: int = 3,
        num_frequencies: int = 10,
        max_frequency: float | None = None,
        encoding: Literal["octave", "random"] = "octave",
        rff_sigma: float = 10.0,
        act: Callable[[], nn.Module] = nn.ReLU,
        modulation: bool = False,
        normalize: bool = False,
        resolution: int | Sequence[int] = 32,
        modulated_blocks: int | None = None,
        modulation_channels: int | None = None,
        modulate_input: bool = False,
        output_act: Callable[[], nn.Module] | None = None,
    ) -> None:
        if encoding == "random":
            encoder: nn.Module = RFFEncoding(coord_dim, num_frequencies, rff_sigma)
        elif encoding == "octave":
            encoder = NeRFEncoding(
                in_dim=coord_dim,
                num_frequencies=num_frequencies,
                min_freq_exp=0.0,
                max_freq_exp=max_frequency if max_frequency is not None else num_frequencies - 1,
                include_input=True,
            )
        else:
            raise ValueError(f"{type(self).__name__}: encoding={encoding!r} must be 'octave' or 'random'")
        super().__init__(
            coord_dim,
            out_dim,
            encoder.get_out_dim(),
            ffn=ffn,
            width=width,
            depth=depth,
            act=act,
            modulation=modulation,
            normalize=normalize,
            resolution=resolution,
            modulated_blocks=modulated_blocks,
            modulation_channels=modulation_channels,
            modulate_input=modulate_input,
            output_act=output_act,
        )
        self.encoding = encoder

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        # random features read [0, 1] coordinates, as the CAM code's (sin(2π σ B x) with x in [0, 1])
        return self.encoding((coords + 1) / 2 if isinstance(self.encoding, RFFEncoding) else coords)


class CAMField(PEField):
    """`PEField` with coordinate-aware modulation and feature normalization after every FFN block.

    By default every feature has its own γ and β (``modulation_channels=None``). The paper's
    image-regression code shares one γ and β per location among all features
    (``modulation_channels=1``, every block); at our budgets and step counts that is far weaker
    (``ffn-fields bench`` sweeps both, and grouped settings in between). The paper's whole image setting
    is the ``cam_paper`` config: random Fourier features, single linear layers, the input layer
    modulated too, one γ/β channel, a sigmoid output.
    """

    def __init__(
        self,
        coord_dim: int = 2,
        out_dim: int = 3,
        *,
        ffn: LayerFactory = MLP,
        width: int = 128,
        depth: int = 3,
        num_frequencies: int = 10,
        max_frequency: float | None = None,
        encoding: Literal["octave", "random"] = "octave",
        rff_sigma: float = 10.0,
        resolution: int | Sequence[int] = 32,
        normalize: bool = True,
        modulated_blocks: int | None = None,
        modulation_channels: int | None = None,
        modulate_input: bool = False,
        output_act: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__(
            coord_dim,
            out_dim,
            ffn=ffn,
            width=width,
            depth=depth,
            num_frequencies=num_frequencies,
            max_frequency=max_frequency,
            encoding=encoding,
            rff_sigma=rff_sigma,
            modulation=True,
            normalize=normalize,
            resolution=resolution,
            modulated_blocks=modulated_blocks,
            modulation_channels=modulation_channels,
            modulate_input=modulate_input,
            output_act=output_act,
        )


class SirenField(Field):
    """SIREN: sine activations (ω₀ = 30) and its initialization on every linear layer.

    The FFN blocks take the sine as their activation when they accept ``act`` (e.g. `MLP`); the blocks'
    linear layers get SIREN's ``U(±√(6/n)/ω₀)`` weights, the first layer ``U(±1/n)``.
    """

    def __init__(
        self,
        coord_dim: int = 2,
        out_dim: int = 3,
        *,
        ffn: LayerFactory | None = None,
        width: int = 128,
        depth: int = 3,
        w0: float = 30.0,
    ) -> None:
        sine = partial(Sine, w0)
        super().__init__(
            coord_dim,
            out_dim,
            coord_dim,
            ffn=ffn or partial(MLP, act=sine),
            width=width,
            depth=depth,
            act=sine,
        )
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    bound = math.sqrt(6 / module.in_features) / w0
                    module.weight.uniform_(-bound, bound)
            self.input.weight.uniform_(-1 / coord_dim, 1 / coord_dim)

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        return coords


class GridField(Field):
    """A dense feature grid (``resolution`` cells per axis, ``features`` channels) read by interpolation,
    concatenated with the coordinates, into the MLP (a dense stand-in for Instant-NGP's hash grid).

    The remaining arguments are `Field`'s (`CAMGridField` sets its modulation settings through them),
    with ``modulation_resolution`` as the modulation grid's resolution.
    """

    def __init__(
        self,
        coord_dim: int = 2,
        out_dim: int = 3,
        *,
        ffn: LayerFactory = MLP,
        width: int = 64,
        depth: int = 2,
        resolution: int = 64,
        features: int = 16,
        modulation_resolution: int | Sequence[int] = 32,
        act: Callable[[], nn.Module] = nn.ReLU,
        modulation: bool = False,
        normalize: bool = False,
        modulated_blocks: int | None = None,
        modulation_channels: int | None = None,
    ) -> None:
        super().__init__(
            coord_dim,
            out_dim,
            features + coord_dim,
            ffn=ffn,
            width=width,
            depth=depth,
            act=act,
            modulation=modulation,
            normalize=normalize,
            resolution=modulation_resolution,
            modulated_blocks=modulated_blocks,
            modulation_channels=modulation_channels,
        )
        self.features = nn.Parameter(torch.randn(1, features, *([resolution] * coord_dim)) * 1e-2)

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        return torch.cat([sample_grid(self.features, coords), coords], dim=-1)

    def grid_parameters(self) -> list[nn.Parameter]:
        return [self.features, *super().grid_parameters()]


class CAMGridField(GridField):
    """`GridField` with coordinate-aware modulation and feature normalization after its FFN blocks.

    The CAM paper applies CAM plug-and-play to existing fields, grid-based ones among them (its
    reference code builds on FFNeRV and NerfAcc as well as on Fourier-feature MLPs); this is that
    combination for `GridField`.

    The feature grid (``resolution``, ``features``) carries detail; the low-resolution modulation grid
    (``modulation_resolution``) scales and shifts the MLP's normalized features. By default the first
    block is modulated with 8 γ/β groups at 32² (``ffn-fields bench`` sweeps the settings).
    """

    def __init__(
        self,
        coord_dim: int = 2,
        out_dim: int = 3,
        *,
        ffn: LayerFactory = MLP,
        width: int = 64,
        depth: int = 2,
        resolution: int = 64,
        features: int = 16,
        modulation_resolution: int | Sequence[int] = 32,
        normalize: bool = True,
        modulated_blocks: int | None = 1,
        modulation_channels: int | None = 8,
    ) -> None:
        super().__init__(
            coord_dim,
            out_dim,
            ffn=ffn,
            width=width,
            depth=depth,
            resolution=resolution,
            features=features,
            modulation_resolution=modulation_resolution,
            modulation=True,
            normalize=normalize,
            modulated_blocks=modulated_blocks,
            modulation_channels=modulation_channels,
        )


def parameter_groups(
    field: Field, optimizer: Callable[..., torch.optim.Optimizer], grid_lr_scale: float
) -> list[dict[str, Any]]:
    """Optimizer groups: the field's grids (``Field.grid_parameters``) at ``grid_lr_scale`` × the
    optimizer's default learning rate, everything else at the default."""
    grid = {id(p) for p in field.grid_parameters()}
    groups: list[dict[str, Any]] = [{"params": [p for p in field.parameters() if id(p) not in grid]}]
    if grid:
        base = optimizer([nn.Parameter(torch.zeros(1))]).defaults["lr"]
        groups.append({"params": field.grid_parameters(), "lr": base * grid_lr_scale})
    return groups
