"""All-pairs shortest paths with exact ground truth, for FloydNet and a message-passing baseline.

Graphs come from four families (Erdős–Rényi, 2-D grid, random geometric, random tree) with integer
edge weights 1–5, generated on the fly from a fixed seed with networkx; distances are computed exactly
by scipy's shortest-path routine. Unreachable pairs are explicit: the target carries a ``reachable``
flag and distance 0 there, never ``inf`` or NaN. Training uses small graphs, testing larger unseen ones
(size generalization). A pair is correct when its predicted distance rounds to the true one.

Two readouts (`FloydAPSP`'s ``readout``):

- ``"distance"``: regress each pair's distance. Its range is the training graphs': on larger graphs
  the longest distances lie beyond anything seen, and the prediction saturates there.
- ``"next_hop"`` (default): for each reachable pair ``(i, k)`` point at the neighbour ``j`` of ``i``
  that starts a shortest path (the predecessor matrix that CLRS-style benchmarks use as Floyd-Warshall's
  output), then follow the pointers and sum the graph's own edge weights. The pointer is a choice among
  neighbours, so nothing about it grows with the graph; the distance it yields is exact when every hop
  on the way is right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from scipy.sparse.csgraph import shortest_path
from torch import nn
from torch_geometric.nn import GINEConv

from ffn_blocks import MLP, FeedForwardFactory, auxiliary_loss
from ffn_lightning import register_safe_globals

from .models.floydnet import FloydNet
from .synthetic import SeededSplits

__all__ = [
    "APSPData",
    "APSPGraph",
    "FloydAPSP",
    "PairGINE",
    "apsp_graph",
    "collate_graphs",
    "follow_next_hops",
    "graph_properties_correct",
    "next_hop_logits",
    "next_hop_targets",
    "readout_features",
]

FAMILIES = ("er", "grid", "geometric", "tree")
MAX_WEIGHT = 5.0  # edge weights are integers 1–5; pair inputs carry weight / MAX_WEIGHT
Readout = Literal["distance", "next_hop"]
READOUTS: tuple[str, ...] = get_args(Readout)


@dataclass
class APSPGraph:
    """One weighted graph: ``weights`` ``(n, n)`` (0 = no edge), exact ``distance`` and ``reachable``."""

    weights: torch.Tensor
    distance: torch.Tensor
    reachable: torch.Tensor


def _family_graph(family: str, n: int, rng: np.random.Generator) -> nx.Graph:
    seed = int(rng.integers(2**31))
    if family == "er":
        return nx.gnp_random_graph(n, min(1.0, 2.2 * np.log(n) / n), seed=seed)
    if family == "grid":
        rows = max(1, int(np.sqrt(n)))
        graph = nx.convert_node_labels_to_integers(nx.grid_2d_graph(rows, -(-n // rows)))
        return graph.subgraph(range(n)).copy()
    if family == "geometric":
        return nx.random_geometric_graph(n, radius=min(1.0, 1.6 / np.sqrt(n)), seed=seed)
    if family == "tree":
        return nx.random_labeled_tree(n, seed=seed)
    raise ValueError(f"apsp_graph: family={family!r} must be one of {FAMILIES}")


def apsp_graph(family: str, n: int, rng: np.random.Generator) -> APSPGraph:
    """A random ``family`` graph on ``n`` nodes with integer weights 1–5 and its exact distances."""
    graph = _family_graph(family, n, rng)
    weights = np.zeros((n, n))
    for u, v in graph.edges:
        weights[u, v] = weights[v, u] = rng.integers(1, int(MAX_WEIGHT) + 1)
    distance = shortest_path(weights, method="D", directed=False)
    reachable = np.isfinite(distance)
    return APSPGraph(
        torch.from_numpy(weights).float(),
        torch.from_numpy(np.where(reachable, distance, 0.0)).float(),
        torch.from_numpy(reachable),
    )


def collate_graphs(graphs: Sequence[APSPGraph]) -> dict[str, torch.Tensor]:
    """Pad to the largest graph: pair features ``(B, n, n, 3)`` [weight / MAX_WEIGHT, edge, diagonal], the
    edge weights ``(B, n, n)`` (0: no edge), targets and the node mask."""
    n = max(len(g.weights) for g in graphs)
    batch = len(graphs)
    out = {
        "pairs": torch.zeros(batch, n, n, 3),
        "weight": torch.zeros(batch, n, n),
        "distance": torch.zeros(batch, n, n),
        "reachable": torch.zeros(batch, n, n, dtype=torch.bool),
        "mask": torch.zeros(batch, n, dtype=torch.bool),
    }
    for b, g in enumerate(graphs):
        m = len(g.weights)
        out["weight"][b, :m, :m] = g.weights
        out["pairs"][b, :m, :m, 0] = g.weights / MAX_WEIGHT
        out["pairs"][b, :m, :m, 1] = (g.weights > 0).float()
        out["pairs"][b, :m, :m, 2] = torch.eye(m)
        out["distance"][b, :m, :m] = g.distance
        out["reachable"][b, :m, :m] = g.reachable
        out["mask"][b, :m] = True
    return out


class APSPData(SeededSplits):
    """Seeded APSP graphs: train/val on ``train_nodes``, test on the larger ``test_nodes``.

    Args:
        train_nodes: ``(low, high)`` node counts of training graphs.
        test_nodes: ``(low, high)`` node counts of test graphs (default: 2× the training sizes).
        families: graph families to mix.
        train_graphs: number of training graphs.
        eval_graphs: number of validation and of test graphs.
        batch_size: graphs per batch.
        seed: generator seed.
        fresh_train: new training graphs every epoch (``train_graphs`` per epoch; see `SeededSplits`).
    """

    collate_fn = staticmethod(collate_graphs)

    def __init__(
        self,
        train_nodes: tuple[int, int] = (6, 12),
        test_nodes: tuple[int, int] = (12, 24),
        families: Sequence[str] = FAMILIES,
        train_graphs: int = 2000,
        eval_graphs: int = 100,
        batch_size: int = 32,
        seed: int = 0,
        fresh_train: bool = False,
    ) -> None:
        counts = {"train": train_graphs, "val": eval_graphs, "test": eval_graphs}
        super().__init__(counts, batch_size, seed, fresh_train)
        unknown = set(families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"APSPData: families {sorted(unknown)} unknown; choose from {FAMILIES}")
        self.train_nodes, self.test_nodes, self.families = (
            tuple(train_nodes),
            tuple(test_nodes),
            tuple(families),
        )

    def make_one(self, split: str, index: int, rng: np.random.Generator) -> APSPGraph:
        low, high = self.test_nodes if split == "test" else self.train_nodes
        return apsp_graph(self.families[index % len(self.families)], int(rng.integers(low, high + 1)), rng)


class PairGINE(nn.Module):
    """Message-passing baseline: GINE node embeddings (edge weights as edge features), then an MLP on
    ``[h_i, h_j, h_i ⊙ h_j]`` for every pair. Same pair inputs and outputs as `FloydNet`."""

    def __init__(
        self,
        in_features: int = 3,
        out_features: int = 2,
        *,
        dim: int = 64,
        num_layers: int = 6,
        ffn: FeedForwardFactory = MLP,
    ) -> None:
        super().__init__()
        self.embed = nn.Parameter(torch.randn(dim) * 0.1)
        self.edge = nn.Linear(1, dim)
        self.convs = nn.ModuleList(
            GINEConv(ffn(dim, dim), train_eps=True, edge_dim=dim) for _ in range(num_layers)
        )
        self.head = nn.Sequential(nn.Linear(3 * dim, dim), nn.ReLU(), nn.Linear(dim, out_features))

    def forward(self, pairs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n = pairs.shape[:2]
        edges = (pairs[..., 1] > 0).nonzero()  # (E, 3): graph, i, j
        index = torch.stack([edges[:, 0] * n + edges[:, 1], edges[:, 0] * n + edges[:, 2]])
        attr = self.edge(pairs[edges[:, 0], edges[:, 1], edges[:, 2], :1])
        h = self.embed.expand(b * n, -1) * mask.reshape(-1, 1)
        for conv in self.convs:
            h = h + F.relu(conv(h, index, attr))
        h = h.view(b, n, -1)
        hi, hj = h[:, :, None].expand(-1, -1, n, -1), h[:, None].expand(-1, n, -1, -1)
        return self.head(torch.cat([hi, hj, hi * hj], dim=-1))


def graph_properties_correct(
    distance: torch.Tensor, logit: torch.Tensor, batch: dict[str, torch.Tensor], pair_mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per-graph properties read off the predicted pairs, as fractions of graphs predicted exactly.

    ``connected``: every pair predicted reachable ⇔ the graph is connected. ``diameter``: the largest
    rounded distance over pairs predicted reachable equals the largest true distance over reachable
    pairs (the diameter of a connected graph; of the widest component otherwise).
    """
    predicted_reachable = (logit > 0) & pair_mask
    truly_reachable = batch["reachable"] & pair_mask
    connected = (predicted_reachable == pair_mask).flatten(1).all(1)
    true_connected = (truly_reachable == pair_mask).flatten(1).all(1)
    diameter = distance.round().masked_fill(~predicted_reachable, 0).flatten(1).amax(1)
    true_diameter = batch["distance"].masked_fill(~truly_reachable, 0).flatten(1).amax(1)
    return {
        "connected_acc": (connected == true_connected).float().mean(),
        "diameter_acc": (diameter == true_diameter).float().mean(),
    }


