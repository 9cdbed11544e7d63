"""Graph benchmarks written to BENCHMARKS.md.

``ffn-graphs bench-virgo``: test accuracy (mean ± std over seeds) of GCNs on Cora and CiteSeer at several
depths with Virgo, Xavier and Kaiming initialization; each run trains ``--epochs`` (200) epochs, or
stops after ``--patience`` epochs without a validation gain, and is tested at its best validation epoch.

``ffn-graphs bench-kg``: NBFNet on UMLS and Kinships (filtered MRR, Hits@1/3/10, head and tail) and on
GraIL's inductive splits (Hits@10 against 50 negatives), with time per epoch and peak memory, beside
pykeen's DistMult and RotatE on the transductive splits (`ffn_graphs.bench.kg_baselines`; needs the optional
``bench`` dependency group).
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import resource
import statistics
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import torch
from lightning.pytorch import seed_everything
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from rich.console import Console

from ffn_data import fetch
from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    EpochTimer,
    RunStore,
    console_table,
    markdown_table,
    mean_std,
    provenance,
    quiet_trainer,
    section_template,
    update_markdown_section,
)

from ..data import PlanetoidDataModule
from ..module import NodeClassifier

__all__ = ["main"]


class Training(NamedTuple):
    """How a GCN of the Virgo bench trains, besides its learning rate and weight decay."""

    epochs: int
    patience: int  # epochs without a validation gain before stopping; 0: every epoch trains
    dropout: float

    def __str__(self) -> str:
        epochs = (
            f"≤ {self.epochs} epochs, patience {self.patience}" if self.patience else f"{self.epochs} epochs"
        )
        return f"{epochs}, dropout {self.dropout:g}"


def _node_run(
    name: str,
    depth: int,
    init: str,
    seed: int,
    root: Path,
    training: Training,
    lr: float,
    weight_decay: float,
) -> dict[str, float]:
    """Train one GCN (checkpoints in ``root``); its best validation accuracy, the test accuracy at that
    epoch, and the epochs it trained."""
    seed_everything(seed, workers=True, verbose=False)
    data = PlanetoidDataModule(name)
    model = NodeClassifier(
        data.num_features,
        data.num_classes,
        hidden_features=64,
        depth=depth,
        init=init,
        dropout=training.dropout,
        optimizer=partial(torch.optim.Adam, lr=lr, weight_decay=weight_decay),
    )
    best = ModelCheckpoint(dirpath=root, monitor="val/acc", mode="max")
    callbacks = [best]
    if training.patience:  # a gain is a strictly higher accuracy, as in the Virgo reference code
        callbacks.append(EarlyStopping(monitor="val/acc", mode="max", patience=training.patience))
    trainer = quiet_trainer(max_epochs=training.epochs, callbacks=callbacks, accelerator="cpu")
    trainer.fit(model, data)
    test = trainer.test(model, data, ckpt_path="best", verbose=False)[0]["test/acc"]
    return {"val": float(best.best_model_score), "test": test, "trained_epochs": trainer.current_epoch}


#: what identifies a Virgo run in its store, in key order
VIRGO_FIELDS = ("dataset", "layers", "epochs", "patience", "dropout", "lr", "weight_decay", "init", "seed")


VIRGO_DATASETS = ("Cora", "CiteSeer")
VIRGO_INITS = ("virgo", "xavier", "kaiming")
RECIPE = (0.01, 5e-4)  # Kipf & Welling's Adam learning rate and weight decay
TUNED = "best on val"
ANY = "any training"  # the setting that pools every training of a dataset and depth
Setting = tuple[str, int, Training | str]  # dataset, layers, training (or ANY)
GridPoint = tuple[float, float] | tuple[Training, float, float]  # (training,) lr, weight decay
Recipe = GridPoint | str  # a grid point, or TUNED
# setting -> grid point -> initialization -> seed -> {"val": …, "test": …}
_VirgoRuns = dict[Setting, dict[GridPoint, dict[str, dict[int, dict[str, float]]]]]


def _training_order(training: Training | str) -> tuple:
    """Trainings by epochs, patience and dropout; ANY last."""
    return (True, ()) if training == ANY else (False, training)


def pooled_trainings(runs: _VirgoRuns) -> _VirgoRuns:
    """For every dataset and depth run under several trainings, an ANY setting whose grid points are
    ``(training, lr, weight decay)``: tuning on it chooses the training on validation too."""
    pooled: _VirgoRuns = {}
    for (name, depth, training), grid in runs.items():
        for point, cells in grid.items():
            pooled.setdefault((name, depth, ANY), {})[(training, *point)] = cells
    return {setting: grid for setting, grid in pooled.items() if len({p[0] for p in grid}) > 1}


def majority_accuracy(name: str) -> float:
    """Test accuracy (%) of always predicting the most frequent test class: what a GCN that learned
    nothing scores."""
    graph = PlanetoidDataModule(name).graph
    labels = graph.y[graph.test_mask]
    return 100 * float(labels.bincount().max()) / len(labels)


def tuned_on_validation(
    grid: dict[GridPoint, dict[int, dict[str, float]]],
) -> tuple[GridPoint, list[float]] | None:
    """The grid point with the best mean validation accuracy and its test accuracies (%).

    Every point is compared on the same seeds, those stored for all of them, so each initialization
    gets the same budget; ``None`` when the grid has one point or no seed is shared.
    """
    if len(grid) < 2:
        return None
    seeds = sorted(set.intersection(*(set(runs) for runs in grid.values())))
    if not seeds:
        return None
    best = max(grid, key=lambda point: statistics.fmean(grid[point][s]["val"] for s in seeds))
    return best, [100 * grid[best][s]["test"] for s in seeds]


def _virgo_accuracies(
    grid: dict[GridPoint, dict[str, dict[int, dict[str, float]]]], init: str, recipe: Recipe
) -> tuple[list[float], GridPoint | None]:
    """Test accuracies (%) of one initialization under one recipe (empty where none is stored), and
    the grid point the tuned recipe chose."""
    if recipe == TUNED:
        tuned = tuned_on_validation({point: cells[init] for point, cells in grid.items() if cells.get(init)})
        return (tuned[1], tuned[0]) if tuned else ([], None)
    return [100 * run["test"] for run in grid.get(recipe, {}).get(init, {}).values()], None


def _virgo_figure(runs: _VirgoRuns, majority: dict[str, float], path: Path) -> None:
    """Test accuracy against depth, one panel per dataset (rows) and training (columns), mean ± std per
    initialization: tuned on validation (solid) and Kipf & Welling's recipe (dashed) where a panel
    has a grid, else its one grid point (solid); the ANY panel, tuned over every training."""
    from matplotlib.figure import Figure

    names = sorted({n for n, _, _ in runs}, key=VIRGO_DATASETS.index)
    trainings = sorted({t for _, _, t in runs}, key=_training_order)
    figure = Figure(figsize=(4.5 * len(trainings), 3.6 * len(names)))
    axes = figure.subplots(len(names), len(trainings), squeeze=False, sharey="row")
    for (row, name), (column, training) in itertools.product(enumerate(names), enumerate(trainings)):
        axis = axes[row][column]
        panel = {d: grid for (n, d, t), grid in runs.items() if (n, t) == (name, training)}
        panel = dict(sorted(panel.items(), key=lambda item: item[0]))  # by depth
        if not panel:
            axis.set_axis_off()
            continue
        points = {point for grid in panel.values() for point in grid}
        if training == ANY:
            lines: list[tuple[Recipe, str]] = [(TUNED, "-")]
        elif len(points) > 1:
            lines = [(TUNED, "-"), (RECIPE, "--")]
        else:
            lines = [(points.pop(), "-")]
        for (color, init), (recipe, style) in itertools.product(
            zip(("C0", "C1", "C2"), VIRGO_INITS, strict=True), lines
        ):
            accuracies = [(d, _virgo_accuracies(grid, init, recipe)[0]) for d, grid in panel.items()]
            accuracies = [(d, a) for d, a in accuracies if a]
            if not accuracies:
                continue
            axis.errorbar(
                [d for d, _ in accuracies],
                [statistics.fmean(a) for _, a in accuracies],
                yerr=[statistics.stdev(a) if len(a) > 1 else 0.0 for _, a in accuracies],
                color=color,
                ls=style,
                marker="o",
                ms=4,
                capsize=3,
                label=f"{init}, {'tuned' if recipe == TUNED else 'lr {:g}, wd {:g}'.format(*recipe)}",
            )
        axis.axhline(majority[name], color="grey", ls=":", label="majority class")
        axis.set_title(f"{name}: {training}" + " (tuned on val)" * (training == ANY), fontsize=9)
        axis.set_xlabel("GCN layers")
        axis.set_ylabel("test accuracy (%)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def _point_label(point: GridPoint) -> str:
    """A grid point as the table shows it: ``lr, weight decay``, after its training where it has one."""
    *training, lr, weight_decay = point
    return "".join(f"{t}; " for t in training) + f"{lr:g}, {weight_decay:g}"


def _virgo_rows(runs: _VirgoRuns, majority: dict[str, float]) -> list[list[Any]]:
    """One row per setting and grid point, then the setting's row tuned on validation (an ANY setting
    has that row only)."""
    rows = []
    for setting in sorted(runs, key=lambda s: (VIRGO_DATASETS.index(s[0]), _training_order(s[2]), s[1])):
        grid = runs[setting]
        recipes: list[Recipe] = [] if setting[2] == ANY else sorted(grid, key=lambda p: (p != RECIPE, p))
        recipes += [TUNED] if len(grid) > 1 else []
        for recipe in recipes:
            cells, counts = [], []
            for init in VIRGO_INITS:
                accuracies, point = _virgo_accuracies(grid, init, recipe)
                choice = f" ({_point_label(point)})" if point else ""
                cells.append(mean_std(accuracies, digits=1) + choice if accuracies else "—")
                counts.append(len(accuracies))
            seeds = str(counts[0]) if len(set(counts)) == 1 else " / ".join(map(str, counts))
            label = recipe if recipe == TUNED else _point_label(recipe)
            name, depth, training = setting
            rows.append([name, str(training), depth, label, seeds, *cells, f"{majority[name]:.1f}"])
    return rows


def _train_virgo_missing(store: RunStore, args: argparse.Namespace, root: Path, console: Console) -> None:
    """Train every GCN of ``args``' grid that ``store`` lacks, filing each run as it finishes."""
    grid = [
        {
            "dataset": name,
            "layers": depth,
            **Training(args.epochs, args.patience, args.dropout)._asdict(),
            "lr": lr,
            "weight_decay": weight_decay,
            "init": init,
            "seed": seed,
        }
        for name, depth, lr, weight_decay, init, seed in itertools.product(
            args.datasets, args.depths, args.lrs, args.weight_decays, VIRGO_INITS, range(args.seeds)
        )
    ]
    for point in store.missing(grid):
        key = store.key(point)  # also the run's checkpoint folder
        training = Training(point["epochs"], point["patience"], point["dropout"])
        run = _node_run(
            point["dataset"],
            point["layers"],
            point["init"],
            point["seed"],
            root / key,
            training,
            point["lr"],
            point["weight_decay"],
        )
        store.put(point | run)
        console.print(f"{key}: val {run['val']:.3f}, test {run['test']:.3f}")


