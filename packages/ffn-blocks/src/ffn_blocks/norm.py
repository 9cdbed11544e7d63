"""Normalization layers over the last dimension, usable as a block's ``norm`` factory."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LastDimBatchNorm"]


class LastDimBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the last dimension of a ``(*, C)`` tensor, statistics over all leading positions.

    `torch.nn.BatchNorm1d` wants ``(N, C)`` or ``(N, C, L)``; this flattens the leading dimensions so it
    fits the blocks' last-dimension contract, e.g. as RePaViT's FFN pre-norm over ``(B, N, C)`` tokens.
    Because it is a `torch.nn.BatchNorm1d`, the reparameterization code folds it like any BatchNorm.

    Args:
        num_features: C, the size of the last dimension.
        eps: added to the variance.
        momentum: running-statistics momentum (None for a cumulative average).
        affine: learn a per-channel scale and shift.
        track_running_stats: keep running statistics for eval mode.

    Shape:
        - Input: ``(*, C)``
        - Output: ``(*, C)``
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.ndim < 1 or input.shape[-1] != self.num_features:
            raise ValueError(
                f"LastDimBatchNorm: expected input of shape (*, num_features={self.num_features}), "
                f"got {tuple(input.shape)}"
            )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        flat = input.reshape(-1, self.num_features)
        return super().forward(flat).reshape(input.shape)
