"""Deep message-passing node classifiers (GCN, GraphSAGE, GIN) and their initialization, Virgo included.

Depth is a knob (2 to 16+ layers) so the effect of initialization shows where it matters. GIN's update
is an injected `ffn_blocks` factory (``GINConv(ffn(d_in, d_out))``). `initialize` applies Xavier,
Kaiming or Virgo (`ffn_blocks.init`) with the degree statistics of the actual training graph: Virgo
goes to the GCN weights, both GraphSAGE linears, and the first and last linear of each GIN MLP.
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import GCNConv, GINConv, SAGEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_coo_tensor

from ffn_blocks import MLP, FeedForwardFactory
from ffn_blocks.init import virgo_norms, virgo_uniform_, virgo_variances

__all__ = ["DeepGNN", "initialize", "nonzero_dropout", "normalized_adjacency"]

ConvKind = Literal["gcn", "sage", "gin"]
InitScheme = Literal["virgo", "xavier", "kaiming"]


class DeepGNN(nn.Module):
    """``depth`` message-passing layers with ReLU and dropout between them, the last one to the classes.

    Args:
        in_features: node feature width.
        hidden_features: width of every hidden layer.
        num_classes: outputs of the last layer.
        depth: number of message-passing layers (≥ 1).
        conv: ``"gcn"``, ``"sage"`` or ``"gin"``.
        ffn: the GIN update factory (ignored by GCN and GraphSAGE).
        dropout: dropout before every layer (on the input features: `nonzero_dropout`, same distribution).

    Shape:
        - Input: node features ``(N, in_features)`` and ``edge_index`` ``(2, E)``
        - Output: ``(N, num_classes)``
    """

    cache_inputs: bool = True
    """Keep the input features' nonzero index between steps (`_nonzeros`); False finds it every step,
    as before the cache (the *before* build of ``ffn-bench-step``)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        num_classes: int,
        *,
        depth: int = 2,
        conv: ConvKind = "gcn",
        ffn: FeedForwardFactory = MLP,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"DeepGNN: depth={depth} must be >= 1")
        widths = [in_features] + [hidden_features] * (depth - 1) + [num_classes]
        self.conv_kind = conv
        self.convs = nn.ModuleList(_conv(conv, a, b, ffn) for a, b in itertools.pairwise(widths))
        self.dropout = dropout
        self._nonzero_cache: tuple[torch.Tensor, int, tuple[torch.Tensor, ...]] | None = None  # not state
        self.depth, self.in_features, self.hidden_features, self.num_classes = (
            depth,
            in_features,
            hidden_features,
            num_classes,
        )

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, *, return_hidden: bool = False):
        hidden = []
        for i, conv in enumerate(self.convs):
            if i == 0:
                dropped = nonzero_dropout(x, self.dropout, self.training, self._nonzeros(x))
            else:
                dropped = F.dropout(x, self.dropout, self.training)
            x = conv(dropped, edge_index)
            if i < len(self.convs) - 1:
                x = F.relu(x)
            hidden.append(x)
        return (x, hidden) if return_hidden else x

    def _nonzeros(self, x: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
        """``x.nonzero(as_tuple=True)``, found once for the features every full-graph step passes again
        (the same tensor, unmodified: its ``_version`` unchanged); None when nothing is dropped."""
        if not self.training or self.dropout == 0.0 or not self.cache_inputs:
            return None
        cached = self._nonzero_cache
        if cached is None or cached[0] is not x or cached[1] != x._version:
            cached = self._nonzero_cache = (x, x._version, x.nonzero(as_tuple=True))
        return cached[2]


def nonzero_dropout(
    x: torch.Tensor, p: float, training: bool = True, index: tuple[torch.Tensor, ...] | None = None
) -> torch.Tensor:
    """Dropout drawn for the nonzero entries only (Kipf & Welling's sparse dropout).

    The output has the distribution of ``F.dropout(x, p, training)`` (a zero stays zero either way), but
    the cost follows the nonzeros rather than every entry: bag-of-words node features are about 1 %
    nonzero, and dense dropout of Cora's input took half of a 16-layer GCN's training time on CPU.
    ``index``: ``x.nonzero(as_tuple=True)`` when the caller knows it already (`DeepGNN` finds it once
    for the features every step passes again), else found here.
    """
    if not training or p == 0.0:
        return x
    if index is None:
        index = x.nonzero(as_tuple=True)
    return torch.zeros_like(x).index_put_(index, F.dropout(x[index], p))


def _conv(kind: ConvKind, in_features: int, out_features: int, ffn: FeedForwardFactory) -> nn.Module:
    if kind == "gcn":
        return GCNConv(in_features, out_features)
    if kind == "sage":
        return SAGEConv(in_features, out_features)
    if kind == "gin":
        return GINConv(ffn(in_features, out_features), train_eps=True)
    raise ValueError(f"DeepGNN: conv={kind!r} must be 'gcn', 'sage' or 'gin'")


def normalized_adjacency(graph: Data) -> torch.Tensor:
    """``Â = D^{-1/2} (A + I) D^{-1/2}`` as a sparse ``(N, N)`` tensor (PyG's GCN normalization)."""
    edge_index, weight = gcn_norm(graph.edge_index, num_nodes=graph.num_nodes, add_self_loops=True)
    return to_torch_coo_tensor(edge_index, weight.double(), size=graph.num_nodes)


def _weights(conv: nn.Module) -> list[torch.Tensor]:
    """The weight matrices an initialization scheme sets for one layer."""
    if isinstance(conv, GCNConv):
        return [conv.lin.weight]
    if isinstance(conv, SAGEConv):
        return [conv.lin_l.weight, conv.lin_r.weight]
    if isinstance(conv, GINConv):
        linears = [m for m in conv.nn.modules() if isinstance(m, nn.Linear)]
        if not linears:  # structured (low-rank, block, complex) weights: the block keeps its own init
            rank_zero_warn(
                f"initialize: the GIN update {type(conv.nn).__name__} holds no dense nn.Linear; "
                "it keeps its own initialization"
            )
            return []
        return [linears[0], linears[-1]] if len(linears) > 1 else [linears[0]]
    raise ValueError(f"initialize: unsupported layer {type(conv).__name__}")


@torch.no_grad()
def initialize(model: DeepGNN, graph: Data, scheme: InitScheme) -> list[float] | None:
    """Initialize every layer's weights with ``scheme``; returns Virgo's per-layer variances (else None)."""
    weights = [[w.weight if isinstance(w, nn.Linear) else w for w in _weights(conv)] for conv in model.convs]
    if scheme == "xavier":
        for layer in weights:
            for w in layer:
                nn.init.xavier_uniform_(w)
        return None
    if scheme == "kaiming":
        for layer in weights:
            for w in layer:
                nn.init.kaiming_uniform_(w, nonlinearity="relu")
        return None
    if scheme != "virgo":
        raise ValueError(f"initialize: scheme={scheme!r} must be 'virgo', 'xavier' or 'kaiming'")
    adjacency = normalized_adjacency(graph)

    def propagate(v: torch.Tensor) -> torch.Tensor:
        return torch.sparse.mm(adjacency, v)

    depth = len(model.convs)
    variances = virgo_variances(
        virgo_norms(propagate, graph.x.double().mean(dim=1), depth),
        virgo_norms(propagate, torch.ones(graph.num_nodes, dtype=torch.float64), depth),
        in_features=model.in_features,
        hidden_features=model.hidden_features,
        num_classes=model.num_classes,
        num_nodes=graph.num_nodes,
    )
    for layer, variance in zip(weights, variances, strict=True):
        for w in layer:
            virgo_uniform_(w, variance)
    return variances
