"""All-pairs shortest paths with exact ground truth, for FloydNet and a message-passing baseline.

Graphs come from four families (Erdős–Rényi, 2-D grid, random geometric, random tree) with integer
edge weights 1–5, generated on the fly from a fixed seed with networkx; distances are computed exactly
by scipy's shortest-path routine. Unreachable pairs are explicit: the target carries a ``reachable``
flag and distance 0 there, never ``inf`` or NaN. Training uses small graphs, testing larger unseen ones
(size generalization). A pair is correct when its predicted distance rounds to the true one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    "graph_properties_correct",
]

FAMILIES = ("er", "grid", "geometric", "tree")


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
        weights[u, v] = weights[v, u] = rng.integers(1, 6)
    distance = shortest_path(weights, method="D", directed=False)
    reachable = np.isfinite(distance)
    return APSPGraph(
        torch.from_numpy(weights).float(),
        torch.from_numpy(np.where(reachable, distance, 0.0)).float(),
        torch.from_numpy(reachable),
    )


def collate_graphs(graphs: Sequence[APSPGraph]) -> dict[str, torch.Tensor]:
    """Pad to the largest graph: pair features ``(B, n, n, 3)`` [weight, edge, diagonal], targets, mask."""
    n = max(len(g.weights) for g in graphs)
    batch = len(graphs)
    out = {
        "pairs": torch.zeros(batch, n, n, 3),
        "distance": torch.zeros(batch, n, n),
        "reachable": torch.zeros(batch, n, n, dtype=torch.bool),
        "mask": torch.zeros(batch, n, dtype=torch.bool),
    }
    for b, g in enumerate(graphs):
        m = len(g.weights)
        out["pairs"][b, :m, :m, 0] = g.weights / 5.0
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


class FloydAPSP(LightningModule):
    """Predict every pair's distance and reachability; accuracy = distance rounds to the truth.

    Validation and test also log ``connected_acc`` and ``diameter_acc`` (`graph_properties_correct`).

    Args:
        network: ``FloydNet`` (default) or ``PairGINE``: pair features → (distance, reachability logit).
        optimizer: optimizer factory.
    """

    def __init__(
        self, network: nn.Module | None = None, optimizer: OptimizerCallable = torch.optim.Adam
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network if network is not None else FloydNet(3, 2, dim=32, num_layers=4)
        self.optimizer_factory = optimizer

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        out = self.network(batch["pairs"], batch["mask"])
        pair_mask = batch["mask"][:, :, None] & batch["mask"][:, None, :]
        reachable = batch["reachable"] & pair_mask
        distance, logit = out[..., 0], out[..., 1]
        loss = F.mse_loss(distance[reachable], batch["distance"][reachable])
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
