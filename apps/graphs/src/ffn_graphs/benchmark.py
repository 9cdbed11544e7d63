"""Graph benchmarks written to BENCHMARKS.md.

``ffn-graphs bench-virgo``: test accuracy (mean ± std over seeds) of GCNs on Cora and CiteSeer at several
depths with Virgo, Xavier and Kaiming initialization; each run trains 200 epochs and is tested at its
best validation epoch.

``ffn-graphs bench-kg``: NBFNet on UMLS and Kinships (filtered MRR, Hits@1/3/10, head and tail) and on
GraIL's inductive splits (Hits@10 against 50 negatives), with time per epoch and peak memory. (No
pykeen DistMult/RotatE baselines yet.)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from rich.console import Console

from ffn_lightning.benchmarking import (
    EpochTimer,
    console_table,
    machine_description,
    markdown_table,
    update_markdown_section,
)

from .data import SHARED, KnowledgeGraphDataModule, PlanetoidDataModule
from .module import KGCompletion, NodeClassifier

__all__ = ["main"]

_QUIET = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False, "accelerator": "cpu"}


def _node_run(name: str, depth: int, init: str, seed: int, root: Path, epochs: int) -> float:
    seed_everything(seed, workers=True, verbose=False)
    data = PlanetoidDataModule(name)
    model = NodeClassifier(
        data.num_features,
        data.num_classes,
        hidden_features=64,
        depth=depth,
        init=init,
        optimizer=partial(torch.optim.Adam, lr=0.01, weight_decay=5e-4),
    )
    best = ModelCheckpoint(dirpath=root / f"{name}-{depth}-{init}-{seed}", monitor="val/acc", mode="max")
    trainer = Trainer(max_epochs=epochs, callbacks=[best], **_QUIET)
    trainer.fit(model, data)
    return trainer.test(model, data, ckpt_path="best", verbose=False)[0]["test/acc"]


def bench_virgo(args: argparse.Namespace, console: Console) -> str:
    root = Path(args.root) / "virgo"
    root.mkdir(parents=True, exist_ok=True)
    store = root / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    for name in args.datasets:
        for depth in args.depths:
            for init in ("virgo", "xavier", "kaiming"):
                for seed in range(args.seeds):
                    key = f"{name}/{depth}/{init}/{seed}"
                    if key not in results:
                        results[key] = _node_run(name, depth, init, seed, root, args.epochs)
                        store.write_text(json.dumps(results, indent=1))
                        console.print(f"{key}: {results[key]:.3f}")
    header = ["Dataset", "Layers", "Virgo", "Xavier", "Kaiming"]
    rows = []
    for name in args.datasets:
        for depth in args.depths:
            row = [name, depth]
            for init in ("virgo", "xavier", "kaiming"):
                values = [100 * results[f"{name}/{depth}/{init}/{s}"] for s in range(args.seeds)]
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                row.append(f"{statistics.fmean(values):.1f} ± {spread:.1f}")
            rows.append(row)
    console.print(console_table("GCN test accuracy (%)", header, rows))
    return (
        "## Graphs: Virgo initialization, GCN node classification (public split)\n\n"
        f"Command: `ffn-graphs bench-virgo --seeds {args.seeds} --epochs {args.epochs} "
        f"--datasets {' '.join(args.datasets)} --depths {' '.join(map(str, args.depths))}`. Machine: "
        f"{machine_description()}. Test accuracy (%) at the best validation epoch, mean ± std over "
        f"{args.seeds} seeds; hidden width 64, Adam 0.01, weight decay 5e-4, dropout 0.5, {args.epochs} "
        "epochs. The Virgo paper reports its GCN results in figures rather than a table we could copy "
        "offline, so no published numbers stand beside these.\n\n"
        f"{markdown_table(header, rows)}\n"
    )


def _kg_run(folder: str, test_folder: str | None, args: argparse.Namespace, seed: int) -> dict[str, float]:
    seed_everything(seed, workers=True, verbose=False)
    data = KnowledgeGraphDataModule(folder, test_folder=test_folder, batch_size=32)
    model = KGCompletion(data.num_relations, optimizer=partial(torch.optim.Adam, lr=5e-3))
    timer = EpochTimer()
    trainer = Trainer(
        max_epochs=args.kg_epochs,
        callbacks=[timer],
        enable_checkpointing=False,
        limit_val_batches=0,
        **_QUIET,
    )
    trainer.fit(model, data)
    result = trainer.test(model, data, verbose=False)[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    metrics = {k.split("/")[1]: v for k, v in result.items()}
    return {**metrics, "seconds_per_epoch": statistics.fmean(timer.seconds), "peak_rss_mb": peak_mb}


def bench_kg(args: argparse.Namespace, console: Console) -> str:
    root = Path(args.root) / "kg"
    root.mkdir(parents=True, exist_ok=True)
    store = root / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    kg = SHARED / "kg"
    datasets = {
        "UMLS": (str(kg / "umls"), None),
        "Kinships": (str(kg / "kinships"), None),
        "fb237_v1 (inductive)": (str(kg / "inductive" / "fb237_v1"), str(kg / "inductive" / "fb237_v1_ind")),
        "WN18RR_v1 (inductive)": (
            str(kg / "inductive" / "WN18RR_v1"),
            str(kg / "inductive" / "WN18RR_v1_ind"),
        ),
    }
    for name, (folder, test_folder) in datasets.items():
        for seed in range(args.kg_seeds):
            key = f"{name}/{seed}"
            if key not in results:
                results[key] = _kg_run(folder, test_folder, args, seed)
                store.write_text(json.dumps(results, indent=1))
                console.print(f"{key}: {results[key]}")
    published = {"fb237_v1 (inductive)": "0.834", "WN18RR_v1 (inductive)": "0.948"}
    header = [
        "Dataset",
        "MRR",
        "Hits@1",
        "Hits@3",
        "Hits@10",
        "Published Hits@10",
        "s / epoch",
        "Peak RSS (MB)",
    ]
    rows = []
    for name in datasets:
        runs = [results[f"{name}/{s}"] for s in range(args.kg_seeds) if f"{name}/{s}" in results]
        if not runs:
            continue
        mean = {k: statistics.fmean(r[k] for r in runs) for k in runs[0]}
        rows.append(
            [
                name,
                f"{mean['mrr']:.3f}",
                f"{mean['hits@1']:.3f}",
                f"{mean['hits@3']:.3f}",
                f"{mean['hits@10']:.3f}",
                published.get(name, "—"),
                f"{mean['seconds_per_epoch']:.0f}",
                f"{mean['peak_rss_mb']:.0f}",
            ]
        )
    console.print(console_table("NBFNet", header, rows))
    return (
        "## Graphs: NBFNet knowledge-graph completion\n\n"
        f"Command: `ffn-graphs bench-kg --kg-epochs {args.kg_epochs} --kg-seeds {args.kg_seeds}`. Machine: "
        f"{machine_description()}. Reference hyperparameters (6 layers × 32, DistMult, PNA, 32 negatives, "
        f"Adam 5e-3, batch 32 triples in both directions) but only {args.kg_epochs} epoch(s) and "
        f"{args.kg_seeds} seed(s): one epoch costs the time shown on this 2-core CPU. Transductive rows: "
        "filtered ranking over all entities, head and tail; inductive rows: Hits@10 (and MRR) against 50 "
        "sampled negatives on the unseen test graph (GraIL protocol). MRR and Hits are means over test "
        "queries in both directions.\n\n"
        f"{markdown_table(header, rows)}\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-graphs", description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["bench-virgo", "bench-kg"])
    parser.add_argument("--root", default="runs/graphs-bench")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--datasets", nargs="+", default=["Cora", "CiteSeer"], choices=["Cora", "CiteSeer"])
    parser.add_argument("--kg-epochs", type=int, default=1)
    parser.add_argument("--kg-seeds", type=int, default=1)
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    console = Console()
    body = bench_virgo(args, console) if args.which == "bench-virgo" else bench_kg(args, console)
    if args.output:
        update_markdown_section(args.output, f"graphs-{args.which}", body)
