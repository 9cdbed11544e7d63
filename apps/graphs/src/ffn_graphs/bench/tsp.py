"""``ffn-graphs bench-tsp``: tours for 10-point Euclidean TSP against Held-Karp, learned and classical.

FloydNet, the ``floydnet`` package's layers (optional ``bench`` group) and a PyG message-passing
baseline (`PairGINE` on the 3-nearest-neighbour graph) are trained with the same loss, optimizer, steps
and parameter budget to score tour edges on 6–10-point instances, then decoded greedily into valid
tours on 200 unseen 10-point instances (with and without 2-opt polishing). Beside them: nearest
neighbour, and nearest neighbour + 2-opt. Reported: mean optimality gap and the fraction of exactly
optimal tours, against the exact Held-Karp tours. Finished runs are kept in ``--results``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
from rich.console import Console

from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    fit_timed,
    markdown_table,
    mean_std,
    parameter_count,
    provenance,
    section_template,
    train_missing,
    update_markdown_section,
)

from ..tsp import TSPData, TSPEdges, nearest_neighbour_tour, tour_length, two_opt
from .floyd_arms import GATED, PACKAGE, PackageFloydNet, floydnet, matched_gine

__all__ = ["main"]


def _train(network: torch.nn.Module, seed: int, data: TSPData, epochs: int) -> dict[str, float]:
    module = TSPEdges(network, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    trainer, seconds = fit_timed(module, data, epochs, seed, num_sanity_val_steps=0, limit_val_batches=0)
    result = trainer.test(module, data, verbose=False)[0]
    return {
        "params": parameter_count(network),
        "gap": result["test/gap"],
        "optimal": result["test/optimal"],
        "gap_2opt": result["test/gap_2opt"],
        "optimal_2opt": result["test/optimal_2opt"],
        "train_s": seconds,
    }


def _classical(data: TSPData) -> dict[str, dict[str, float]]:
    out = {}
    for name, polish in (("nearest neighbour", False), ("nearest neighbour + 2-opt", True)):
        gaps = []
        for instance in data.splits["test"]:
            tour = nearest_neighbour_tour(instance.dist)
            if polish:
                tour = two_opt(instance.dist, tour)
            gaps.append(tour_length(instance.dist, tour) / instance.length - 1)
        gap = np.array(gaps)
        out[name] = {"gap": float(gap.mean()), "optimal": float((gap < 1e-6).mean())}
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-graphs bench-tsp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-instances", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0…N-1 (initialization and batch order)")
    parser.add_argument("--results", default=str(RESULTS_DIR / "graphs-tsp.json"), help="finished runs")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    return parser


def _table(results: dict[str, list[dict[str, float]]], data: TSPData) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: each learned scorer over its seeds, then the classical heuristics."""
    header = ["method", "params", "seeds", "gap", "optimal tours", "gap + 2-opt", "optimal + 2-opt"]
    header.append("train s")

    def percent(runs: list[dict[str, float]], key: str, digits: int) -> str:
        return mean_std([100 * r[key] for r in runs], digits) + " %"

    rows = [
        [
            name,
            f"{runs[0]['params']:,}",
            len(runs),
            percent(runs, "gap", 2),
            percent(runs, "optimal", 1),
            percent(runs, "gap_2opt", 2),
            percent(runs, "optimal_2opt", 1),
            f"{statistics.fmean(r['train_s'] for r in runs):.0f}",
        ]
        for name, runs in results.items()
    ]
    for name, r in _classical(data).items():
        rows.append([name, "—", "—", f"{100 * r['gap']:.2f} %", f"{100 * r['optimal']:.1f} %", "", "", ""])
    return header, rows


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    console = Console()
    data = TSPData(train_instances=args.train_instances, eval_instances=200)
    data.setup()
    budget = parameter_count(floydnet(args.dim, args.layers, out_features=1))
    builders: dict[str, Callable[[], torch.nn.Module] | None] = {
        "FloydNet": lambda: floydnet(args.dim, args.layers, out_features=1),
        GATED: lambda: floydnet(args.dim, args.layers, out_features=1, wiring="gated"),
        # without the optional bench group: its stored runs still show
        PACKAGE: None
        if PackageFloydNet is None
        else lambda: PackageFloydNet(3, 1, dim=args.dim, num_layers=args.layers, heads=4),
        "PairGINE (PyG GINEConv, 3-NN graph)": lambda: matched_gine(budget, args.layers, out_features=1),
    }
    setting = {"epochs": args.epochs, "instances": args.train_instances}
    setting |= {"dim": args.dim, "layers": args.layers}
    train = partial(_train, data=data, epochs=args.epochs)
    store = RunStore(args.results, fields=(*setting, "model", "seed"))
    results = train_missing(builders, setting, store, train, args.seeds, console)
    header, rows = _table(results, data)
    console.print(console_table("TSP, n = 10, against Held-Karp", header, rows))
    command = (
        f"ffn-graphs bench-tsp --epochs {args.epochs} --train-instances {args.train_instances} "
        f"--dim {args.dim} --layers {args.layers} --seeds {args.seeds}"
    )
    machine, updated = provenance(run for runs in results.values() for run in runs)
    body = section_template(
        __file__,
        "tsp",
        command=command,
        machine=machine,
        epochs=args.epochs,
        train_instances=args.train_instances,
        table=markdown_table(header, rows),
    )
    update_markdown_section(args.markdown, "graphs-tsp", body, updated)
    console.print(f"wrote the graphs-tsp section of {args.markdown}")


if __name__ == "__main__":
    main()