def readout_features(readout: Readout, pointer_dim: int = 16) -> int:
    """Per-pair output channels a network needs for ``readout``: ``[distance, reachable logit]``, or
    ``[reachable logit, q, k, k']`` with ``pointer_dim`` channels each for the next-hop pointer."""
    if readout not in READOUTS:
        raise ValueError(f"readout={readout!r} must be one of {READOUTS}")
    return 2 if readout == "distance" else 1 + 3 * pointer_dim


def next_hop_logits(features: torch.Tensor, edge: torch.Tensor) -> torch.Tensor:
    """Scores ``(B, i, k, j)`` of neighbour ``j`` of ``i`` as the first hop from ``i`` towards ``k``.

    ``features`` ``(B, n, n, 3p)`` hold ``q, k, k'`` per pair; the score is ``⟨q_ik, k_ij⟩ + ⟨q_ik, k'_jk⟩``
    (the pair itself, the hop and the rest of the way), and non-neighbours get ``-inf``. A node without
    neighbours gets uniform scores instead, so its (unused) row stays finite.
    """
    q, key_hop, key_rest = features.chunk(3, dim=-1)
    logits = torch.einsum("bikh,bijh->bikj", q, key_hop) + torch.einsum("bikh,bjkh->bikj", q, key_rest)
    logits = logits.masked_fill(~edge[:, :, None, :], float("-inf"))
    return torch.where(edge.any(-1)[:, :, None, None], logits, torch.zeros_like(logits))


