"""NBFNet: the Neural Bellman-Ford Network for knowledge-graph completion, as a PyG `MessagePassing` layer.

From "Neural Bellman-Ford Networks: A General Graph Neural Network Framework for Link Prediction"
(Zhu et al., NeurIPS 2021, https://arxiv.org/abs/2106.06935). For a query ``(h, r, ?)`` every entity
holds a representation of the paths from ``h``: the boundary condition puts the query relation's
embedding on ``h`` (INDICATOR), each layer sends relation-conditioned messages along every edge
(DistMult ``x ⊙ w_r``, TransE ``x + w_r``, RotatE a complex rotation), aggregates them together with the
boundary (PNA: mean, max, min, std × identity, amplification, attenuation scalers, or a plain sum), and
updates through ``ReLU(LayerNorm(update([h ‖ aggregate])))`` plus a shortcut. A scorer reads
``[h_t ‖ q]`` for every candidate tail ``t``.

The update and the scorer are injected `ffn_blocks` factories. Everything runs on CPU with PyG and
torch index reductions, `index_add` / `index_reduce` (the released code needs a JIT-compiled CUDA
extension).
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing

from ffn_blocks import MLP, FeedForwardFactory

__all__ = ["BellmanFordLayer", "NBFNet"]

# torch flags `index_reduce` (our max/min aggregation, with autograd) as beta on first use; the warning
# says nothing about the user's run, so it is silenced here and nowhere else.
warnings.filterwarnings("ignore", message=r"index_reduce\(\) is in beta", category=UserWarning)

MessageKind = Literal["distmult", "transe", "rotate"]
AggregateKind = Literal["pna", "sum"]


class BellmanFordLayer(MessagePassing):
    """One generalized Bellman-Ford iteration over a batch of queries.

    Node states are ``(N, B, d)``: one ``d``-vector per entity and query.

    Args:
        dim: d.
        num_relations: relations of the graph (inverse relations included).
        message: ``"distmult"``, ``"transe"`` or ``"rotate"``.
        aggregate: ``"pna"`` (4 statistics × 3 degree scalers) or ``"sum"``.
        update: factory of the update ``((statistics + 1) · d) → d``.
        layer_norm: LayerNorm after the update.
        shortcut: add the layer's input to its output.
        dependent: relation vectors computed from each query's relation embedding by a linear map
            (the reference's ``dependent: yes``), instead of one free vector per relation and layer.
    """

    def __init__(
        self,
        dim: int,
        num_relations: int,
        *,
        message: MessageKind = "distmult",
        aggregate: AggregateKind = "pna",
        update: FeedForwardFactory,
        layer_norm: bool = True,
        shortcut: bool = True,
        dependent: bool = False,
    ) -> None:
        super().__init__(aggr=None, node_dim=0)
        if message == "rotate" and dim % 2:
            raise ValueError(f"BellmanFordLayer: message='rotate' needs an even dim, got {dim}")
        self.dim, self.message_kind, self.aggregate_kind = dim, message, aggregate
        self.num_relations, self.dependent = num_relations, dependent
        self.relation = nn.Linear(dim, num_relations * dim) if dependent else nn.Embedding(num_relations, dim)
        width = 13 * dim if aggregate == "pna" else 2 * dim
        self.update_ffn = update(width, dim)
        self.norm = nn.LayerNorm(dim) if layer_norm else nn.Identity()
        self.shortcut = shortcut

    def forward(
        self,
        x: torch.Tensor,
        boundary: torch.Tensor,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor,
        query: torch.Tensor,
    ) -> torch.Tensor:
        """One iteration on node states ``x`` ``(N, B, d)`` for queries whose relation embeddings are
        ``query`` ``(B, d)``."""
        if self.dependent:  # (R, B, d), small, → the edges' (E, B, d), gathered contiguous
            per_query = self.relation(query).view(len(query), self.num_relations, self.dim)
            relation = per_query.transpose(0, 1).contiguous().index_select(0, edge_type)
        else:
            relation = self.relation(edge_type)[:, None, :]  # (E, 1, d), shared by every query
        # index_select, not x[index]: its backward is index_add, which sums each node's gradients in
        # edge order; advanced indexing's backward (index_put_ with accumulate) sums them in whatever
        # order the CPU threads finish, so two runs of one command drifted apart
        messages = self.message(x.index_select(0, edge_index[0]), relation)  # (E, B, d)
        aggregated = self._aggregate(messages, boundary, edge_index[1])
        out = F.relu(self.norm(self.update_ffn(torch.cat([x, aggregated], dim=-1))))
        return out + x if self.shortcut else out

    def message(self, x_j: torch.Tensor, relation: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if self.message_kind == "distmult":
            return x_j * relation
        if self.message_kind == "transe":
            return x_j + relation
        x_re, x_im = x_j.chunk(2, dim=-1)
        r_re, r_im = relation.chunk(2, dim=-1)
        return torch.cat([x_re * r_re - x_im * r_im, x_re * r_im + x_im * r_re], dim=-1)

    def _aggregate(
        self, messages: torch.Tensor, boundary: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        """Aggregate the edge messages into their targets, the boundary joining as a message of each node
        to itself (so a node without in-edges aggregates its boundary alone).

        Works on ``(E, B·d)`` views with the 1-D ``target`` index (`index_add` / `index_reduce`): the
        messages are the largest tensors here, and a broadcast ``(E, B, d)`` index, or a copy of the
        messages joined with the boundary, would cost as much again at every layer.
        """
        num_nodes, batch, dim = boundary.shape
        flat, own = messages.reshape(len(target), -1), boundary.reshape(num_nodes, -1)
        total = own.index_add(0, target, flat)
        if self.aggregate_kind == "sum":
            return total.view(num_nodes, batch, dim)
        count = torch.ones(num_nodes, dtype=flat.dtype, device=flat.device).index_add_(
            0, target, torch.ones_like(target, dtype=flat.dtype)
        )[:, None]
        mean = total / count
        square = own.square().index_add(0, target, flat.square()) / count
        std = (square - mean.square()).clamp_min(1e-6).sqrt()
        maximum = own.index_reduce(0, target, flat, "amax")  # include_self: the boundary takes part
        minimum = own.index_reduce(0, target, flat, "amin")
        stats = torch.cat([s.view(num_nodes, batch, dim) for s in (mean, maximum, minimum, std)], -1)
        # (N, 1, 1): log(in-degree + 1), the boundary counted as the "+ 1" (the reference's PNA scaler)
        log_degree = count.log()[:, :, None]
        scale = log_degree / log_degree.mean().clamp_min(1e-6)
        return torch.cat([stats, stats * scale, stats / scale.clamp_min(1e-2)], dim=-1)  # (N, B, 12d)


class NBFNet(nn.Module):
    """Stack of `BellmanFordLayer` with the INDICATOR boundary and an MLP scorer on ``[h_t ‖ q]``.

    Args:
        num_relations: relations of the graph, inverse relations included.
        dim: hidden width (reference: 32).
        num_layers: Bellman-Ford iterations (reference: 6).
        message: message function.
        aggregate: aggregation function.
        update: update factory ``(13·dim or 2·dim) → dim`` (None: one ``nn.Linear``, the reference's
            ``GeneralizedRelationalConv.linear``; any `ffn_blocks` block swaps in, e.g. ``partial(MLP,
            hidden_features=dim, act=nn.ReLU)``, the default here before 2026-12-07).
        scorer: scorer factory ``2d → 1`` (None: `MLP` with hidden width ``2d``, the reference's).
        layer_norm: LayerNorm in every layer.
        shortcut: residual in every layer.
        dependent: query-dependent relation vectors in every layer (`BellmanFordLayer`).
    """

    def __init__(
        self,
        num_relations: int,
        *,
        dim: int = 32,
        num_layers: int = 6,
        message: MessageKind = "distmult",
        aggregate: AggregateKind = "pna",
        update: FeedForwardFactory | None = None,
        scorer: FeedForwardFactory | None = None,
        layer_norm: bool = True,
        shortcut: bool = True,
        dependent: bool = False,
    ) -> None:
        super().__init__()
        update = update or nn.Linear
        scorer = scorer or partial(MLP, hidden_features=2 * dim, act=nn.ReLU)
        self.num_relations = num_relations
        self.query = nn.Embedding(num_relations, dim)
        self.layers = nn.ModuleList(
            BellmanFordLayer(
                dim,
                num_relations,
                message=message,
                aggregate=aggregate,
                update=update,
                layer_norm=layer_norm,
                shortcut=shortcut,
                dependent=dependent,
            )
            for _ in range(num_layers)
        )
        self.scorer = scorer(2 * dim, 1)
        if message == "rotate" and not dependent:  # unit-modulus rotations, as RotatE
            for layer in self.layers:
                phase = torch.rand(num_relations, dim // 2) * 2 * math.pi
                layer.relation.weight.data = torch.cat([phase.cos(), phase.sin()], dim=-1)

    def forward(
        self,
        heads: torch.Tensor,
        relations: torch.Tensor,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor,
        num_nodes: int,
    ) -> torch.Tensor:
        """Scores ``(B, num_nodes)``: each entity as the tail of query ``(heads[b], relations[b], ?)``."""
        batch = heads.shape[0]
        query = self.query(relations)  # (B, d)
        boundary = query.new_zeros(num_nodes, batch, query.shape[-1])
        boundary[heads, torch.arange(batch, device=heads.device)] = query
        h = boundary
        for layer in self.layers:
            h = layer(h, boundary, edge_index, edge_type, query)
        features = torch.cat([h, query.expand(num_nodes, -1, -1)], dim=-1)  # (N, B, 2d)
        return self.scorer(features).squeeze(-1).T  # (B, N)
