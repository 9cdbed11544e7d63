"""Normalization layers over the last dimension, usable as a block's ``norm`` factory."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["LastDimBatchNorm"]


class LastDimBatchNorm(nn.Module):
    """BatchNorm over the last dimension of a ``(*, C)`` tensor, statistics over all leading positions.

    `torch.nn.BatchNorm1d` wants ``(N, C)`` or ``(N, C, L)``; this flattens the leading dimensions into
    ``N`` so it fits the blocks' last-dimension contract, e.g. as RePaViT's FFN pre-norm over ``(B, N, C)``
    tokens. The parameters and statistics live in an inner ``bn`` (`torch.nn.BatchNorm1d`), so
    `ffn_blocks.reparameterize` folds it like any BatchNorm and ``SyncBatchNorm.convert_sync_batchnorm``
    converts the inner layer on GPUs.

    ``sync=True`` synchronizes the batch statistics across the processes of the default process group in
    training, on any backend (gloo on CPU included, where `torch.nn.SyncBatchNorm` refuses to run): the
    per-channel sums, sums of squares and counts go through one differentiable all-reduce, so the
    gradients are those of a BatchNorm over the global batch. ``ffn_lightning.LastDimBatchNormSync``
    switches it on for a whole model.

    Args:
        num_features: C, the size of the last dimension.
        eps: added to the variance.
        momentum: running-statistics momentum (None for a cumulative average).
        affine: learn a per-channel scale and shift.
        track_running_stats: keep running statistics for eval mode.
        sync: synchronize batch statistics across processes in training (no effect in one process).

    Shape:
        - Input: ``(*, C)``
        - Output: ``(*, C)``
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        sync: bool = False,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.sync = sync
        self.bn = nn.BatchNorm1d(num_features, eps, momentum, affine, track_running_stats)

    def reset_parameters(self) -> None:
        self.bn.reset_parameters()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.ndim < 1 or input.shape[-1] != self.num_features:
            raise ValueError(
                f"LastDimBatchNorm: expected input of shape (*, num_features={self.num_features}), "
                f"got {tuple(input.shape)}"
            )
        flat = input.reshape(-1, self.num_features)
        if self.sync and self.training and _world_size() > 1:
            return self._synchronized(flat).reshape(input.shape)
        return self.bn(flat).reshape(input.shape)

    def _synchronized(self, x: torch.Tensor) -> torch.Tensor:
        from torch.distributed.nn.functional import all_reduce  # differentiable; imported only when used

        bn, c = self.bn, self.num_features
        local = torch.cat([x.sum(0), x.square().sum(0), x.new_full((1,), x.shape[0])])
        total = all_reduce(local)  # differentiable sum over processes
        count = total[-1]
        mean = total[:c] / count
        var = (total[c : 2 * c] / count - mean.square()).clamp_min(0.0)
        y = (x - mean) * torch.rsqrt(var + bn.eps)
        if bn.affine:
            y = y * bn.weight + bn.bias
        if bn.track_running_stats:
            with torch.no_grad():
                bn.num_batches_tracked += 1
                factor = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
                unbiased = var * count / (count - 1).clamp_min(1.0)
                bn.running_mean.lerp_(mean.detach(), factor)
                bn.running_var.lerp_(unbiased.detach(), factor)
        return y

    def extra_repr(self) -> str:
        return f"{self.num_features}, sync={self.sync}"


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
