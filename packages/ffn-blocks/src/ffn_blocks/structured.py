"""Structured feed-forward blocks: low-rank, block-dense and block-shuffle linears, and self-guided training.

From "Building on Efficient Foundations: Effectively Training LLMs with Structured Feedforward Layers"
(Wei, Moalla, Pascanu, Gulcehre; NeurIPS 2024, https://arxiv.org/abs/2406.16450). Each FFN linear
``W ∈ R^{out×in}`` is replaced by a structured product:

- LowRank: ``W = U V`` with ``V ∈ R^{r×in}``, ``U ∈ R^{out×r}``.
- BlockDense: a block-diagonal ``in → r`` map followed by a dense ``r → out`` map.
- BlockShuffle: block-diagonal, a fixed perfect shuffle of channels, block-diagonal (Monarch-style).

Self-guided training adds a dense "guide" weight per linear, initialized to the structured product, and
mixes ``ratio · dense(x) + (1 − ratio) · structured(x)``. The trainer anneals ``ratio`` from 1 to 0
(``ffn_lightning.SelfGuidedTraining`` does it from the global step); at 0 the guide is skipped.

Initialization departs from the reference code in one deliberate way: the factors are semi-orthogonal
(the paper's "ortho" post-init) and scaled so that the product's output variance equals that of
`torch.nn.Linear`'s default init, so swapping `MLP` for a structured block keeps activation scales.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .base import DEFAULT_EXPANSION, check_divisible, check_positive_int, check_ratio
from .mlp import TwoLayerFeedForward

__all__ = [
    "BlockDenseLinear",
    "BlockDenseMLP",
    "BlockShuffleLinear",
    "BlockShuffleMLP",
    "LowRankLinear",
    "LowRankMLP",
    "StructuredLinear",
    "set_guide_ratio",
]

# Output variance / input variance of nn.Linear's default init (uniform ±1/√fan_in): fan_in · 1/(3·fan_in).
_LINEAR_DEFAULT_GAIN = 1.0 / 3.0


def _semi_orthogonal_(weight: torch.Tensor, variance_gain: float) -> None:
    """Fill each trailing ``(rows, cols)`` matrix with a scaled semi-orthogonal matrix.

    ``variance_gain`` is the wanted ``Var(W x) / Var(x)`` per output for i.i.d. inputs. Orthonormal rows
    (rows ≤ cols) give 1; orthonormal columns (rows > cols) give ``cols / rows``; the scale fixes either.
    """
    rows, cols = weight.shape[-2:]
    base = 1.0 if rows <= cols else cols / rows
    gain = math.sqrt(variance_gain / base)
    with torch.no_grad():
        for matrix in weight.view(-1, rows, cols):
            nn.init.orthogonal_(matrix, gain=gain)


class StructuredLinear(nn.Module):
    """Base of the structured linears: ``y = structured(x) + b``, optionally mixed with a dense guide.

    Subclasses define ``structured(x)`` (no bias), ``_reset_factors()`` and ``last_factor``.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        bias: learn an additive bias.
        self_guided: hold a dense guide weight for self-guided training (ratio starts at 1).
    """

    #: the factor applied last, whose zeroing (with the bias and guide) zeroes the output
    last_factor: ClassVar[str]

    def __init__(self, in_features: int, out_features: int, *, bias: bool, self_guided: bool) -> None:
        super().__init__()
        check_positive_int(type(self).__name__, "in_features", in_features)
        check_positive_int(type(self).__name__, "out_features", out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.guide = nn.Parameter(torch.empty(out_features, in_features)) if self_guided else None
        self._guide_ratio = 0.0
        if self_guided:
            # A buffer so that checkpoints carry the schedule's position; the float mirrors it for branching.
            self.register_buffer("guide_ratio_state", torch.tensor(1.0))
            self._guide_ratio = 1.0

    def structured(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _reset_factors(self) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def zero_output_(self) -> None:
        """Zero the output, keeping a gradient: the last factor, the bias and the dense guide."""
        for param in (getattr(self, self.last_factor), self.bias, self.guide):
            if param is not None:
                param.zero_()

    def reset_parameters(self) -> None:
        self._reset_factors()
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)
        if self.guide is not None:
            with torch.no_grad():
                self.guide.copy_(self.dense_weight())
            self.guide_ratio = 1.0

    @property
    def guide_ratio(self) -> float:
        """Weight of the dense guide path in ``[0, 1]`` (always 0 without ``self_guided``)."""
        return self._guide_ratio

    @guide_ratio.setter
    def guide_ratio(self, value: float) -> None:
        if self.guide is None:
            raise ValueError(f"{type(self).__name__}: guide_ratio needs self_guided=True")
        check_ratio(type(self).__name__, "guide_ratio", value, high_inclusive=True)
        self._guide_ratio = float(value)
        self.guide_ratio_state.fill_(value)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if self.guide is not None:
            self._guide_ratio = float(self.guide_ratio_state)

    @torch.no_grad()
    def dense_weight(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` matrix the structured product represents."""
        like = next(self.parameters())
        eye = torch.eye(self.in_features, dtype=like.dtype, device=like.device)
        return self.structured(eye).T.contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.structured(x)
        if self.guide is not None and self._guide_ratio > 0.0:
            # Both paths run while guided so every factor gets a gradient (DDP needs that).
            y = torch.lerp(y, F.linear(x, self.guide), self._guide_ratio)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        guided = f", self_guided, guide_ratio={self._guide_ratio:.3g}" if self.guide is not None else ""
        widths = f"in_features={self.in_features}, out_features={self.out_features}"
        return f"{widths}, bias={self.bias is not None}{guided}"


