"""``ffn-graphs bench-floyd``: FloydNet against a message-passing baseline and the authors' package.

All networks get the same pair inputs, readout (``--readout``: follow predicted next hops, or regress
the distance; see `ffn_graphs.floyd`), loss, optimizer, steps and (as nearly as widths allow) parameter
count; they train on 6–12-node graphs and are tested on unseen 12–24-node graphs (2× larger) and on
in-distribution graphs. Accuracy: fraction of pairs whose predicted distance rounds to the exact one
(unreachable pairs must be predicted unreachable). Then, per graph at n = 16, 32, 64, the time of a
forward pass and of a training step (median of interleaved rounds) and the peak memory of a training
step (`peak_memory_bytes`), ours beside the ``floydnet`` package's layers (optional ``bench`` group;
without it those columns are left out), measured once per width and depth into ``--cost-results``
(again with ``--retime``).
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
    markdown_table,
    mean_std,
    parameter_count,
    peak_memory_bytes,
    provenance,
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


SIZES = (16, 32, 64)


def _measure_cost(dim: int, layers: int, sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    """Forward / training-step seconds (median of interleaved rounds) and training-step peak bytes per
    graph of ``n`` nodes, ours beside the package's where it is installed: one record of the cost store."""
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
    return {
        "dim": dim,
        "layers": layers,
        "sizes": list(sizes),
        "seconds": interleaved_latency(cases, rounds=101, warmup=5),
        "peak_bytes": {
            f"{name}/{n}": peak_memory_bytes(lambda name=name, n=n: step(name, n))
            for name in models
            for n in sizes
        },
    }


def _cost_table(cost: dict[str, Any]) -> tuple[list[str], list[list]]:
    """The cost table of one stored `_measure_cost` record: ours, and the package's with the ratios
    where it was measured."""
    seconds, memory = cost["seconds"], cost["peak_bytes"]
    names = [name for name in ("ours", "package") if f"{name}/{cost['sizes'][0]}" in memory]
    header = ["n", "forward ms (ours)", "training step ms (ours)", "step peak MiB (ours)"]
    if "package" in names:
        header += [
            "forward ms (package)",
            "training step ms (package)",
            "step peak MiB (package)",
            "time ratio (forward)",
            "time ratio (step)",
            "memory ratio",
        ]
    rows = []
    for n in cost["sizes"]:
        row = [n]
        for name in names:
            row += [
                f"{seconds[f'fwd/{name}/{n}'] * 1e3:.1f}",
                f"{seconds[f'step/{name}/{n}'] * 1e3:.1f}",
                f"{memory[f'{name}/{n}'] / 2**20:.1f}",
            ]
        if "package" in names:
            row += [
                f"{seconds[f'fwd/ours/{n}'] / seconds[f'fwd/package/{n}']:.2f}",
                f"{seconds[f'step/ours/{n}'] / seconds[f'step/package/{n}']:.2f}",
                f"{memory[f'ours/{n}'] / memory[f'package/{n}']:.2f}",
            ]
        rows.append(row)
    return header, rows


FIELDS = ("epochs", "graphs", "dim", "layers", "fresh", "readout", "model", "seed")
"""What names an APSP run in the store: its training budget and readout, width, depth, model, seed."""


def stored_budgets(
    store: RunStore, dim: int, layers: int, names: Sequence[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every training budget and readout stored for networks of ``dim`` × ``layers``: label
    (``"25 × 1200, distance"``, ``"25 × 9600 new per epoch, next hop"``) → network name (in ``names``
    order) → its runs in seed order. Budgets are ordered by training steps (fixed before fresh, then
    fewer epochs first, at equal steps), the distance readout before the next-hop one."""
    found: dict[tuple[int, int, bool, str], dict[str, dict[int, dict[str, Any]]]] = {}
    for run in store.select(dim=dim, layers=layers):
        if run["model"] in names:
            budget = (run["epochs"], run["graphs"], run["fresh"], run["readout"])
            found.setdefault(budget, {}).setdefault(run["model"], {})[run["seed"]] = run
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
) -> tuple[list[str], list[list], list[dict[str, Any]]]:
    """Header and rows of the accuracy table: every budget stored at this width and depth, each model's
    runs over their seeds; and the runs it shows."""
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
    budgets = stored_budgets(store, dim, layers, models)
    rows = [
        [
            budget,
            name,
            f"{runs[0]['params']:,}",
            len(runs),
            *(mean_std([r[k] for r in runs], digits=4 if k.startswith("acc") else 3) for k in columns),
            f"{statistics.fmean(r['train_s'] for r in runs):.0f}",
        ]
        for budget, models in budgets.items()
        for name, runs in models.items()
    ]
    shown = [run for models in budgets.values() for runs in models.values() for run in runs]
    return header, rows, shown


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
    parser.add_argument(
        "--cost-results", default=str(RESULTS_DIR / "graphs-floyd-cost.json"), help="the cost table's runs"
    )
    parser.add_argument("--retime", action="store_true", help="measure the cost table again (else: stored)")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    console = Console()
    data = APSPData(train_graphs=args.train_graphs, eval_graphs=200, fresh_train=args.fresh_train)
    out = readout_features(args.readout)
    budget = parameter_count(floydnet(args.dim, args.layers, out))
    builders: dict[str, Callable[[], torch.nn.Module] | None] = {
        "FloydNet": lambda: floydnet(args.dim, args.layers, out),
        GATED: lambda: floydnet(args.dim, args.layers, out, wiring="gated"),
        "PairGINE (PyG GINEConv)": lambda: matched_gine(budget, args.layers, out),
        # without the optional bench group: its stored runs still show
        PACKAGE: None
        if PackageFloydNet is None
        else lambda: PackageFloydNet(3, out, dim=args.dim, num_layers=args.layers, heads=4),
    }
    setting = {
        "epochs": args.epochs,
        "graphs": args.train_graphs,
        "dim": args.dim,
        "layers": args.layers,
        "fresh": args.fresh_train,
        "readout": args.readout,
    }
    train = partial(_train, data=data, epochs=args.epochs, readout=args.readout)
    store = RunStore(args.results, fields=FIELDS)
    train_missing(builders, setting, store, train, args.seeds, console)
    header, rows, shown = _accuracy_table(store, args.dim, args.layers, list(builders))
    costs = RunStore(args.cost_results, fields=("dim", "layers"))
    if args.retime or costs.missing([{"dim": args.dim, "layers": args.layers}]):
        costs.put(_measure_cost(args.dim, args.layers))
    (cost,) = costs.select(dim=args.dim, layers=args.layers)
    timing_header, timing_rows = _cost_table(cost)
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
    machine, updated = provenance([*shown, cost])
    body = section_template(
        __file__,
        "apsp",
        command=f"{command} --layers {args.layers}",
        machine=machine,
        epochs=args.epochs,
        graphs=graphs,
        gated=GATED,
        table=markdown_table(header, rows),
        dim=args.dim,
        layers=args.layers,
        cost_table=markdown_table(timing_header, timing_rows),
    )
    update_markdown_section(args.markdown, "graphs-floyd", body, updated)
    console.print(f"wrote the graphs-floyd section of {args.markdown}")


if __name__ == "__main__":
    main()
