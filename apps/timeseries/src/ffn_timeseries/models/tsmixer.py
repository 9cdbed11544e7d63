"""TSMixer (Google, 2023): time-mixing and feature-mixing MLPs with residuals, RevIN, a linear head.

From "TSMixer: An All-MLP Architecture for Time Series Forecasting" (Chen et al., TMLR 2023,
https://arxiv.org/abs/2303.06053). Each block: norm → a single L→L linear over time (no hidden
expansion) with activation and dropout, plus residual; then norm → the feature-mixing MLP over the
channels, plus residual. The feature MLP is the injected `ffn_blocks` factory (``ffn(C, C)``; the paper's
is `MLP` with ``ff_dim`` hidden units, ReLU and dropout after both layers). Normalization is the
paper's "B" (BatchNorm with one statistic per time step and channel) or "L" (LayerNorm over time and
channels together). A linear map over time turns L steps into H.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from ffn_blocks import MLP, Dropout, FeedForwardFactory

from .revin import RevIN

__all__ = ["TSMixer"]


class _TimeChannelNorm(nn.Module):
    """Normalization over a ``(L, C)`` window: BatchNorm per (t, c) position, or LayerNorm over both."""

    def __init__(self, lookback: int, num_channels: int, kind: Literal["batch", "layer"]) -> None:
        super().__init__()
        self.kind = kind
        size = lookback * num_channels
        self.norm = nn.BatchNorm1d(size) if kind == "batch" else nn.LayerNorm(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.flatten(1)).view_as(x)


class MixerBlock(nn.Module):
    """Time mixing (L → L linear) then feature mixing (``ffn(C, C)``), each with a residual."""

    def __init__(
        self,
        lookback: int,
        num_channels: int,
        *,
        ffn: FeedForwardFactory,
        norm: Literal["batch", "layer"],
        act: Callable[[], nn.Module],
        dropout: float,
    ) -> None:
        super().__init__()
        self.time_norm = _TimeChannelNorm(lookback, num_channels, norm)
        self.time_linear = nn.Linear(lookback, lookback)
        self.time_act = act()
        self.time_drop = Dropout(dropout)
        self.feature_norm = _TimeChannelNorm(lookback, num_channels, norm)
        self.feature_mlp = ffn(num_channels, num_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self.time_act(self.time_linear(self.time_norm(x).transpose(1, 2))).transpose(1, 2)
        x = x + self.time_drop(mixed)
        return x + self.feature_mlp(self.feature_norm(x))


class TSMixer(nn.Module):
    """Google's all-MLP TSMixer with RevIN.

    Args:
        lookback: input steps L.
        horizon: forecast steps H.
        num_channels: C.
        ffn: feature-mixing factory, called ``ffn(C, C)`` (paper: MLP, ReLU, dropout, hidden ``ff_dim``).
        num_blocks: mixer blocks.
        norm: ``"batch"`` (the paper's default "B") or ``"layer"``.
        act: activation of the time-mixing linear (paper: ReLU).
        dropout: dropout after time mixing.
        revin: reversible instance normalization around the network.

    Shape:
        - Input: ``(B, L, C)``
        - Output: ``(B, H, C)``
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        num_channels: int,
        *,
        ffn: FeedForwardFactory = MLP,
        num_blocks: int = 2,
        norm: Literal["batch", "layer"] = "batch",
        act: Callable[[], nn.Module] = nn.ReLU,
        dropout: float = 0.1,
        revin: bool = True,
    ) -> None:
        super().__init__()
        self.lookback, self.horizon, self.num_channels = lookback, horizon, num_channels
        self.revin = RevIN(num_channels) if revin else None
        self.blocks = nn.Sequential(
            *(
                MixerBlock(lookback, num_channels, ffn=ffn, norm=norm, act=act, dropout=dropout)
                for _ in range(num_blocks)
            )
        )
        self.head = nn.Linear(lookback, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = None
        if self.revin is not None:
            x, stats = self.revin.normalize(x)
        y = self.head(self.blocks(x).transpose(1, 2)).transpose(1, 2)
        return self.revin.denormalize(y, stats) if self.revin is not None else y
