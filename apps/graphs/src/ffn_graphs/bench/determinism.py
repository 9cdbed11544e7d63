"""What bit-for-bit reproducible NBFNet training costs on CPU: the gather, and PyTorch's deterministic mode.

NBFNet gathers every edge's source state (``E`` rows of ``(N, B·d)``) in every layer. Advanced
indexing ``x[index]`` has a backward (``index_put_`` with ``accumulate``) whose per-node sums follow
the order in which CPU threads finish, so two runs of one command drifted apart; ``index_select``'s
backward (``index_add``) sums in edge order. The first table times both gathers, forward and backward,
at UMLS's size, and advanced indexing again under ``torch.use_deterministic_algorithms`` (its sorted
deterministic kernel). The second times a whole NBFNet training step (the reference's 6 × 32, PNA, a
batch of 32 queries) with PyTorch's deterministic mode off and on, i.e. ``--trainer.deterministic``
``false`` (the apps' default) and ``true``. Arms alternate in interleaved rounds. Written to
BENCHMARKS.md (section ``determinism``); run with ``ffn-graphs bench-determinism``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import torch
from rich.console import Console

from ffn_lightning.benchmarking import (
    interleaved_latency,
    machine_description,
    markdown_table,
    update_markdown_section,
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="ffn-graphs bench-determinism", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--batch", type=int, default=32, help="queries per step")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    console = Console()
    gathers = interleaved_latency(_gathers(args.batch * args.dim), rounds=5 * args.rounds, warmup=2)
    steps = interleaved_latency(_steps(args.dim, args.layers, args.batch), rounds=args.rounds, warmup=1)
    command = "ffn-graphs bench-determinism " + " ".join(
        f"--{k} {getattr(args, k)}" for k in ("dim", "layers", "batch", "rounds")
    )
    body = (
        "## Reproducible runs: what determinism costs\n\n"
        f"Command: `{command}`. Machine: {machine_description()}.\n"
        "Every app's default training is reproducible bit for bit on one machine and thread count "
        "(`tests/test_reproducible.py`: two runs of one command at once, identical weights and logs). "
        "The one source of drift found was NBFNet's gather of each edge's source state: advanced "
        "indexing's backward (`index_put_` with `accumulate`) sums in the order CPU threads finish; "
        "`index_select`, whose backward is `index_add`, sums in edge order. Gather forward and backward "
        f"on UMLS's training graph ({args.batch} queries × {args.dim} wide), median of "
        f"{5 * args.rounds} interleaved rounds:\n\n"
        f"{_table(gathers, 1e3, 'Median (ms)')}\n\n"
        "PyTorch's deterministic mode (`--trainer.deterministic true`: deterministic kernels where they "
        "exist, an error where none does) is not needed for that and stays off by default; on a whole "
        f"NBFNet step ({args.layers} layers × {args.dim}, PNA, {args.batch} queries on UMLS, Adam), "
        f"median of {args.rounds} interleaved rounds:\n\n"
        f"{_table(steps, 1e3, 'Median step (ms)')}\n"
    )
    console.print(body, markup=False)
    if args.output:
        update_markdown_section(args.output, "determinism", body)


if __name__ == "__main__":
    main()