def _virgo_runs(store: RunStore) -> _VirgoRuns:
    """Every stored Virgo run: setting -> grid point -> initialization -> seed -> results."""
    runs: _VirgoRuns = {}
    for r in store.records():  # fields read from a key are strings
        training = Training(int(r["epochs"]), int(r["patience"]), float(r["dropout"]))
        point = (float(r["lr"]), float(r["weight_decay"]))
        cells = runs.setdefault((r["dataset"], int(r["layers"]), training), {}).setdefault(point, {})
        cells.setdefault(r["init"], {})[int(r["seed"])] = {k: r[k] for k in r if k not in VIRGO_FIELDS}
    return runs


def bench_virgo(args: argparse.Namespace, console: Console) -> tuple[str, str]:
    """GCNs with each initialization over a grid of learning rates and weight decays, per dataset,
    depth, training (epochs, early stopping, dropout) and seed.

    Every finished run (best validation accuracy, the test accuracy at that epoch, epochs trained) is
    kept in the `RunStore` ``--virgo-results``; the table shows every stored run, so more seeds or grid
    points for one setting (``--datasets CiteSeer --depths 2 --seeds 10``) add to its rows without
    retraining.
    """
    root = Path(args.root) / "virgo"
    root.mkdir(parents=True, exist_ok=True)
    store = RunStore(args.virgo_results, fields=VIRGO_FIELDS)
    _train_virgo_missing(store, args, root, console)
    runs = _virgo_runs(store)
    runs |= pooled_trainings(runs)
    majority = {name: majority_accuracy(name) for name in dict.fromkeys(n for n, _, _ in runs)}
    header = ["Dataset", "Training", "Layers", "lr, weight decay", "Seeds", "Virgo", "Xavier", "Kaiming"]
    header += ["Majority class"]
    rows = _virgo_rows(runs, majority)
    console.print(console_table("GCN test accuracy (%)", header, rows))
    plot = ""
    if args.virgo_plot:
        _virgo_figure(runs, majority, Path(args.virgo_plot))
        plot = f" Plot: `{args.virgo_plot}` (accuracy against depth, mean ± std)."
    machine, updated = provenance(store.records())
    body = section_template(
        __file__,
        "virgo",
        store=store.path,
        machine=machine,
        recipe=_point_label(RECIPE),
        tuned=TUNED,
        any=ANY,
        plot=plot,
        table=markdown_table(header, rows),
    )
    return body, updated


