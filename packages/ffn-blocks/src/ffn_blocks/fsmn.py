"""Sequence-memory feed-forward blocks of MossFormer2: `ConvFFN`, `FSMNMemory` and `GatedConvUnit`.

From "MossFormer2: Combining Transformer and RNN-Free Recurrent Network for Enhanced Time-Domain
Monaural Speech Separation" (Zhao et al., ICASSP 2024, https://arxiv.org/abs/2312.11825) and the
feedforward sequential memory network ("Compact Feedforward Sequential Memory Networks for Large
Vocabulary Continuous Speech Recognition", Zhang et al., 2016). All three mix along a sequence axis
(``(*, T, C)``, T second to last), so they are not position-wise:

- `ConvFFN`: ``norm → Linear → act → depthwise conv along T (+ skip) → dropout`` (MossFormer's FFConvM).
- `FSMNMemory`: ``Linear → ReLU → Linear`` then a dilated, densely connected stack of depthwise
  convolutions along T (the "memory": each step sees a window of past and future steps), with the
  block's input added back when the widths agree.
- `GatedConvUnit`: MossFormer2's gated FSMN, ``v ⊙ memory(u) (+ x)`` with ``u`` and ``v`` two `ConvFFN`
  branches: the RNN-free recurrent module's gating.

Their long depthwise convolutions run through an FFT on the CPU (`ffn_blocks.fft_conv`): PyTorch's
direct CPU kernels, backward above all, are slow at these widths; the result is the same to float
rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .base import FeedForward, build_norm, check_positive_int, check_ratio
from .dropout import Dropout
from .fft_conv import grouped_conv1d

__all__ = ["ConvFFN", "FSMNMemory", "GatedConvUnit"]

_LAYOUT = "(*, T, C): convolutions along T, the second-to-last axis"


def _as_sequences(x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """``(*, T, C)`` → ``(N, C, T)`` for Conv1d, with the leading shape to restore."""
    lead = x.shape[:-2]
    return x.reshape(-1, *x.shape[-2:]).transpose(1, 2), lead


def _from_sequences(x: torch.Tensor, lead: torch.Size) -> torch.Tensor:
    return x.transpose(1, 2).reshape(*lead, x.shape[2], x.shape[1])


def _instance_norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)``; an affine `nn.InstanceNorm1d` without running statistics runs as a group norm of one
    channel per group: the same numbers through one fused kernel (a fifth faster, forward + backward)."""
    if isinstance(norm, nn.InstanceNorm1d) and norm.affine and not norm.track_running_stats:
        return F.group_norm(x, x.shape[1], norm.weight, norm.bias, norm.eps)
    return norm(x)


def _check_sequence(block: FeedForward, x: torch.Tensor) -> None:
    block.check_input(x)
    if x.ndim < 2:
        raise ValueError(
            f"{type(block).__name__}: expected input of shape (*, T, in_features={block.in_features}) with a "
            f"sequence axis, got {tuple(x.shape)}"
        )


class ConvFFN(FeedForward):
    """``norm → Linear(in → out) → act → depthwise Conv1d along T (+ skip) → dropout``.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: unused width kept for the shared signature (the block has no hidden layer).
        act: activation factory (MossFormer2: SiLU).
        bias: biases of the linear map.
        dropout: dropout probability on the output.
        norm: normalization factory applied to the input (MossFormer2: LayerNorm; None for none).
        kernel_size: depthwise convolution width along T (MossFormer2: 17; odd keeps the length).

    Shape:
        - Input: ``(*, T, in_features)``
        - Output: ``(*, T, out_features)``
    """

    position_wise: ClassVar[bool] = False
    spectral_taps: ClassVar[tuple[str, str] | None] = ("linear", "hidden")
    layout: ClassVar[str] = _LAYOUT

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
        kernel_size: int = 17,
    ) -> None:
        super().__init__(in_features, out_features, hidden_features)
        check_ratio(type(self).__name__, "dropout", dropout)
        check_positive_int(type(self).__name__, "kernel_size", kernel_size)
        self.norm = build_norm(norm, in_features)
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.act = act()
        self.hidden = nn.Identity()  # marks the post-activation (*, T, C) for spectral taps
        self.conv = nn.Conv1d(
            out_features, out_features, kernel_size, padding=kernel_size // 2, groups=out_features, bias=False
        )
        self.kernel_size = kernel_size
        self.drop = Dropout(dropout)
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_sequence(self, x)
        h = self.hidden(self.act(self.linear(self.norm(x))))
        seq, lead = _as_sequences(h)
        conv = grouped_conv1d(seq, self.conv.weight, self.conv.padding[0])[..., : seq.shape[-1]]  # even k: +1
        return self.drop(h + _from_sequences(conv, lead))

    def extra_repr(self) -> str:
        widths = f"in_features={self.in_features}, out_features={self.out_features}"
        return f"{widths}, kernel_size={self.kernel_size}"


