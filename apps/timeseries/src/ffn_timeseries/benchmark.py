"""``ffn-timeseries bench``: ETTh1 results under the standard protocol beside the published numbers.

Each run trains through the real CLI with early stopping on validation MSE, reloads the best
checkpoint and tests it (multivariate, normalized scale, test split). Each finished run is stored as
``runs/timeseries-bench/<run>.json``, so an interrupted study resumes where it stopped, and runs can be
split across processes with ``--only NAME``. The table, with time per epoch, goes to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from rich.console import Console

from ffn_lightning.benchmarking import (
    console_table,
    machine_description,
    markdown_table,
    update_markdown_section,
)

from .cli import TimeSeriesCLI
from .data import WideCSVDataModule
from .module import Forecaster

__all__ = ["RUNS", "Run", "main"]

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@dataclass(frozen=True)
class Run:
    """One benchmark entry: a config plus overrides, and the published MSE it stands beside."""

    name: str
    config: str
    overrides: tuple[str, ...] = ()
    published: float | None = None
    source: str = ""
    protocol: str = "standard (z-score, 12/4/4 months)"
    notes: dict[str, Any] = field(default_factory=dict)


_FRETS_512 = ("--data.lookback=512", "--trainer.max_epochs=2")  # 11 min per epoch on 2 CPU cores
# In execution order: the acceptance targets first.
RUNS = [
    Run("TSMixer L=512 H=96", "default.yaml", (), 0.361, "TSMixer paper, Table 3"),
    Run("PatchTSMixer L=512 H=96", "experiments/patch_tsmixer_etth1.yaml", (), 0.37, "PatchTSMixer paper"),
    Run("TSMixer L=512 H=192", "default.yaml", ("--data.horizon=192",), 0.404, "TSMixer paper, Table 3"),
    Run("FreTS L=96 H=96", "experiments/frets_etth1.yaml"),
    Run(
        "FreTS L=96 H=96, FreTS protocol",
        "experiments/frets_own_protocol.yaml",
        protocol="FreTS's own (min-max, 70/20/10)",
    ),
    Run("PatchTSMixer L=512 H=192", "experiments/patch_tsmixer_etth1.yaml", ("--data.horizon=192",)),
    Run("FreTS L=96 H=192", "experiments/frets_etth1.yaml", ("--data.horizon=192",)),
    Run("FreTS L=512 H=96", "experiments/frets_etth1.yaml", _FRETS_512),
    Run("FreTS L=512 H=192", "experiments/frets_etth1.yaml", (*_FRETS_512, "--data.horizon=192")),
]


class _EpochTimer(Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def run_one(run: Run, root: Path) -> dict[str, Any]:
    """Train, test the best checkpoint, return the metrics."""
    timer = _EpochTimer()
    args = [
        "--config",
        str(CONFIGS / run.config),
        *run.overrides,
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={root}",
    ]
    cli = TimeSeriesCLI(
        Forecaster,
        WideCSVDataModule,
        app_name="timeseries-bench",
        run=False,
        args=args,
        trainer_defaults={"callbacks": [timer]},
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    result = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path="best", verbose=False)[0]
    return {
        "mse": result["test/mse"],
        "mae": result["test/mae"],
        "epochs": len(timer.seconds),
        "seconds_per_epoch": sum(timer.seconds) / max(1, len(timer.seconds)),
        "params": sum(p.numel() for p in cli.model.network.parameters()),
    }


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-timeseries bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="runs/timeseries-bench", help="where results and logs go")
    parser.add_argument("--only", action="append", help="run only these names (repeatable)")
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    console = Console()
    for run in RUNS:
        store = root / f"{_slug(run.name)}.json"
        if store.exists() or (args.only and run.name not in args.only):
            continue
        console.print(f"[bold]{run.name}[/bold] ({run.protocol})")
        store.write_text(json.dumps(run_one(run, root / _slug(run.name)), indent=1))
    results = {
        r.name: json.loads((root / f"{_slug(r.name)}.json").read_text())
        for r in RUNS
        if (root / f"{_slug(r.name)}.json").exists()
    }

    header = ["Run", "Protocol", "Test MSE", "Test MAE", "Published MSE", "Within 5 %", "Epochs", "s / epoch"]
    rows = []
    for run in RUNS:
        if run.name not in results:
            continue
        r = results[run.name]
        within = "" if run.published is None else ("yes" if r["mse"] <= 1.05 * run.published else "no")
        published = f"{run.published:.3f} ({run.source})" if run.published else "—"
        cells = [f"{r['mse']:.3f}", f"{r['mae']:.3f}", published, within, r["epochs"]]
        rows.append([run.name, run.protocol, *cells, f"{r['seconds_per_epoch']:.0f}"])
    console.print(console_table("ETTh1, multivariate, test split", header, rows))
    body = (
        "## Time series: ETTh1 (multivariate, test split, normalized scale)\n\n"
        f"Command: `ffn-timeseries bench` (one JSON per run under `{root}`). "
        f"Machine: {machine_description()}. "
        "Early stopping on validation MSE (patience in each config), best checkpoint tested. FreTS's "
        "paper tables use min-max scaling and a 70/20/10 split, so only the row marked with its protocol "
        "is comparable with them; the others follow the standard z-score protocol.\n\n"
        f"{markdown_table(header, rows)}\n"
    )
    if args.output and rows:
        update_markdown_section(args.output, "timeseries-etth1", body)