class KGSetting(NamedTuple):
    """One row group of the KG bench: its registered training graph, whether it is tested on an unseen
    graph (GraIL's inductive protocol; no baselines), and the ``ffn-graphs kg`` config NBFNet trains
    with (a name among the app's configs) with its extra arguments."""

    dataset: str
    inductive: bool
    config: str
    args: tuple[str, ...] = ()


#: table name -> setting; each inductive config holds the reference's settings for its dataset
KG_DATASETS = {
    "UMLS": KGSetting("UMLS", False, "kg", ("--data.dataset=UMLS",)),
    "Kinships": KGSetting("Kinships", False, "kg", ("--data.dataset=Kinships",)),
    "fb237_v1 (inductive)": KGSetting("fb237_v1", True, "experiments/kg_inductive_fb237_v1"),
    "WN18RR_v1 (inductive)": KGSetting("WN18RR_v1", True, "experiments/kg_inductive_WN18RR_v1"),
}
#: ``--kg-mlp-update``: the two-layer update of kg.yaml (and of every NBFNet row before 2026-12-07)
MLP_UPDATE = '{"class_path": "ffn_blocks.MLP", "init_args": {"hidden_features": 32, "act": "torch.nn.ReLU"}}'
KG_PUBLISHED = {"fb237_v1 (inductive)": "0.834", "WN18RR_v1 (inductive)": "0.948"}


