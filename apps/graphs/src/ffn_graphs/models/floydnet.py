"""FloydNet: a learned, generalized Floyd-Warshall step over an all-pairs relation tensor.

From "FloydNet: A Learning Paradigm for Global Relational Reasoning" (2026). Instead of passing
messages along edges, the model keeps ``R ∈ ℝ^{n×n×d}`` for every pair of nodes and refines it with
layers that, for each pair ``(i, k)``, combine ``R_ij`` and ``R_jk`` over every pivot ``j`` — the
relaxation ``d_ik ← min_j d_ij + d_jk`` made learnable:

- ``reduce="softmax"`` (the published operator): attention over the pivot ``j`` with logits
  ``(⟨q_ik, k_ij⟩ + ⟨q_ik, k'_jk⟩) / √(2 d_h)`` per head, output ``Σ_j a_ikj (v_ij + v'_jk)``;
- ``reduce="min"``: the tropical product ``min_j (v_ij + v'_jk)`` per channel, which with hand-set
  weights *is* one Floyd-Warshall squaring step (tested: ⌈log₂ n⌉ layers give exact APSP).

Each layer, wired as the authors' ``floydnet.PivotalAttentionBlock`` (``wiring="package"``, the default):
``R ← R + out(pivot(norm(R + mix(Rᵀ))))``, so the pivot attention sees the transposed pair ``R_ki`` in the
same layer, then ``R ← R + γ · ffn(norm R)`` with the injected ``ffn_blocks`` factory (default: the
package's ReLU MLP, 4× wide) and one scalar ``γ``. The five pivot projections have biases (the query's
is the one that matters; key biases cancel in the softmax) and start Xavier-uniform over their fused
``dim → 5·dim`` matrix, as do the FFN's linear layers; ``out``, ``mix`` and the FFN's output layer
(`FeedForward.zero_init_last`; ``γ = 0`` where the block has none) start at zero and ``γ`` at one, so
every layer starts as the identity with every parameter learning.

``wiring="gated"`` is this repository's first layer: ``R ← keep ⊙ R + out(pivot(norm R)) + mix(norm Rᵀ)``
(the transposed tensor added to the residual stream, a per-channel ``keep`` gain), a per-channel ``γ``,
no query or key biases and PyTorch's default initialization. (Gating the FFN by ``γ = 0`` instead of
zeroing its last layer stalls it early: 0.991 vs 0.996 2×-size APSP accuracy over 5 seeds.)

Cost: ``O(n³ d)`` time per layer; memory ``O(n² d + c n² h)`` with the pivot reduction done in chunks
of ``c`` rows (``chunk_size``), instead of the ``O(n³ h)`` a one-shot einsum would hold.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ffn_blocks import MLP, FeedForward, FeedForwardFactory

__all__ = ["FloydLayer", "FloydNet", "Wiring", "pivot_memory_bytes"]

Reduce = Literal["softmax", "min"]
Wiring = Literal["package", "gated"]


def pivot_memory_bytes(n: int, dim: int, heads: int, batch: int = 1, chunk_size: int | None = None) -> int:
    """Approximate fp32 bytes of one layer's largest live tensors for ``batch`` graphs of ``n`` nodes."""
    rows = min(n, chunk_size or n)
    return 4 * batch * (6 * n * n * dim + 2 * rows * n * n * heads)


