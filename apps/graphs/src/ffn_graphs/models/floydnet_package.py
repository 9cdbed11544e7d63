"""The authors' published FloydNet blocks (``floydnet`` on the package index) behind our interface.

Only the benchmarks use it, and ``floydnet`` is an optional dependency (``uv sync --group bench``). The
stack mirrors `FloydNet`: the same pair encoder, ``num_layers`` of the package's
``PivotalAttentionBlock`` (pre-norm pivotal attention with the transposed mix, then its FFN), the same
final norm and head, so accuracy, time and memory compare the layers themselves.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PackageFloydNet"]


class PackageFloydNet(nn.Module):
    """Pair features ``(B, n, n, C)`` and node mask ``(B, n)`` → ``(B, n, n, out_features)``.

    Args:
        in_features: pair input channels.
        out_features: per-pair outputs.
        dim: width of the relation tensor.
        num_layers: ``PivotalAttentionBlock`` layers.
        heads: attention heads.
        ffn_expansion_ratio: the package FFN's hidden width over ``dim``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        dim: int = 64,
        num_layers: int = 6,
        heads: int = 4,
        ffn_expansion_ratio: int = 4,
    ) -> None:
        super().__init__()
        try:
            from floydnet import PivotalAttentionBlock
        except ImportError as error:  # pragma: no cover - depends on the optional group
            raise ImportError(
                "PackageFloydNet needs the optional `floydnet` package: uv sync --group bench"
            ) from error
        self.encoder = nn.Linear(in_features, dim)
        self.layers = nn.ModuleList(
            PivotalAttentionBlock(dim, heads, bias=True, ffn_expansion_ratio=ffn_expansion_ratio)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_features)

    def forward(self, pairs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        r = self.encoder(pairs)
        if mask is None:
            for layer in self.layers:
                r = layer(r)
            return self.head(self.norm(r))
        pair_mask = (mask[:, :, None] & mask[:, None, :])[..., None]
        blocked_pivots = ~mask[:, None, None, None, :]  # (B, H, i, k, j): True = masked
        r = r * pair_mask
        for layer in self.layers:
            r = layer(r, blocked_pivots) * pair_mask
        return self.head(self.norm(r))