def validation_interval(epochs: int) -> int:
    """Epochs between validations under ``--kg-best-epoch``: the reference (NBFNet-PyG ``run.py``)
    validates, and keeps a candidate checkpoint, every ``ceil(epochs / 10)`` epochs (every 2nd of 20)."""
    return math.ceil(epochs / 10)


def _kg_run(setting: KGSetting, args: argparse.Namespace, seed: int, checkpoint: Path) -> dict[str, Any]:
    """Train and test one NBFNet as ``ffn-graphs kg`` builds it from the setting's config: the model and
    data of the config, trained ``--kg-epochs`` epochs and tested with its final weights, or with
    ``--kg-best-epoch`` validated every `validation_interval` epochs and tested with the epoch of best
    validation MRR (the reference's protocol). The tested weights go to ``checkpoint`` (to re-test
    without training)."""
    from ..cli import cli

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    overrides = [
        f"--seed_everything={seed}",
        *setting.args,
        *["--model.dependent=true"] * args.kg_dependent,
        *["--model.train_directions=both"] * args.kg_both_directions,
        *[f"--model.update={MLP_UPDATE}"] * args.kg_mlp_update,
    ]
    built = cli(["kg", "--config", setting.config, *overrides], run=False)  # seeded, then built
    model, data = built.model, built.datamodule
    timer, best = EpochTimer(), args.kg_best_epoch
    # the best epoch's weights, kept beside the run's checkpoint until it is tested
    selector = ModelCheckpoint(
        dirpath=checkpoint.with_suffix(".epochs"), filename="best", monitor="val/mrr", mode="max"
    )
    trainer = quiet_trainer(
        max_epochs=args.kg_epochs,
        callbacks=[timer, *[selector] * best],
        limit_val_batches=1.0 if best else 0,
        check_val_every_n_epoch=validation_interval(args.kg_epochs),
        num_sanity_val_steps=0,
        accelerator=args.kg_accelerator,
    )
    trainer.fit(model, data)
    result = trainer.test(model, data, ckpt_path="best" if best else None, verbose=False)[0]
    trainer.save_checkpoint(checkpoint, weights_only=True)  # the tested weights
    metrics = {k.split("/")[1]: v for k, v in result.items()}
    if best:
        chosen = torch.load(selector.best_model_path, map_location="cpu", weights_only=True)
        metrics |= {"best_epoch": chosen["epoch"], "val_mrr": float(selector.best_model_score)}
    if model.device.type == "cuda":  # the accelerator's peak, not the host's
        device, peak_mb = torch.cuda.get_device_name(model.device), torch.cuda.max_memory_allocated() / 2**20
    else:
        device, peak_mb = "CPU", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        **metrics,
        "seconds_per_epoch": statistics.fmean(timer.seconds),
        "peak_mb": peak_mb,
        "device": device,
    }


