"""What bit-for-bit reproducible NBFNet training costs on CPU: the gather, and PyTorch's deterministic mode.

NBFNet gathers every edge's source state (``E`` rows of ``(N, B·d)``) in every layer. Advanced
indexing ``x[index]`` has a backward (``index_put_`` with ``accumulate``) whose per-node sums follow
the order in which CPU threads finish, so two runs of one command drifted apart; ``index_select``'s
backward (``index_add``) sums in edge order. The first table times both gathers, forward and backward,
at UMLS's size, and advanced indexing again under ``torch.use_deterministic_algorithms`` (its sorted
deterministic kernel). The second times a whole NBFNet training step (the reference's 6 × 32, PNA, a
batch of 32 queries) with PyTorch's deterministic mode off and on, i.e. ``--trainer.deterministic``
``false`` (the apps' default) and ``true``. Arms alternate in interleaved rounds. Every run is kept in
``--results``; BENCHMARKS.md's section ``determinism`` is rendered from it (``--from-store``: without
measuring). Run with ``ffn-graphs bench-determinism``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ffn_lightning.benchmarking import (
    interleaved_latency,
    markdown_table,
    measured_section,
    measured_template,
    measurement_arguments,
)

from ..data import KnowledgeGraphDataModule
from ..models.nbfnet import NBFNet

__all__ = ["main"]


def _deterministic(flag: bool, step: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        torch.use_deterministic_algorithms(flag)
        try:
            step()
        finally:
            torch.use_deterministic_algorithms(False)

    return run


def _gathers(width: int) -> dict[str, Callable[[], None]]:
    data = KnowledgeGraphDataModule()
    graph = data.stages["train"]
    index = graph.edge_index[0]
    x = torch.randn(graph.num_nodes, width, requires_grad=True)
    weight = torch.randn(len(index), width)

    def advanced() -> None:
        (x[index] * weight).sum().backward()

    def select() -> None:
        (x.index_select(0, index) * weight).sum().backward()

    return {
        "x[index] (before)": advanced,
        "x.index_select(0, index) (now)": select,
        "x[index], deterministic mode": _deterministic(True, advanced),
    }


def _steps(dim: int, layers: int, batch: int) -> dict[str, Callable[[], None]]:
    torch.manual_seed(0)
    data = KnowledgeGraphDataModule()
    graph = data.stages["train"]
    model = NBFNet(2 * data.num_relations, dim=dim, num_layers=layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    queries = graph.queries[:batch]

    def step() -> None:
        scores = model(queries[:, 0], queries[:, 1], graph.edge_index, graph.edge_type, graph.num_nodes)
        loss = torch.nn.functional.cross_entropy(scores, queries[:, 2])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return {
        "--trainer.deterministic false (default)": _deterministic(False, step),
        "--trainer.deterministic true": _deterministic(True, step),
    }


def _table(times: dict[str, float], unit: float, label: str) -> str:
    base = next(iter(times.values()))
    rows = [[name, f"{t * unit:.1f}", f"{t / base:.2f}"] for name, t in times.items()]
    return markdown_table(["Arm", label, "× first row"], rows)


SETTING = ("dim", "layers", "batch", "rounds")


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    gathers = interleaved_latency(_gathers(args.batch * args.dim), rounds=5 * args.rounds, warmup=2)
    steps = interleaved_latency(_steps(args.dim, args.layers, args.batch), rounds=args.rounds, warmup=1)
    return {"gather_s": gathers, "step_s": steps}


def _section(run: dict[str, Any]) -> str:
    return measured_template(
        __file__,
        "determinism",
        "ffn-graphs bench-determinism",
        SETTING,
        run,
        gather_rounds=5 * run["rounds"],
        gather_table=_table(run["gather_s"], 1e3, "Median (ms)"),
        step_table=_table(run["step_s"], 1e3, "Median step (ms)"),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="ffn-graphs bench-determinism", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--batch", type=int, default=32, help="queries per step")
    parser.add_argument("--rounds", type=int, default=6)
    measurement_arguments(parser, "determinism")
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    measured_section(args, SETTING, lambda: _measure(args), _section, "determinism")


if __name__ == "__main__":
    main()
