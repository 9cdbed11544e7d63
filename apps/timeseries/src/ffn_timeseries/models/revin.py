"""Reversible instance normalization (RevIN), the per-window scaling all three forecasters use."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RevIN"]


class RevIN(nn.Module):
    """Normalize each window per channel on the way in, undo it on the way out.

    From "Reversible Instance Normalization for Accurate Time-Series Forecasting against Distribution
    Shift" (Kim et al., ICLR 2022). Statistics are taken over the time axis of each input window (by
    default without gradient); an optional per-channel affine map is learned.

    Args:
        num_channels: C.
        affine: learn a per-channel scale and shift.
        eps: added to the variance.
        detach: stop gradients through the window statistics (RevIN's paper); False lets them flow,
            as transformers' ``PatchTSMixerStdScaler`` does. The forward pass is the same.

    Shape:
        - ``normalize``: ``(B, L, C) → (B, L, C)``; ``denormalize``: ``(B, H, C) → (B, H, C)``
    """

    def __init__(
        self, num_channels: int, *, affine: bool = True, eps: float = 1e-5, detach: bool = True
    ) -> None:
        super().__init__()
        self.eps, self.detach = eps, detach
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        mean = x.mean(dim=1, keepdim=True)
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps)
        if self.detach:
            mean, std = mean.detach(), std.detach()
        x = (x - mean) / std
        if self.weight is not None:
            x = x * self.weight + self.bias
        return x, (mean, std)

    def denormalize(self, y: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        mean, std = stats
        if self.weight is not None:
            y = (y - self.bias) / (self.weight + self.eps * torch.sign(self.weight))
        return y * std + mean