def next_hop_targets(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(B, i, k, j)``: ``j`` is a neighbour of ``i`` on a shortest path to ``k`` (``w_ij + d_jk = d_ik``).

    Every reachable pair ``i ≠ k`` has at least one; ties keep all of them.
    """
    weight, distance, reachable = batch["weight"], batch["distance"], batch["reachable"]
    edge = weight > 0
    rest = distance.transpose(1, 2)[:, None]  # [b, ·, k, j] = d_jk
    on_path = (weight[:, :, None, :] + rest - distance[..., None]).abs() < 1e-4
    return edge[:, :, None, :] & reachable.transpose(1, 2)[:, None] & on_path


def follow_next_hops(logits: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Follow each pair's best-scoring hop for at most ``n - 1`` steps (the most a shortest path takes),
    summing the edge weights walked.

    Returns ``(distance, arrived)``, both ``(B, n, n)``; a walk that cycles never arrives.
    """
    b, n = weight.shape[:2]
    hop = logits.argmax(-1)  # (B, i, k)
    graph = torch.arange(b, device=weight.device)[:, None, None].expand(b, n, n)
    target = torch.arange(n, device=weight.device)[None, None, :].expand(b, n, n)
    at = torch.arange(n, device=weight.device)[None, :, None].expand(b, n, n)
    walked = torch.zeros_like(weight)
    arrived = at == target
    for _ in range(n - 1):
        step = hop[graph, at, target]
        walked = walked + torch.where(arrived, 0.0, weight[graph, at, step])
        at = torch.where(arrived, at, step)
        arrived = arrived | (at == target)
    return walked, arrived


class FloydAPSP(LightningModule):
    """Predict every pair's distance and reachability; accuracy = distance rounds to the truth.

    Validation and test also log ``connected_acc`` and ``diameter_acc`` (`graph_properties_correct`).

    Args:
        network: ``FloydNet`` (default) or ``PairGINE``: pair features → ``readout_features(readout)``
            channels per pair.
        optimizer: optimizer factory.
        readout: ``"next_hop"`` (point at each pair's first hop, follow the pointers; cross-entropy
            over the neighbours that start a shortest path) or ``"distance"`` (regress it; MSE).
            Both add a BCE on reachability, and unreachable pairs must be predicted unreachable.
        compile: compile the network with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        network: nn.Module | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        readout: Readout = "next_hop",
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        channels = readout_features(readout)  # validates the name
        self.readout = readout
        self.network = network if network is not None else FloydNet(3, channels, dim=32, num_layers=4)
        if compile:
            self.network.compile()
        self.optimizer_factory = optimizer

    def _distance(
        self, out: torch.Tensor, batch: dict[str, torch.Tensor], reachable: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(predicted distance, reachable logit, loss of the distance part)`` for this readout."""
        channels = out.shape[-1]
        if self.readout == "distance":
            if channels != 2:
                raise ValueError(f"FloydAPSP: readout='distance' needs 2 output channels, got {channels}")
            distance = out[..., 0]
            return distance, out[..., 1], F.mse_loss(distance[reachable], batch["distance"][reachable])
        if channels < 4 or (channels - 1) % 3:
            raise ValueError(
                "FloydAPSP: readout='next_hop' needs 1 + 3·p output channels (readout_features), "
                f"got {channels}"
            )
        logits = next_hop_logits(out[..., 1:], batch["weight"] > 0)
        pairs = reachable & ~torch.eye(len(reachable[0]), dtype=torch.bool, device=out.device)
        on_path = logits.log_softmax(-1).masked_fill(~next_hop_targets(batch), float("-inf"))
        loss = -on_path.logsumexp(-1)[pairs].mean()
        distance, arrived = follow_next_hops(logits.detach(), batch["weight"])
        # a walk that never arrives found no path: an infinite distance, never right, never the diameter
        return distance.masked_fill(~arrived, float("inf")), out[..., 0], loss

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        out = self.network(batch["pairs"], batch["mask"])
        pair_mask = batch["mask"][:, :, None] & batch["mask"][:, None, :]
        reachable = batch["reachable"] & pair_mask
        distance, logit, loss = self._distance(out, batch, reachable)
        loss = loss + F.binary_cross_entropy_with_logits(logit[pair_mask], reachable[pair_mask].float())
        if stage == "train":
            loss = loss + auxiliary_loss(self.network)
        correct = torch.where(
            reachable,
            distance.round() == batch["distance"],
            logit < 0,  # unreachable pairs must be predicted unreachable
        )
        size = int(pair_mask.sum())
        self.log(f"{stage}/loss", loss, batch_size=size, prog_bar=stage == "train")
        self.log(
            f"{stage}/pair_acc", correct[pair_mask].float().mean(), batch_size=size, prog_bar=stage != "train"
        )
        if stage != "train":
            for name, value in graph_properties_correct(distance, logit, batch, pair_mask).items():
                self.log(f"{stage}/{name}", value, batch_size=len(pair_mask))
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> Any:
        return self.optimizer_factory(self.parameters())


register_safe_globals()  # checkpoints naming these classes load with weights_only=True