class FloydLayer(nn.Module):
    """One generalized Floyd-Warshall step on ``R`` ``(B, n, n, dim)`` with a pair mask ``(B, n)``.

    Args:
        dim: channels of ``R``.
        ffn: factory of the per-pair update block ``ffn(dim, dim)`` (None: the package's, a ReLU `MLP`).
        heads: attention heads (``reduce="softmax"``).
        reduce: ``"softmax"`` attention over pivots or ``"min"`` (tropical).
        chunk_size: rows ``i`` reduced at once (None: all), bounding memory.
        wiring: ``"package"`` (the authors' block) or ``"gated"`` (this repository's first layer; see
            the module docstring).
    """

    def __init__(
        self,
        dim: int,
        *,
        ffn: FeedForwardFactory | None = None,
        heads: int = 4,
        reduce: Reduce = "softmax",
        chunk_size: int | None = None,
        wiring: Wiring = "package",
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"FloydLayer: dim={dim} must be divisible by heads={heads}")
        if reduce not in ("softmax", "min"):
            raise ValueError(f"FloydLayer: reduce={reduce!r} must be 'softmax' or 'min'")
        if wiring not in ("package", "gated"):
            raise ValueError(f"FloydLayer: wiring={wiring!r} must be 'package' or 'gated'")
        self.dim, self.heads, self.reduce, self.chunk_size, self.wiring = (
            dim,
            heads,
            reduce,
            chunk_size,
            wiring,
        )
        package = wiring == "package"
        self.norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim, bias=package)
        self.key_left, self.key_right = nn.Linear(dim, dim, bias=package), nn.Linear(dim, dim, bias=package)
        self.value_left, self.value_right = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.mix = nn.Linear(dim, dim)
        self.keep = None if package else nn.Parameter(torch.ones(dim))
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = (ffn or partial(MLP, act=nn.ReLU))(dim, dim)
        if package:
            self._xavier_init()
        # The package's start: the FFN's last layer at zero and its scale at one, so the FFN learns from
        # the first step; a block without a single output layer is gated off by a zero scale instead
        # (which starts its gradients at zero). Both start as the identity.
        zeroed = isinstance(self.ffn, FeedForward) and self.ffn.zero_init_last()
        self.ffn_scale = nn.Parameter(torch.full((1,) if package else (dim,), 1.0 if zeroed else 0.0))
        for layer in (self.out, self.mix):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def _xavier_init(self) -> None:
        """The package's start: its fused ``dim → 5·dim`` projection Xavier-uniform (so each of ours gets
        that matrix's bound), the FFN's linear layers Xavier-uniform, every bias zero."""
        bound = math.sqrt(6.0 / (self.dim + 5 * self.dim))
        for layer in (self.query, self.key_left, self.key_right, self.value_left, self.value_right):
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)
        for layer in self.ffn.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def _projections(self, x: torch.Tensor) -> torch.Tensor:
        """``q, k, k', v, v'`` from one fused matmul, head-major: ``(5, B, heads, n, n, d_h)``."""
        d = self.dim
        weight = torch.cat(
            [m.weight for m in (self.query, self.key_left, self.key_right)]
            + [self.value_left.weight, self.value_right.weight]
        )
        biases = [m.bias for m in (self.query, self.key_left, self.key_right)]
        attention_bias = x.new_zeros(3 * d) if biases[0] is None else torch.cat(biases)
        bias = torch.cat([attention_bias, self.value_left.bias, self.value_right.bias])
        b, n = x.shape[:2]
        return (
            F.linear(x, weight, bias).view(b, n, n, 5, self.heads, d // self.heads).permute(3, 0, 4, 1, 2, 5)
        )

    def _pivot(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, _, d = x.shape
        chunk = self.chunk_size or n
        if self.reduce == "min":
            left, right = self.value_left(x), self.value_right(x)  # v_ij, v'_jk
            inf = torch.finfo(x.dtype).max
            rows = []
            for start in range(0, n, chunk):
                # min over j of v_ij + v'_jk: (B, c, j, 1, d) + (B, 1, j, k, d)
                total = left[:, start : start + chunk, :, None, :] + right[:, None, :, :, :]
                if mask is not None:
                    total = total.masked_fill(~mask[:, None, :, None, None], inf)
                rows.append(total.amin(dim=2))
            return torch.cat(rows, dim=1)
        q, kl, kr, vl, vr = self._projections(x)  # each (B, h, n, n, d_h)
        q = q * (1.0 / math.sqrt(2 * (d // self.heads)))
        blocked = None if mask is None else ~mask[:, None, None, None, :]  # pivots j: (B, 1, 1, 1, j)
        rows = []
        for start in range(0, n, chunk):
            qc = q[:, :, start : start + chunk]  # (B, h, c, k, d_h)
            # logits[b, h, i, k, j] = <q_ik, k_ij> (batched over i) + <q_ik, k'_jk> (batched over k);
            # plain batched matmuls, which skip einsum's planning and some of its copies at small n
            logits = qc @ kl[:, :, start : start + chunk].transpose(-1, -2)
            logits = logits + (qc.transpose(2, 3) @ kr.permute(0, 1, 3, 4, 2)).transpose(2, 3)
            if blocked is not None:
                logits = logits.masked_fill(blocked, float("-inf"))
            attention = logits.softmax(dim=-1)  # (B, h, c, k, j)
            left = attention @ vl[:, :, start : start + chunk]  # Σ_j a_ikj v_ij
            right = (attention.transpose(2, 3) @ vr.transpose(2, 3)).transpose(2, 3)  # Σ_j a_ikj v'_jk
            rows.append(left + right)
        out = torch.cat(rows, dim=2) if len(rows) > 1 else rows[0]
        return out.permute(0, 2, 3, 1, 4).reshape(b, n, n, d)

    def forward(self, r: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` ``(B, n)`` marks real nodes; None means every node is real (no masking work)."""
        if self.keep is None:  # the package: R_ki joins before the norm and the pivot attention
            r = r + self.out(self._pivot(self.norm(r + self.mix(r.transpose(1, 2))), mask))
        else:
            x = self.norm(r)
            r = self.keep * r + self.out(self._pivot(x, mask)) + self.mix(x.transpose(1, 2))
        r = r + self.ffn_scale * self.ffn(self.ffn_norm(r))
        if mask is None:
            return r
        return r * (mask[:, :, None] & mask[:, None, :])[..., None]


class FloydNet(nn.Module):
    """Pair encoder → ``num_layers`` `FloydLayer` → per-pair head (e.g. distance and reachability).

    Pair inputs ``(B, n, n, in_features)`` (edge weight, edge indicator, diagonal indicator, ...).

    Args:
        in_features: pair input channels.
        out_features: per-pair outputs.
        dim: width of ``R``.
        num_layers: Floyd layers.
        ffn: factory of every layer's update block (None: the package's ReLU `MLP`).
        heads: attention heads.
        reduce: ``"softmax"`` or ``"min"``.
        wiring: every layer's ``"package"`` (default) or ``"gated"`` wiring (`FloydLayer`).
        chunk_size: pivot rows reduced at once.
        max_nodes: refuse graphs larger than this (the error names the memory they would need).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        dim: int = 64,
        num_layers: int = 6,
        ffn: FeedForwardFactory | None = None,
        heads: int = 4,
        reduce: Reduce = "softmax",
        chunk_size: int | None = None,
        max_nodes: int = 256,
        wiring: Wiring = "package",
    ) -> None:
        super().__init__()
        self.encoder = nn.Linear(in_features, dim)
        self.layers = nn.ModuleList(
            FloydLayer(dim, ffn=ffn, heads=heads, reduce=reduce, chunk_size=chunk_size, wiring=wiring)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_features)
        self.dim, self.heads, self.chunk_size, self.max_nodes = dim, heads, chunk_size, max_nodes

    def forward(self, pairs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if pairs.ndim != 4 or pairs.shape[1] != pairs.shape[2]:
            raise ValueError(f"FloydNet: expected pair features (B, n, n, C), got {tuple(pairs.shape)}")
        b, n = pairs.shape[:2]
        if n > self.max_nodes:
            need = pivot_memory_bytes(n, self.dim, self.heads, b, self.chunk_size) / 2**30
            raise ValueError(
                f"FloydNet: n={n} nodes exceeds max_nodes={self.max_nodes} (about {need:.1f} GiB per layer); "
                "raise max_nodes or lower chunk_size"
            )
        r = self.encoder(pairs)
        if mask is not None:
            r = r * (mask[:, :, None] & mask[:, None, :])[..., None]
        for layer in self.layers:
            r = layer(r, mask)
        return self.head(self.norm(r))
