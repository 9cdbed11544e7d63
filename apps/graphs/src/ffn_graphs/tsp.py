"""Small Euclidean TSP with exact Held-Karp tours: edge prediction, tour decoding, a classical baseline.

Instances are ``n`` points drawn uniformly in the unit square from a fixed seed; the target is the
adjacency of the optimal tour, found exactly by Held-Karp dynamic programming (``O(2ⁿ n²)``, practical
for ``n ≤ 12``; `held_karp` refuses more). A model scores every pair (``FloydNet`` sees only the
distance matrix, so it is invariant to rotations and reflections of the instance); `greedy_tour` turns
the scores into a valid tour (edges taken best first while both ends have degree < 2 and no early cycle
closes), optionally polished by `two_opt`. The classical baseline is a nearest-neighbour tour polished
by the same `two_opt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from ffn_blocks import auxiliary_loss
from ffn_lightning import register_safe_globals

from .models.floydnet import FloydNet
from .synthetic import SeededSplits

__all__ = [
    "TSPData",
    "TSPEdges",
    "TSPInstance",
    "collate_tsp",
    "greedy_tour",
    "held_karp",
    "nearest_neighbour_tour",
    "tour_length",
    "two_opt",
]

MAX_EXACT_NODES = 12


def tour_length(dist: np.ndarray, tour: Sequence[int]) -> float:
    """Length of the closed tour visiting ``tour`` in order."""
    order = np.asarray(tour)
    return float(dist[order, np.roll(order, -1)].sum())


def held_karp(dist: np.ndarray) -> tuple[float, list[int]]:
    """Exact shortest closed tour of the ``(n, n)`` distance matrix by Held-Karp DP, starting at node 0.

    ``cost[S, j]``: shortest path from 0 through the set ``S`` of other nodes ending at ``j ∈ S``; the
    subsets are processed by size, each size vectorized over all its subsets.
    """
    n = len(dist)
    if dist.shape != (n, n):
        raise ValueError(f"held_karp: dist must be square, got shape {dist.shape}")
    if n > MAX_EXACT_NODES:
        raise ValueError(f"held_karp: n={n} > {MAX_EXACT_NODES}; exact tours cost O(2^n n^2)")
    if n < 3:
        return tour_length(dist, list(range(n))), list(range(n))
    m = n - 1  # nodes 1..n-1 as bits 0..m-1
    full = 1 << m
    cost = np.full((full, m), np.inf)
    parent = np.full((full, m), -1, dtype=np.int64)
    cost[1 << np.arange(m), np.arange(m)] = dist[0, 1:]
    sizes = np.array([bin(s).count("1") for s in range(full)])
    inner = dist[1:, 1:]
    for size in range(2, m + 1):
        subsets = np.flatnonzero(sizes == size)
        for j in range(m):
            holding = subsets[(subsets >> j) & 1 == 1]
            previous = cost[holding ^ (1 << j)] + inner[:, j]  # (S, k): come to j from k
            best = previous.argmin(axis=1)
            cost[holding, j] = previous[np.arange(len(holding)), best]
            parent[holding, j] = best
    closing = cost[full - 1] + dist[1:, 0]
    end = int(closing.argmin())
    tour, subset = [], full - 1
    while end >= 0:
        tour.append(end + 1)
        subset, end = subset ^ (1 << end), int(parent[subset, end])
    return float(closing.min()), [0, *reversed(tour)]


def two_opt(dist: np.ndarray, tour: Sequence[int]) -> list[int]:
    """Reverse segments while that shortens the tour (first improvement, until a local optimum)."""
    tour = list(tour)
    n = len(tour)
    improved = True
    while improved:
        improved = False
        for i in range(n - 1):
            for j in range(i + 2, n if i > 0 else n - 1):
                a, b, c, d = tour[i], tour[i + 1], tour[j], tour[(j + 1) % n]
                if dist[a, c] + dist[b, d] < dist[a, b] + dist[c, d] - 1e-12:
                    tour[i + 1 : j + 1] = reversed(tour[i + 1 : j + 1])
                    improved = True
    return tour


def nearest_neighbour_tour(dist: np.ndarray, start: int = 0) -> list[int]:
    """Always go to the closest unvisited node."""
    tour, unvisited = [start], set(range(len(dist))) - {start}
    while unvisited:
        here = tour[-1]
        tour.append(min(unvisited, key=lambda j: dist[here, j]))
        unvisited.remove(tour[-1])
    return tour


def greedy_tour(scores: np.ndarray) -> list[int]:
    """A valid tour from symmetric edge scores: best edges first, keeping degrees ≤ 2 and no subtour.

    Taking edges in score order while both ends have degree < 2 and the ends lie in different path
    fragments always leaves a Hamiltonian path; its two ends are then joined.
    """
    n = len(scores)
    if n < 3:
        return list(range(n))
    root = list(range(n))

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    degree = np.zeros(n, dtype=np.int64)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    iu, ju = np.triu_indices(n, k=1)
    taken = 0
    for e in np.argsort(-scores[iu, ju], kind="stable"):
        i, j = int(iu[e]), int(ju[e])
        if degree[i] < 2 and degree[j] < 2 and find(i) != find(j):
            root[find(i)] = find(j)
            degree[i] += 1
            degree[j] += 1
            neighbours[i].append(j)
            neighbours[j].append(i)
            taken += 1
            if taken == n - 1:
                break
    start = int(np.flatnonzero(degree < 2)[0])
    tour, previous = [start], -1
    while len(tour) < n:
        here = tour[-1]
        step = next(j for j in neighbours[here] if j != previous)
        previous = here
        tour.append(step)
    return tour


@dataclass
class TSPInstance:
    """Points ``(n, 2)``, distances ``(n, n)``, the optimal tour and its length."""

    points: np.ndarray
    dist: np.ndarray
    tour: list[int]
    length: float

    @classmethod
    def random(cls, n: int, rng: np.random.Generator) -> TSPInstance:
        points = rng.random((n, 2))
        dist = np.linalg.norm(points[:, None] - points[None], axis=-1)
        length, tour = held_karp(dist)
        return cls(points, dist, tour, length)


def collate_tsp(instances: Sequence[TSPInstance]) -> dict[str, Any]:
    """Pad to the largest instance: pair features ``(B, n, n, 3)`` [distance, 3-NN, diagonal], tour edges."""
    n = max(len(t.points) for t in instances)
    out: dict[str, Any] = {
        "pairs": torch.zeros(len(instances), n, n, 3),
        "edges": torch.zeros(len(instances), n, n),
        "mask": torch.zeros(len(instances), n, dtype=torch.bool),
        "instances": list(instances),
    }
    for b, t in enumerate(instances):
        m = len(t.points)
        dist = torch.from_numpy(t.dist).float()
        near = dist.masked_fill(torch.eye(m, dtype=torch.bool), float("inf")).argsort(dim=1)[:, :3]
        knn = torch.zeros(m, m).scatter_(1, near, 1.0)
        out["pairs"][b, :m, :m] = torch.stack([dist, torch.maximum(knn, knn.T), torch.eye(m)], dim=-1)
        order = torch.tensor(t.tour)
        out["edges"][b, order, order.roll(-1)] = 1.0
        out["edges"][b, order.roll(-1), order] = 1.0
        out["mask"][b, :m] = True
    return out


class TSPData(SeededSplits):
    """Uniform-square instances with Held-Karp tours: train/val on ``train_nodes``, test on ``test_nodes``.

    Args:
        train_nodes: ``(low, high)`` node counts of training (and validation) instances.
        test_nodes: ``(low, high)`` node counts of test instances (≤ 12: exact tours).
        train_instances: number of training instances.
        eval_instances: number of validation and of test instances.
        batch_size: instances per batch.
        seed: generator seed.
        fresh_train: new training instances every epoch (see `SeededSplits`).
    """

    collate_fn = staticmethod(collate_tsp)

    def __init__(
        self,
        train_nodes: tuple[int, int] = (6, 10),
        test_nodes: tuple[int, int] = (10, 10),
        train_instances: int = 2000,
        eval_instances: int = 200,
        batch_size: int = 32,
        seed: int = 0,
        fresh_train: bool = False,
    ) -> None:
        counts = {"train": train_instances, "val": eval_instances, "test": eval_instances}
        super().__init__(counts, batch_size, seed, fresh_train)
        for name, (low, high) in (("train_nodes", train_nodes), ("test_nodes", test_nodes)):
            if not 3 <= low <= high <= MAX_EXACT_NODES:
                raise ValueError(f"TSPData: {name}=({low}, {high}) must satisfy 3 <= low <= high <= 12")
        self.sizes = {"train": tuple(train_nodes), "val": tuple(train_nodes), "test": tuple(test_nodes)}

    def make_one(self, split: str, index: int, rng: np.random.Generator) -> TSPInstance:
        low, high = self.sizes[split]
        return TSPInstance.random(int(rng.integers(low, high + 1)), rng)


class TSPEdges(LightningModule):
    """Score every pair as a tour edge (BCE, positives up-weighted), decode tours, compare with Held-Karp.

    Logged at validation and test: ``gap`` (mean tour length / optimal − 1), ``optimal`` (fraction of
    tours within 1e-6 of optimal), both for the greedy decoding and after `two_opt` (``*_2opt``).

    Args:
        network: pair features ``(B, n, n, 3)`` → ``(B, n, n, 1)`` edge logits (default ``FloydNet``).
        optimizer: optimizer factory.
        compile: compile the network with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        network: nn.Module | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network if network is not None else FloydNet(3, 1, dim=32, num_layers=4)
        if compile:
            self.network.compile()
        self.optimizer_factory = optimizer

    def edge_logits(self, batch: dict[str, Any]) -> torch.Tensor:
        """Symmetric edge logits ``(B, n, n)``."""
        logits = self.network(batch["pairs"], batch["mask"])[..., 0]
        return (logits + logits.transpose(1, 2)) / 2

    def _loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        mask = batch["mask"]
        off_diagonal = ~torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
        pairs = mask[:, :, None] & mask[:, None, :] & off_diagonal
        target = batch["edges"][pairs]
        weight = (pairs.sum() - target.sum()) / target.sum().clamp(min=1)  # n-3 negatives per positive
        return F.binary_cross_entropy_with_logits(logits[pairs], target, pos_weight=weight)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(self.edge_logits(batch), batch) + auxiliary_loss(self.network)
        self.log("train/loss", loss, batch_size=len(batch["instances"]), prog_bar=True)
        return loss

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        logits = self.edge_logits(batch)
        size = len(batch["instances"])
        self.log(f"{stage}/loss", self._loss(logits, batch), batch_size=size)
        scores = logits.detach().float().cpu().numpy()
        for name, polish in (("", False), ("_2opt", True)):
            gaps = []
            for b, instance in enumerate(batch["instances"]):
                m = len(instance.points)
                tour = greedy_tour(scores[b, :m, :m])
                if polish:
                    tour = two_opt(instance.dist, tour)
                gaps.append(tour_length(instance.dist, tour) / instance.length - 1)
            gap = torch.tensor(gaps)
            self.log(f"{stage}/gap{name}", gap.mean(), batch_size=size, prog_bar=not name)
            self.log(f"{stage}/optimal{name}", (gap < 1e-6).float().mean(), batch_size=size)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self) -> Any:
        return self.optimizer_factory(self.parameters())


register_safe_globals()
