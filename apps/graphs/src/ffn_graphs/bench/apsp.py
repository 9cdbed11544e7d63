"""``ffn-graphs bench-floyd``: FloydNet against a message-passing baseline and the authors' package.

All networks get the same pair inputs, readout (``--readout``: follow predicted next hops, or regress
the distance; see `ffn_graphs.floyd`), loss, optimizer, steps and (as nearly as widths allow) parameter
count; they train on 6–12-node graphs and are tested on unseen 12–24-node graphs (2× larger) and on
in-distribution graphs. Accuracy: fraction of pairs whose predicted distance rounds to the exact one
(unreachable pairs must be predicted unreachable). Then, per graph at n = 16, 32, 64, the time of a
forward pass and of a training step (median of interleaved rounds) and the peak memory of a training
step (`peak_memory_bytes`), ours beside the ``floydnet`` package's layers (optional ``bench`` group;
without it those columns are left out).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from rich.console import Console

from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    fit_timed,
    interleaved_latency,
    machine_description,
    markdown_table,
    mean_std,
    parameter_count,
    peak_memory_bytes,
    section_template,
    train_missing,
    update_markdown_section,
)

from ..floyd import READOUTS, APSPData, FloydAPSP, Readout, readout_features
from .floyd_arms import GATED, PACKAGE, PackageFloydNet, floydnet, matched_gine

__all__ = ["main", "stored_budgets"]


def _train(
    network: torch.nn.Module, seed: int, data: APSPData, epochs: int, readout: Readout
) -> dict[str, float]:
    module = FloydAPSP(network, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3), readout=readout)
    trainer, seconds = fit_timed(module, data, epochs, seed)
    larger = trainer.test(module, data, verbose=False)[0]
    same = trainer.validate(module, data, verbose=False)[0]["val/pair_acc"]
    return {
        "params": parameter_count(network),
        "acc_2x": larger["test/pair_acc"],
        "diameter_2x": larger["test/diameter_acc"],
        "connected_2x": larger["test/connected_acc"],
        "acc_same": same,
        "train_s": seconds,
    }


def _cost_table(dim: int, layers: int, sizes: Sequence[int] = (16, 32, 64)) -> tuple[list[str], list[list]]:
    """Forward / training-step time and training-step peak memory per graph, ours beside the package's."""
    builders = {"ours": lambda: floydnet(dim, layers)}
    if PackageFloydNet is not None:
        builders["package"] = lambda: PackageFloydNet(3, 2, dim=dim, num_layers=layers, heads=4)
    torch.manual_seed(0)
    models = {name: build() for name, build in builders.items()}
    inputs = {n: torch.randn(1, n, n, 3) for n in sizes}

    def forward(name: str, n: int) -> None:
        with torch.no_grad():
            models[name](inputs[n])

    def step(name: str, n: int) -> None:
        models[name](inputs[n]).square().mean().backward()

    cases = {  # ours and the package's case side by side, so load changes hit both alike
        f"{kind}/{name}/{n}": (lambda f=f, name=name, n=n: f(name, n))
        for kind, f in (("fwd", forward), ("step", step))
        for n in sizes
        for name in models
    }
    median = interleaved_latency(cases, rounds=101, warmup=5)
    memory = {
        (name, n): peak_memory_bytes(lambda name=name, n=n: step(name, n)) for name in models for n in sizes
    }
    header = ["n", "forward ms (ours)", "training step ms (ours)", "step peak MiB (ours)"]
    if "package" in models:
        header += [
            "forward ms (package)",
            "training step ms (package)",
            "step peak MiB (package)",
            "time ratio (forward)",
            "time ratio (step)",
            "memory ratio",
        ]
    rows = []
    for n in sizes:
        row = [n]
        for name in models:
            row += [
                f"{median[f'fwd/{name}/{n}'] * 1e3:.1f}",
                f"{median[f'step/{name}/{n}'] * 1e3:.1f}",
                f"{memory[name, n] / 2**20:.1f}",
            ]
        if "package" in models:
            row += [
                f"{median[f'fwd/ours/{n}'] / median[f'fwd/package/{n}']:.2f}",
                f"{median[f'step/ours/{n}'] / median[f'step/package/{n}']:.2f}",
                f"{memory['ours', n] / memory['package', n]:.2f}",
            ]
        rows.append(row)
    return header, rows


