"""Euclidean TSP: exact Held-Karp tours, valid decoding, 2-opt, targets, learning, CLI."""

import itertools

import numpy as np
import pytest
import torch
from lightning import Trainer

from ffn_graphs.cli import main
from ffn_graphs.models.floydnet import FloydNet
from ffn_graphs.tsp import (
    TSPData,
    TSPEdges,
    TSPInstance,
    collate_tsp,
    greedy_tour,
    held_karp,
    nearest_neighbour_tour,
    tour_length,
    two_opt,
)


def _is_tour(tour, n):
    return sorted(tour) == list(range(n))


@pytest.mark.parametrize("n", [3, 4, 6, 8])
def test_held_karp_matches_brute_force(n):
    rng = np.random.default_rng(n)
    for _ in range(3):
        instance = TSPInstance.random(n, rng)
        best = min(tour_length(instance.dist, (0, *p)) for p in itertools.permutations(range(1, n)))
        assert instance.length == pytest.approx(best, abs=1e-12)
        assert _is_tour(instance.tour, n)
        assert tour_length(instance.dist, instance.tour) == pytest.approx(best, abs=1e-12)


def test_held_karp_refuses_instances_too_large_to_solve_exactly():
    with pytest.raises(ValueError, match="n=13 > 12"):
        held_karp(np.zeros((13, 13)))


def test_greedy_decoding_always_gives_a_tour_and_recovers_a_scored_tour():
    rng = np.random.default_rng(0)
    for n in (3, 5, 9, 12):
        scores = rng.normal(size=(n, n))
        assert _is_tour(greedy_tour(scores + scores.T), n)
    instance = TSPInstance.random(10, rng)
    edges = collate_tsp([instance])["edges"][0].numpy()
    decoded = greedy_tour(edges + 0.01 * rng.random((10, 10)))
    assert tour_length(instance.dist, decoded) == pytest.approx(instance.length)


def test_two_opt_never_lengthens_and_nearest_neighbour_visits_everyone():
    rng = np.random.default_rng(1)
    for _ in range(10):
        instance = TSPInstance.random(10, rng)
        start = nearest_neighbour_tour(instance.dist)
        polished = two_opt(instance.dist, start)
        assert _is_tour(start, 10) and _is_tour(polished, 10)
        assert (
            instance.length - 1e-9
            <= tour_length(instance.dist, polished)
            <= tour_length(instance.dist, start)
        )


def test_targets_are_the_tour_edges_and_padding_is_empty():
    rng = np.random.default_rng(2)
    batch = collate_tsp([TSPInstance.random(5, rng), TSPInstance.random(8, rng)])
    edges = batch["edges"]
    assert torch.equal(edges, edges.transpose(1, 2))
    assert (edges[0, :5].sum(1) == 2).all() and edges[0, 5:].sum() == 0 and edges[0, :, 5:].sum() == 0
    assert (edges[1].sum(1) == 2).all()
    assert batch["mask"].sum(1).tolist() == [5, 8]
    assert batch["pairs"][0, 5:].abs().sum() == 0


def test_bad_sizes_name_the_field():
    with pytest.raises(ValueError, match=r"test_nodes=\(10, 14\)"):
        TSPData(test_nodes=(10, 14))


def test_training_on_held_karp_targets_learns_better_than_chance_tours():
    torch.manual_seed(0)
    data = TSPData(
        train_nodes=(6, 8), test_nodes=(8, 8), train_instances=256, eval_instances=32, batch_size=32
    )
    module = TSPEdges(FloydNet(3, 1, dim=16, num_layers=3, heads=2), lambda p: torch.optim.Adam(p, lr=3e-3))
    trainer = Trainer(max_epochs=8, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    before = trainer.test(module, data, verbose=False)[0]
    trainer.fit(module, data)
    after = trainer.test(module, data, verbose=False)[0]
    assert after["test/loss"] < 0.8 * before["test/loss"], (before, after)
    assert after["test/gap"] < before["test/gap"] and after["test/gap"] < 0.15, (before, after)


def test_tsp_fast_dev_run(configs, in_tmp_dir):
    main(["tsp", "fit", "--config", str(configs / "tsp_tiny.yaml"), "--trainer.fast_dev_run", "true"])