def _kg_model(dataset: str, model: str, args: argparse.Namespace) -> str:
    """The model field of a run: NBFNet runs are told apart by their settings (the reference's per-dataset
    config on the inductive splits, and where a flag departs from it; relations free or query-dependent),
    epochs, which epoch was tested (the last, or the best on validation) and where they ran; the
    baselines (which stop early and run on the CPU) by their name."""
    if model != "NBFNet":
        return model
    where = "" if args.kg_accelerator == "cpu" else f" [{args.kg_accelerator}]"
    inductive = KG_DATASETS[dataset].inductive
    marks = ["reference settings"] * inductive + ["dependent relations"] * args.kg_dependent
    # kg.yaml's transductive rows always ask both ways and update through the MLP: the section says so
    marks += ["each triple both ways"] * (inductive and args.kg_both_directions)
    marks += ["MLP update"] * (inductive and args.kg_mlp_update)
    name = f"NBFNet ({', '.join(marks)})" if marks else "NBFNet"
    epochs = args.kg_epochs
    last = f"{epochs} epoch{'s' * (epochs > 1)}"
    tested = f"best validation epoch of {epochs}" if args.kg_best_epoch else last
    return f"{name}, {tested}{where}"


def _spread(values: list[float]) -> str:
    """The mean of close values; ``lowest–highest`` when they differ by more than 20 % (runs timed
    under different loads or settings), which a mean would hide."""
    low, high = min(values), max(values)
    return f"{statistics.fmean(values):.0f}" if high <= 1.2 * low else f"{low:.0f}–{high:.0f}"


