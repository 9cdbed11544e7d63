"""``ffn-graphs bench-floyd``: FloydNet against a message-passing baseline on all-pairs shortest paths.

Both networks get the same pair inputs, outputs, loss, optimizer, steps and (as nearly as widths allow)
parameter count; they train on 6–12-node graphs and are tested on unseen 12–24-node graphs (2× larger)
and on in-distribution graphs. Accuracy: fraction of pairs whose predicted distance rounds to the exact
one (unreachable pairs must be predicted unreachable). Then FloydNet's forward time per graph at
n = 16, 32, 64 (median of interleaved rounds) and its largest live activation estimate (`pivot_memory_bytes`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from lightning.pytorch import Trainer
from rich.console import Console

from ffn_lightning.benchmarking import (
    console_table,
    interleaved_latency,
    machine_description,
    markdown_table,
    size_for_parameters,
    update_markdown_section,
)

from .floyd import APSPData, FloydAPSP, PairGINE
from .models.floydnet import FloydNet, pivot_memory_bytes

__all__ = ["main"]


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _matched_gine(target: int, layers: int) -> PairGINE:
    width = size_for_parameters(lambda w: PairGINE(dim=w, num_layers=layers), target, low=8)
    return PairGINE(dim=width, num_layers=layers)


def _train(name: str, network: torch.nn.Module, data: APSPData, epochs: int) -> dict[str, float]:
    torch.manual_seed(0)
    module = FloydAPSP(network, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    trainer = Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(module, data)
    seconds = time.perf_counter() - start
    larger = trainer.test(module, data, verbose=False)[0]["test/pair_acc"]
    same = trainer.validate(module, data, verbose=False)[0]["val/pair_acc"]
    return {"params": _params(network), "acc_2x": larger, "acc_same": same, "train_s": seconds}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-graphs bench-floyd", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-graphs", type=int, default=800)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--output", default="runs/graphs-bench/floyd")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    console = Console()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "results.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    data = APSPData(train_graphs=args.train_graphs, eval_graphs=200)
    floyd = FloydNet(3, 2, dim=args.dim, num_layers=args.layers, heads=4)
    networks = {"FloydNet": floyd, "PairGINE (PyG GINEConv)": _matched_gine(_params(floyd), args.layers)}
    key = f"{args.epochs}/{args.train_graphs}/{args.dim}/{args.layers}"
    for name, network in networks.items():
        if f"{name}/{key}" not in cache:
            console.print(f"training {name} ({_params(network):,} parameters, {args.epochs} epochs)")
            cache[f"{name}/{key}"] = _train(name, network, data, args.epochs)
            cache_path.write_text(json.dumps(cache, indent=1))
    header = ["model", "params", "pair acc, 12–24 nodes (2×)", "pair acc, 6–12 nodes", "train s"]
    rows = [
        [
            name,
            f"{r['params']:,}",
            f"{r['acc_2x']:.4f}",
            f"{r['acc_same']:.4f}",
            f"{r['train_s']:.0f}",
        ]
        for name in networks
        for r in [cache[f"{name}/{key}"]]
    ]
    probe = FloydNet(3, 2, dim=args.dim, num_layers=args.layers, heads=4).eval()
    sizes = (16, 32, 64)
    inputs = {n: torch.randn(1, n, n, 3) for n in sizes}
    with torch.no_grad():
        medians = interleaved_latency(
            {str(n): lambda n=n: probe(inputs[n]) for n in sizes}, rounds=7, warmup=2
        )
    timing_rows = [
        [
            n,
            f"{medians[str(n)] * 1000:.1f}",
            f"{pivot_memory_bytes(n, args.dim, 4, 1, probe.chunk_size) / 2**20:.1f}",
        ]
        for n in sizes
    ]
    console.print(console_table("APSP size generalization", header, rows))
    console.print(
        console_table("FloydNet forward per graph", ["n", "ms", "est. activation MiB"], timing_rows)
    )
    command = (
        f"ffn-graphs bench-floyd --epochs {args.epochs} --train-graphs {args.train_graphs} --dim {args.dim}"
    )
    body = "\n".join(
        [
            "## Graphs: FloydNet on all-pairs shortest paths",
            "",
            f"`{command} --layers {args.layers}` — {machine_description()}.",
            "",
            f"Both trained {args.epochs} epochs on {args.train_graphs} graphs of 6–12 nodes "
            "(Erdős–Rényi, grid, geometric, tree; integer weights 1–5), Adam 1e-3, same loss; accuracy = "
            "the pair's predicted distance rounds to the exact one (unreachable pairs predicted "
            "unreachable), on 200 unseen graphs.",
            "",
            markdown_table(header, rows),
            "",
            f"FloydNet forward time per graph (dim {args.dim}, {args.layers} layers, pivots in chunks of "
            f"{probe.chunk_size} rows, fp32 CPU) and the estimated largest live activations per layer:",
            "",
            markdown_table(["n", "ms", "est. activation MiB"], timing_rows),
        ]
    )
    update_markdown_section(args.markdown, "graphs-floyd", body)
    console.print(f"wrote the graphs-floyd section of {args.markdown}")


if __name__ == "__main__":
    main()