def stored_budgets(
    stored: dict[str, Any], dim: int, layers: int, names: Sequence[str]
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Every training budget and readout stored for networks of ``dim`` × ``layers``: label
    (``"25 × 1200, distance"``, ``"25 × 9600 new per epoch, next hop"``) → network name (in ``names``
    order) → its runs in seed order.

    Keys are ``<name>/<epochs>/<graphs>/<dim>/<layers>/relu[/fresh][/next_hop]/<seed>`` (`main`'s layout;
    no readout part means ``distance``); budgets are ordered by training steps (fixed before fresh, then
    fewer epochs first, at equal steps), the distance readout before the next-hop one.
    """
    found: dict[tuple[int, int, bool, str], dict[str, dict[int, dict[str, float]]]] = {}
    for key, run in stored.items():
        name, *setting, seed = key.split("/")
        flags = setting[5:]
        if (
            name not in names
            or setting[2:5] != [str(dim), str(layers), "relu"]
            or not set(flags) <= {"fresh", "next_hop"}
        ):
            continue
        readout = "next_hop" if "next_hop" in flags else "distance"
        budget = (int(setting[0]), int(setting[1]), "fresh" in flags, readout)
        found.setdefault(budget, {}).setdefault(name, {})[int(seed)] = run
    order = sorted(found, key=lambda b: (b[0] * b[1], b[2], b[0], READOUTS.index(b[3])))
    return {
        f"{epochs} × {graphs}" + (" new per epoch" if fresh else "") + f", {readout.replace('_', ' ')}": {
            name: [runs[seed] for seed in sorted(runs)]
            for name in names
            if (runs := found[epochs, graphs, fresh, readout].get(name))
        }
        for epochs, graphs, fresh, readout in order
    }


def _accuracy_table(
    store: RunStore, dim: int, layers: int, models: list[str]
) -> tuple[list[str], list[list]]:
    """Header and rows of the accuracy table: every budget stored at this width and depth, each model's
    runs over their seeds."""
    header = [
        "training (epochs × graphs), readout",
        "model",
        "params",
        "seeds",
        "pair acc, 12–24 nodes (2×)",
        "pair acc, 6–12 nodes",
        "diameter exact (2×)",
        "connectivity right (2×)",
        "train s",
    ]
    columns = ("acc_2x", "acc_same", "diameter_2x", "connected_2x")
    rows = [
        [
            budget,
            name,
            f"{runs[0]['params']:,}",
            len(runs),
            *(mean_std([r[k] for r in runs], digits=4 if k.startswith("acc") else 3) for k in columns),
            f"{statistics.fmean(r['train_s'] for r in runs):.0f}",
        ]
        for budget, models in stored_budgets(store.load(), dim, layers, models).items()
        for name, runs in models.items()
    ]
    return header, rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-graphs bench-floyd", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--train-graphs", type=int, default=800, help="training graphs (per epoch with --fresh-train)"
    )
    parser.add_argument("--fresh-train", action="store_true", help="draw new training graphs every epoch")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0…N-1 (initialization and batch order)")
    parser.add_argument(
        "--readout",
        choices=READOUTS,
        default="next_hop",
        help="follow predicted next hops (default) or regress each pair's distance",
    )
    parser.add_argument("--results", default=str(RESULTS_DIR / "graphs-floyd.json"), help="finished runs")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    console = Console()
    data = APSPData(train_graphs=args.train_graphs, eval_graphs=200, fresh_train=args.fresh_train)
    out = readout_features(args.readout)
    budget = parameter_count(floydnet(args.dim, args.layers, out))
    builders: dict[str, Callable[[], torch.nn.Module]] = {
        "FloydNet": lambda: floydnet(args.dim, args.layers, out),
        GATED: lambda: floydnet(args.dim, args.layers, out, wiring="gated"),
        "PairGINE (PyG GINEConv)": lambda: matched_gine(budget, args.layers, out),
    }
    if PackageFloydNet is not None:
        builders[PACKAGE] = lambda: PackageFloydNet(3, out, dim=args.dim, num_layers=args.layers, heads=4)
    key = (
        f"{args.epochs}/{args.train_graphs}/{args.dim}/{args.layers}/relu"
        + ("/fresh" if args.fresh_train else "")
        + ("/next_hop" if args.readout == "next_hop" else "")
    )
    train = partial(_train, data=data, epochs=args.epochs, readout=args.readout)
    store = RunStore(args.results)
    train_missing(builders, key, store, train, args.seeds, console)
    header, rows = _accuracy_table(store, args.dim, args.layers, list(builders))
    timing_header, timing_rows = _cost_table(args.dim, args.layers)
    console.print(console_table("APSP size generalization", header, rows))
    console.print(console_table("Cost per graph", timing_header, timing_rows))
    command = (
        f"ffn-graphs bench-floyd --epochs {args.epochs} --train-graphs {args.train_graphs} --dim {args.dim} "
        f"--seeds {args.seeds} --readout {args.readout}" + (" --fresh-train" if args.fresh_train else "")
    )
    graphs = (
        f"{args.train_graphs} new graphs per epoch ({args.train_graphs * args.epochs} in all)"
        if args.fresh_train
        else f"{args.train_graphs} graphs"
    )
    body = section_template(
        __file__,
        "apsp",
        command=f"{command} --layers {args.layers}",
        machine=machine_description(),
        epochs=args.epochs,
        graphs=graphs,
        gated=GATED,
        table=markdown_table(header, rows),
        dim=args.dim,
        layers=args.layers,
        cost_table=markdown_table(timing_header, timing_rows),
    )
    update_markdown_section(args.markdown, "graphs-floyd", body)
    console.print(f"wrote the graphs-floyd section of {args.markdown}")


if __name__ == "__main__":
    main()