def _kg_table(store: RunStore) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the KG table: every stored run, grouped by dataset and model over its seeds."""
    header = [
        "Dataset",
        "Model",
        "Seeds",
        "MRR",
        "Hits@1",
        "Hits@10",
        "Published Hits@10",
        "Device",
        "Time",
        "Peak memory (MB)",
    ]
    rows = []
    for name in KG_DATASETS:  # every cached run, grouped by model (NBFNet by epochs) over its seeds
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in store.select(dataset=name):
            groups.setdefault(record["model"], []).append(record)
        for model in sorted(groups, key=lambda m: (not m.startswith("NBFNet"), len(m), m)):
            runs = groups[model]
            if model.startswith("NBFNet"):
                time_cell = f"{_spread([r['seconds_per_epoch'] for r in runs])} s / epoch"
                memory = _spread([r["peak_mb"] for r in runs])
            else:
                epochs = statistics.fmean(r["epochs"] for r in runs)
                time_cell = f"{_spread([r['seconds'] for r in runs])} s ({epochs:.0f} epochs)"
                memory = "—"
            rows.append(
                [
                    name,
                    model.split(" [")[0] if model.startswith("NBFNet") else f"{model} (pykeen)",
                    str(len(runs)),
                    *(mean_std([r[k] for r in runs]) for k in ("mrr", "hits@1", "hits@10")),
                    KG_PUBLISHED.get(name, "—") if model.startswith("NBFNet") else "—",
                    runs[0].get("device", "CPU"),
                    time_cell,
                    memory,
                ]
            )
    return header, rows


def bench_kg(args: argparse.Namespace, console: Console) -> tuple[str, str]:
    """NBFNet on every dataset, and pykeen's DistMult and RotatE on the transductive ones, per seed.

    Every finished run is kept in the `RunStore` ``--kg-results``; the table shows every stored run.
    """
    from .kg_baselines import BASELINES, train_baseline

    root = Path(args.root) / "kg"
    root.mkdir(parents=True, exist_ok=True)
    store = RunStore(args.kg_results, fields=("dataset", "model", "seed"))
    models = ["NBFNet", *([] if args.kg_no_baselines else BASELINES)]
    grid = [
        {
            "dataset": name,
            "model": _kg_model(name, model, args),
        }
        | {"seed": seed}
        for name in args.kg_datasets
        for seed in range(args.kg_first_seed, args.kg_first_seed + args.kg_seeds)
        for model in models
        if model == "NBFNet" or not KG_DATASETS[name].inductive  # baselines: transductive splits only
    ]
    for point in store.missing(grid):
        setting, seed = KG_DATASETS[point["dataset"]], point["seed"]
        if point["model"].startswith("NBFNet"):
            checkpoint = root / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', store.key(point))}.ckpt"
            run = _kg_run(setting, args, seed, checkpoint)
        else:
            run = train_baseline(point["model"], fetch(setting.dataset), seed, root)
        store.put(point | run)
        console.print(f"{store.key(point)}: {run}")
    header, rows = _kg_table(store)
    console.print(console_table("Knowledge-graph completion", header, rows))
    machine, updated = provenance(store.records())
    table = markdown_table(header, rows)
    body = section_template(__file__, "kg", store=store.path, machine=machine, table=table)
    return body, updated


def _add_kg_options(parser: argparse.ArgumentParser) -> None:
    """The ``bench-kg`` options (``--kg-*``)."""
    parser.add_argument("--kg-epochs", type=int, default=1)
    parser.add_argument("--kg-seeds", type=int, default=1)
    parser.add_argument(
        "--kg-first-seed",
        type=int,
        default=0,
        help="seeds F…F+S-1 (runs of one setting in parallel processes, one seed range each)",
    )
    parser.add_argument("--kg-datasets", nargs="+", default=list(KG_DATASETS), choices=list(KG_DATASETS))
    parser.add_argument(
        "--kg-results", default=str(RESULTS_DIR / "graphs-kg.json"), help="store of finished runs (tracked)"
    )
    parser.add_argument("--kg-no-baselines", action="store_true", help="NBFNet only (no pykeen needed)")
    parser.add_argument(
        "--kg-dependent", action="store_true", help="NBFNet with query-dependent relations (own rows)"
    )
    parser.add_argument(
        "--kg-best-epoch",
        action="store_true",
        help="validate NBFNet every ceil(epochs / 10) epochs and test its best epoch by validation MRR, "
        "as the reference does (own rows); default: test the last epoch",
    )
    parser.add_argument(
        "--kg-both-directions",
        action="store_true",
        help="train the inductive NBFNet on every triple both ways (a deviation; the reference's configs "
        "ask each triple one way per epoch; own rows)",
    )
    parser.add_argument(
        "--kg-mlp-update",
        action="store_true",
        help="update the inductive NBFNet's layers through a two-layer MLP (13d -> d -> d, ReLU) where the "
        "reference has one linear map (a deviation; own rows)",
    )
    parser.add_argument(
        "--kg-accelerator",
        default="cpu",
        choices=["cpu", "gpu"],
        help="where NBFNet trains (the baselines: CPU)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-graphs", description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["bench-virgo", "bench-kg"])
    parser.add_argument("--root", default="runs/graphs-bench", help="checkpoints and baseline work files")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200, help="GCN epochs (at most, with --patience)")
    parser.add_argument(
        "--patience",
        type=int,
        default=0,
        help="stop a GCN after P epochs without a validation gain (0: never)",
    )
    parser.add_argument("--dropout", type=float, default=0.5, help="GCN dropout before every layer")
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--datasets", nargs="+", default=list(VIRGO_DATASETS), choices=VIRGO_DATASETS)
    parser.add_argument(
        "--lrs", type=float, nargs="+", default=[0.01], help="Adam learning rates of the GCN grid"
    )
    parser.add_argument(
        "--weight-decays", type=float, nargs="+", default=[5e-4], help="weight decays of the GCN grid"
    )
    parser.add_argument(
        "--virgo-results",
        default=str(RESULTS_DIR / "graphs-virgo.json"),
        help="store of finished runs (tracked)",
    )
    parser.add_argument(
        "--virgo-plot",
        default="docs/graphs-virgo.png",
        help="accuracy-against-depth figure ('' for none)",
    )
    _add_kg_options(parser)
    parser.add_argument("--output", default="BENCHMARKS.md")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.patience < 0:
        parser.error(f"--patience={args.patience} must be >= 0 (0: never stop early)")
    if not 0.0 <= args.dropout < 1.0:
        parser.error(f"--dropout={args.dropout} must be in [0, 1)")
    console = Console()
    body, updated = bench_virgo(args, console) if args.which == "bench-virgo" else bench_kg(args, console)
    if args.output:
        update_markdown_section(args.output, f"graphs-{args.which}", body, updated)


def virgo(argv: Sequence[str]) -> None:
    """``ffn-graphs bench-virgo ...``."""
    main(["bench-virgo", *argv])


def kg(argv: Sequence[str]) -> None:
    """``ffn-graphs bench-kg ...``."""
    main(["bench-kg", *argv])