class FSMNMemory(FeedForward):
    """FSMN memory: ``Linear → ReLU → Linear``, then dilated dense depthwise convolutions along T.

    Layer ``i`` of the memory convolves the concatenation of the projection and every earlier layer's
    output (dense connections) with a depthwise kernel of width ``kernel_size`` dilated by
    ``dilations[i]``, then instance norm and PReLU; the last layer's output is the memory. The input is
    added back when ``in_features == out_features`` (MossFormer2: kernel 39, dilations 1 and 2).

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension (the memory's channels).
        hidden_features: width of the first projection (default ``4 * in_features``).
        act: activation of the first projection (FSMN: ReLU).
        bias: bias of the first projection.
        dropout: dropout probability on the output.
        norm: optional normalization factory applied to the input.
        kernel_size: memory kernel width along T (odd).
        dilations: one dilation per memory layer.

    Shape:
        - Input: ``(*, T, in_features)``
        - Output: ``(*, T, out_features)``
    """

    position_wise: ClassVar[bool] = False
    spectral_taps: ClassVar[tuple[str, str] | None] = ("fc1", "fc2")
    layout: ClassVar[str] = _LAYOUT

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
        kernel_size: int = 39,
        dilations: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__(in_features, out_features, hidden_features)
        name = type(self).__name__
        check_ratio(name, "dropout", dropout)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"{name}: kernel_size={kernel_size} must be a positive odd integer")
        if not dilations or any(d < 1 for d in dilations):
            raise ValueError(f"{name}: dilations={tuple(dilations)} must be one or more positive integers")
        self.norm = build_norm(norm, in_features)
        self.fc1 = nn.Linear(in_features, self.hidden_features, bias=bias)
        self.act = act()
        self.fc2 = nn.Linear(self.hidden_features, out_features, bias=False)
        c = out_features
        self.memory = nn.ModuleList(
            nn.Conv1d(
                c * (i + 1), c, kernel_size, dilation=d, padding=d * (kernel_size // 2), groups=c, bias=False
            )
            for i, d in enumerate(dilations)
        )
        self.memory_norms = nn.ModuleList(nn.InstanceNorm1d(c, affine=True) for _ in dilations)
        self.memory_acts = nn.ModuleList(nn.PReLU(c) for _ in dilations)
        self.kernel_size, self.dilations = kernel_size, tuple(dilations)
        self.drop = Dropout(dropout)
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_sequence(self, x)
        if x.shape[-2] < 2:
            raise ValueError(
                f"{type(self).__name__}: the instance-normalized memory needs T >= 2 steps, "
                f"got {tuple(x.shape)}"
            )
        projected = self.fc2(self.act(self.fc1(self.norm(x))))
        skip, lead = _as_sequences(projected)
        out = skip
        for conv, norm, act in zip(self.memory, self.memory_norms, self.memory_acts, strict=True):
            out = act(
                _instance_norm(norm, grouped_conv1d(skip, conv.weight, conv.padding[0], conv.dilation[0]))
            )
            skip = torch.cat([out, skip], dim=1)
        y = _from_sequences(out, lead)
        if self.in_features == self.out_features:
            y = y + x
        return self.drop(y)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel_size={self.kernel_size}, dilations={self.dilations}"


class GatedConvUnit(FeedForward):
    """MossFormer2's gated FSMN: ``v ⊙ FSMNMemory(u)`` (plus the input when widths agree).

    ``u`` and ``v`` are `ConvFFN` projections of the input to ``hidden_features`` channels; the memory
    maps ``u`` to ``out_features`` and ``v`` is projected to match.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: width of the u and v branches (default ``in_features``, as MossFormer2).
        act: activation of the branches (MossFormer2: SiLU).
        bias: biases of the linear maps.
        dropout: dropout in the branches (MossFormer2: 0.1).
        norm: normalization factory of each branch's input (MossFormer2: LayerNorm).
        kernel_size: branch depthwise-conv width.
        memory_kernel_size: FSMN memory kernel width.
        dilations: FSMN memory dilations.

    Shape:
        - Input: ``(*, T, in_features)``
        - Output: ``(*, T, out_features)``
    """

    position_wise: ClassVar[bool] = False
    layout: ClassVar[str] = _LAYOUT

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
        kernel_size: int = 17,
        memory_kernel_size: int = 39,
        dilations: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__(
            in_features, out_features, hidden_features if hidden_features is not None else in_features
        )
        branch = {"act": act, "bias": bias, "dropout": dropout, "norm": norm, "kernel_size": kernel_size}
        self.to_u = ConvFFN(in_features, self.hidden_features, **branch)
        self.to_v = ConvFFN(in_features, out_features, **branch)
        self.memory = FSMNMemory(
            self.hidden_features,
            out_features,
            hidden_features=self.hidden_features,
            act=nn.ReLU,
            kernel_size=memory_kernel_size,
            dilations=dilations,
        )
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_sequence(self, x)
        y = self.to_v(x) * self.memory(self.to_u(x))
        return y + x if self.in_features == self.out_features else y