class LowRankLinear(StructuredLinear):
    """``y = U V x + b`` with ``V ∈ R^{rank×in}``, ``U ∈ R^{out×rank}`` and ``rank < min(in, out)``."""

    last_factor = "up"

    def __init__(
        self, in_features: int, out_features: int, *, rank: int, bias: bool = True, self_guided: bool = False
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, self_guided=self_guided)
        _check_rank(type(self).__name__, rank, {"in_features": in_features, "out_features": out_features})
        self.rank = rank
        self.down = nn.Parameter(torch.empty(rank, in_features))
        self.up = nn.Parameter(torch.empty(out_features, rank))
        self.reset_parameters()

    def _reset_factors(self) -> None:
        _semi_orthogonal_(self.down, 1.0)
        _semi_orthogonal_(self.up, _LINEAR_DEFAULT_GAIN)

    def structured(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.down), self.up)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}"


class BlockDenseLinear(StructuredLinear):
    """A block-diagonal ``in → rank`` map (``num_blocks`` blocks) followed by a dense ``rank → out`` map."""

    last_factor = "dense"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        num_blocks: int,
        rank: int,
        bias: bool = True,
        self_guided: bool = False,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, self_guided=self_guided)
        name = type(self).__name__
        check_positive_int(name, "num_blocks", num_blocks)
        _check_rank(name, rank, {"in_features": in_features, "out_features": out_features})
        check_divisible(name, "in_features", in_features, "num_blocks", num_blocks)
        check_divisible(name, "rank", rank, "num_blocks", num_blocks)
        self.num_blocks = num_blocks
        self.rank = rank
        self.blocks = nn.Parameter(torch.empty(num_blocks, rank // num_blocks, in_features // num_blocks))
        self.dense = nn.Parameter(torch.empty(out_features, rank))
        self.reset_parameters()

    def _reset_factors(self) -> None:
        _semi_orthogonal_(self.blocks, 1.0)
        _semi_orthogonal_(self.dense, _LINEAR_DEFAULT_GAIN)

    def structured(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_blocks == 1:  # a low-rank product: the same kernels, so the same bits, as LowRankMLP
            return F.linear(F.linear(x, self.blocks[0]), self.dense)
        lead = x.shape[:-1]
        h = torch.einsum("...bp,bqp->...bq", x.reshape(*lead, self.num_blocks, -1), self.blocks)
        return F.linear(h.reshape(*lead, self.rank), self.dense)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_blocks={self.num_blocks}, rank={self.rank}"


class BlockShuffleLinear(StructuredLinear):
    """Block-diagonal → perfect shuffle → block-diagonal, intermediate width ``min(in, out)``.

    The shuffle reads the ``num_blocks × q`` intermediate grid column-major, so each second-stage block
    sees channels from every first-stage block when ``q ≥ num_blocks``.
    """

    last_factor = "blocks2"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        num_blocks: int,
        bias: bool = True,
        self_guided: bool = False,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, self_guided=self_guided)
        name = type(self).__name__
        check_positive_int(name, "num_blocks", num_blocks)
        check_divisible(name, "in_features", in_features, "num_blocks", num_blocks)
        check_divisible(name, "out_features", out_features, "num_blocks", num_blocks)
        self.num_blocks = num_blocks
        mid = min(in_features, out_features) // num_blocks
        self.blocks1 = nn.Parameter(torch.empty(num_blocks, mid, in_features // num_blocks))
        self.blocks2 = nn.Parameter(torch.empty(num_blocks, out_features // num_blocks, mid))
        self.reset_parameters()

    def _reset_factors(self) -> None:
        _semi_orthogonal_(self.blocks1, 1.0)
        _semi_orthogonal_(self.blocks2, _LINEAR_DEFAULT_GAIN)

    def structured(self, x: torch.Tensor) -> torch.Tensor:
        lead, nb = x.shape[:-1], self.num_blocks
        h = torch.einsum("...bp,bqp->...bq", x.reshape(*lead, nb, -1), self.blocks1)
        h = h.transpose(-1, -2).reshape(*lead, nb, -1)  # perfect shuffle across blocks
        return torch.einsum("...bq,bsq->...bs", h, self.blocks2).reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_blocks={self.num_blocks}"


def _check_rank(owner: str, rank: object, widths: dict[str, int]) -> None:
    check_positive_int(owner, "rank", rank)
    limit = min(widths.values())
    if rank >= limit:
        names = ", ".join(widths)
        raise ValueError(f"{owner}: rank={rank} must be < min({names})={limit}")


def _widths(owner: str, in_features: int, out_features: int, hidden_features: int | None) -> dict[str, int]:
    """The three widths a two-layer block uses, checked, with the default hidden width filled in."""
    widths = {
        "in_features": in_features,
        "hidden_features": DEFAULT_EXPANSION * in_features if hidden_features is None else hidden_features,
        "out_features": out_features,
    }
    for name, value in widths.items():
        check_positive_int(owner, name, value)
    return widths


_AUTO_BLOCKS = (4, 2, 1)  # num_blocks=None tries these in order


def _default_block_rank(num_blocks: int, compressed: dict[str, int]) -> int:
    return num_blocks * max(1, min(compressed.values()) // (4 * num_blocks))


def _block_dense_fits(num_blocks: int, rank: int | None, compressed: dict[str, int]) -> bool:
    rank = _default_block_rank(num_blocks, compressed) if rank is None else rank
    divisible = all(w % num_blocks == 0 for w in (*compressed.values(), rank))
    return divisible and rank < min(compressed.values())


# The output layer (hidden → out) of a structured MLP stays a dense nn.Linear when the structure cannot
# hold it (a rank at or above out_features, or out_features not a multiple of num_blocks): that is the
# case of narrow heads (a score, a few classes, RGB), where the dense layer is also the cheaper one.
# in_features and hidden_features, the widths the structure exists to compress, are checked strictly.


class LowRankMLP(TwoLayerFeedForward):
    """`MLP` whose linears are `LowRankLinear` (Wei et al., NeurIPS 2024).

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width (default ``4 * in_features``).
        act: activation factory.
        bias: learn additive biases.
        dropout: dropout probability after the activation and after the output layer.
        norm: optional normalization factory applied to the input.
        rank: rank of the factorizations, below ``min(in_features, hidden_features)``; default a quarter
            of that. The output layer is factorized only when ``rank < out_features`` (else dense).
        self_guided: add dense guide weights for self-guided training (see `set_guide_ratio`).

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None = None,
        act: Callable[[], nn.Module] = nn.GELU,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
        rank: int | None = None,
        self_guided: bool = False,
    ) -> None:
        widths = _widths(type(self).__name__, in_features, out_features, hidden_features)
        compressed = {k: widths[k] for k in ("in_features", "hidden_features")}
        if rank is None:
            rank = max(1, min(compressed.values()) // 4)
        _check_rank(type(self).__name__, rank, compressed)
        linear = partial(LowRankLinear, rank=rank, self_guided=self_guided)
        super().__init__(
            in_features,
            out_features,
            hidden_features=hidden_features,
            act=act,
            bias=bias,
            dropout=dropout,
            norm=norm,
            linear=linear,
            output_linear=linear if rank < out_features else nn.Linear,
        )
        self.rank = rank
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}"


class BlockDenseMLP(TwoLayerFeedForward):
    """`MLP` whose linears are `BlockDenseLinear` (block-diagonal then dense; Wei et al., 2024).

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width (default ``4 * in_features``).
        act: activation factory.
        bias: learn additive biases.
        dropout: dropout probability after the activation and after the output layer.
        norm: optional normalization factory applied to the input.
        num_blocks: diagonal blocks; ``in_features``, ``hidden_features`` and ``rank`` must be multiples.
            Default: the largest of 4, 2, 1 that fits the widths (4 at every usual width; fewer for
            narrow inputs such as 7 time series). At 1 the block-diagonal is one dense matrix, so the
            block computes exactly what `LowRankMLP` of the same ``rank`` does (with an odd
            ``in_features`` such as 7 channels or Cora's 1433 words). An explicit value is checked
            strictly.
        rank: width between the block-diagonal and the dense map, below ``min(in_features,
            hidden_features)``; default about a quarter of that, a multiple of ``num_blocks``. The output
            layer is block-dense only when ``rank < out_features`` (else dense).
        self_guided: add dense guide weights for self-guided training (see `set_guide_ratio`).

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None = None,
        act: Callable[[], nn.Module] = nn.GELU,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
        num_blocks: int | None = None,
        rank: int | None = None,
        self_guided: bool = False,
    ) -> None:
        name = type(self).__name__
        widths = _widths(name, in_features, out_features, hidden_features)
        compressed = {k: widths[k] for k in ("in_features", "hidden_features")}
        if num_blocks is None:
            num_blocks = next((nb for nb in _AUTO_BLOCKS if _block_dense_fits(nb, rank, compressed)), 1)
        check_positive_int(name, "num_blocks", num_blocks)
        if rank is None:
            rank = _default_block_rank(num_blocks, compressed)
        _check_rank(name, rank, compressed)
        for width_name, width in (*compressed.items(), ("rank", rank)):
            check_divisible(name, width_name, width, "num_blocks", num_blocks)
        linear = partial(BlockDenseLinear, num_blocks=num_blocks, rank=rank, self_guided=self_guided)
        super().__init__(
            in_features,
            out_features,
            hidden_features=hidden_features,
            act=act,
            bias=bias,
            dropout=dropout,
            norm=norm,
            linear=linear,
            output_linear=linear if rank < out_features else nn.Linear,
        )
        self.num_blocks = num_blocks
        self.rank = rank
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_blocks={self.num_blocks}, rank={self.rank}"


class BlockShuffleMLP(TwoLayerFeedForward):
    """`MLP` whose linears are `BlockShuffleLinear` (two block-diagonals and a shuffle; Wei et al., 2024).

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width (default ``4 * in_features``).
        act: activation factory.
        bias: learn additive biases.
        dropout: dropout probability after the activation and after the output layer.
        norm: optional normalization factory applied to the input.
        num_blocks: diagonal blocks; ``in_features`` and ``hidden_features`` must be multiples. The
            output layer is block-shuffle only when ``out_features`` is a multiple too (else dense).
            Every output channel sees every input once ``min(in, out) / num_blocks ≥ num_blocks``.
            Default: the largest of 4, 2, 1 dividing both widths. An explicit value is checked strictly.
        self_guided: add dense guide weights for self-guided training (see `set_guide_ratio`).

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None = None,
        act: Callable[[], nn.Module] = nn.GELU,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
        num_blocks: int | None = None,
        self_guided: bool = False,
    ) -> None:
        name = type(self).__name__
        widths = _widths(name, in_features, out_features, hidden_features)
        if num_blocks is None:
            num_blocks = next(
                nb
                for nb in _AUTO_BLOCKS
                if widths["in_features"] % nb == 0 and widths["hidden_features"] % nb == 0
            )
        check_positive_int(name, "num_blocks", num_blocks)
        for width_name in ("in_features", "hidden_features"):
            check_divisible(name, width_name, widths[width_name], "num_blocks", num_blocks)
        linear = partial(BlockShuffleLinear, num_blocks=num_blocks, self_guided=self_guided)
        super().__init__(
            in_features,
            out_features,
            hidden_features=hidden_features,
            act=act,
            bias=bias,
            dropout=dropout,
            norm=norm,
            linear=linear,
            output_linear=linear if out_features % num_blocks == 0 else nn.Linear,
        )
        self.num_blocks = num_blocks
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_blocks={self.num_blocks}"


def set_guide_ratio(model: nn.Module, ratio: float) -> int:
    """Set the dense-guide weight of every self-guided structured linear in ``model``.

    Args:
        model: any module.
        ratio: in ``[0, 1]``; 1 is fully dense, 0 fully structured (the guide is then skipped).

    Returns:
        How many linears were updated (0 when the model has no self-guided layer).
    """
    check_ratio("set_guide_ratio", "ratio", ratio, high_inclusive=True)
    count = 0
    for module in model.modules():
        if isinstance(module, StructuredLinear) and module.guide is not None:
            module.guide_ratio = ratio
            count += 1
    return count
