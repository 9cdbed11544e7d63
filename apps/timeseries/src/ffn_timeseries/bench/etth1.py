"""``ffn-timeseries bench``: ETTh1 results under the standard protocol beside the published numbers.

Each run trains through the real CLI with early stopping on validation MSE, reloads the best
checkpoint and tests it (multivariate, normalized scale, test split). Each finished run is stored in
``--results`` (a `RunStore`), so an interrupted study resumes where it stopped (an interrupted run
continues from its ``last.ckpt`` under ``--root``, exactly), and runs can be split across processes with
``--only NAME``; ``--max-epochs`` caps every run (recorded beside its result). The table, with time per
epoch, goes to BENCHMARKS.md.

``--reference`` runs the side-by-side instead: our PatchTSMixer and Hugging Face's
``PatchTSMixerForPrediction`` (optional ``bench`` group) with the same config, split, lookback, horizon
and epochs, plus the ratio of their training-step times measured in interleaved rounds.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    EpochTimer,
    RunStore,
    console_table,
    interleaved_latency,
    markdown_table,
    mean_std,
    paired_bootstrap_interval,
    parameter_count,
    provenance,
    section_template,
    update_markdown_section,
)

from ..cli import CONFIGS, TimeSeriesCLI
from ..data import WideCSVDataModule
from ..module import Forecaster

__all__ = ["RUNS", "Run", "main"]


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
    Run("TSMixer L=512 H=96", "experiments/tsmixer_etth1_h96.yaml", (), 0.361, "TSMixer paper, Table 3"),
    Run("TSMixer L=512 H=192", "default.yaml", ("--data.horizon=192",), 0.404, "TSMixer paper, Table 3"),
    Run("TSMixer L=512 H=336", "experiments/tsmixer_etth1_h336.yaml", (), 0.420, "TSMixer paper, Table 3"),
    Run("TSMixer L=512 H=720", "experiments/tsmixer_etth1_h720.yaml", (), 0.463, "TSMixer paper, Table 3"),
    Run("TSMixer L=512 H=96, the H=192 setting", "default.yaml", (), 0.361, "TSMixer paper, Table 3"),
    Run("PatchTSMixer L=512 H=96", "experiments/patch_tsmixer_etth1.yaml", (), 0.37, "PatchTSMixer paper"),
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
_HF = (
    '--model.network={"class_path": "ffn_timeseries.models.reference.HFPatchTSMixer", "init_args": '
    '{"patch_length": 8, "patch_stride": 8, "d_model": 16, "num_layers": 8, "expansion_factor": 2, '
    '"dropout": 0.2, "head_dropout": 0.2}}',
)
#: The side-by-side against an existing implementation: same config, split, lookback, horizon, epochs.
REFERENCE = [
    Run(
        "PatchTSMixer (ours) L=512 H=96", "experiments/patch_tsmixer_etth1.yaml", ("--trainer.max_epochs=3",)
    ),
    Run(
        "PatchTSMixerForPrediction (transformers) L=512 H=96",
        "experiments/patch_tsmixer_etth1.yaml",
        ("--trainer.max_epochs=3", *_HF),
    ),
]


def _last_checkpoint(root: Path) -> Path | None:
    found = sorted(root.glob("**/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def run_one(run: Run, root: Path, max_epochs: int | None = None, accelerator: str = "cpu") -> dict[str, Any]:
    """Train (continuing from the run's ``last.ckpt`` if one exists), test the best checkpoint."""
    timer = EpochTimer()
    args = [
        "--config",
        str(CONFIGS / run.config),
        *run.overrides,
        *([f"--trainer.max_epochs={max_epochs}"] if max_epochs else []),
        "--trainer.enable_progress_bar=false",
        f"--trainer.accelerator={accelerator}",
        f"--trainer.default_root_dir={root}",
    ]
    cli = TimeSeriesCLI(
        Forecaster,
        WideCSVDataModule,
        app_name=root.name,
        run=False,
        args=args,
        trainer_defaults={"callbacks": [timer]},  # logs and checkpoints under default_root_dir
    )
    resume = _last_checkpoint(root)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=resume)
    result = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path="best", verbose=False)[0]
    return {
        "mse": result["test/mse"],
        "mae": result["test/mae"],
        "epochs": cli.trainer.current_epoch,
        "max_epochs": cli.trainer.max_epochs,
        "seconds_per_epoch": timer.mean or None,  # None: resumed at its cap, no epoch timed here
        "params": parameter_count(cli.model.network),
    }


def _seconds(result: dict[str, Any]) -> str:
    """The seconds-per-epoch cell ("—" where no epoch was timed)."""
    seconds = result.get("seconds_per_epoch")
    return "—" if seconds is None else f"{seconds:.0f}"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def _step_times() -> dict[str, Any]:
    """Our PatchTSMixer's and transformers' training-step seconds on one ETTh1-sized batch (median of
    interleaved rounds): the record ``reference/step`` of the store."""
    from functools import partial

    from ffn_blocks import MLP

    from ..models import PatchTSMixer
    from ..models.reference import HFPatchTSMixer

    torch.manual_seed(0)
    ours = PatchTSMixer(512, 96, 7, ffn=partial(MLP, dropout=0.2), expansion_factor=2)
    theirs = HFPatchTSMixer(512, 96, 7)
    x = torch.randn(64, 512, 7)
    rounds = 9
    median = interleaved_latency(
        {
            name: (lambda m=m: m(x).square().mean().backward())
            for name, m in (("ours", ours), ("theirs", theirs))
        },
        rounds=rounds,
        warmup=1,
    )
    return {"batch": list(x.shape), "rounds": rounds, "seconds": median}


def _run_all(
    runs: Sequence[Run],
    store: RunStore,
    prefix: str,
    root: Path,
    only: Sequence[str] | None,
    max_epochs: int | None,
    accelerator: str = "cpu",
) -> dict:
    """Train every run not yet in ``store`` (key ``prefix + name``); returns the stored ones by name."""
    console = Console()
    for run in runs:
        if prefix + run.name in store or (only and run.name not in only):
            continue
        console.print(f"[bold]{run.name}[/bold] ({run.protocol})")
        result = run_one(run, root / _slug(run.name), max_epochs, accelerator)
        if accelerator != "cpu":  # the device, not the host's CPU
            result["machine"] = torch.cuda.get_device_name()
        store.put(prefix + run.name, result)
    stored = store.load()
    return {r.name: stored[prefix + r.name] for r in runs if prefix + r.name in stored}


def _reference(store: RunStore, root: Path, output: str, seeds: int, retime: bool) -> None:
    """Train the side-by-side's missing seeds (``--seed_everything``, key ``reference/<name>/<seed>``),
    time the step if not stored (or ``retime``), and write the section from every stored seed."""
    for seed in range(seeds):
        seeded = [replace(run, overrides=(*run.overrides, f"--seed_everything={seed}")) for run in REFERENCE]
        _run_all(seeded, store, f"reference/{seed}/", root / f"seed{seed}", None, None)
    stored = store.load()
    results = {
        run.name: [
            r for key, r in stored.items() if key.startswith("reference/") and key.endswith(f"/{run.name}")
        ]
        for run in REFERENCE
    }
    if retime or "reference/step" not in store:
        store.put("reference/step", _step_times())
    step = store["reference/step"]
    ratio = step["seconds"]["ours"] / step["seconds"]["theirs"]
    header = ["Implementation", "Params", "Seeds", "Test MSE", "Test MAE", "Epochs", "s / epoch"]
    rows = [
        [
            name,
            f"{runs[0]['params']:,}",
            len(runs),
            mean_std([r["mse"] for r in runs]),
            mean_std([r["mae"] for r in runs]),
            runs[0]["epochs"],
            f"{statistics.fmean(r['seconds_per_epoch'] for r in runs):.0f}",
        ]
        for name, runs in results.items()
        if runs
    ]
    ours, theirs = (results[run.name] for run in REFERENCE)
    paired = [a["mse"] - b["mse"] for a, b in zip(ours, theirs, strict=False)]
    mean, low, high = paired_bootstrap_interval(paired)
    difference = f"{mean:+.4f}" + (f", 95 % interval [{low:+.4f}, {high:+.4f}]" if len(paired) > 1 else "")
    Console().print(console_table("PatchTSMixer side by side, ETTh1", header, rows))
    Console().print(f"training-step time, ours / transformers (interleaved): {ratio:.2f}")
    machine, updated = provenance([*ours, *theirs, step])
    body = section_template(
        __file__,
        "reference",
        machine=machine,
        table=markdown_table(header, rows),
        difference=difference,
        pairs=len(paired),
        batch=" × ".join(map(str, step["batch"])),
        ratio=f"{ratio:.2f}",
    )
    if output and rows:
        update_markdown_section(output, "timeseries-reference", body, updated)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-timeseries bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="runs/timeseries-bench", help="checkpoints and logs")
    parser.add_argument("--results", default=str(RESULTS_DIR / "timeseries.json"), help="finished runs")
    parser.add_argument("--only", action="append", help="run only these names (repeatable)")
    parser.add_argument("--max-epochs", type=int, help="cap every run's epochs (recorded with the result)")
    parser.add_argument("--reference", action="store_true", help="the side-by-side with transformers")
    parser.add_argument(
        "--seeds", type=int, default=1, help="--reference: train seeds 0…N-1 (table: all stored)"
    )
    parser.add_argument("--retime", action="store_true", help="--reference: time the step again")
    parser.add_argument(
        "--accelerator", default="cpu", help="gpu: runs kept apart (prefix gpu/, own section)"
    )
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    store = RunStore(args.results)
    if args.reference:
        _reference(store, root / "reference", args.output, args.seeds, args.retime)
        return
    console = Console()
    gpu = args.accelerator != "cpu"
    prefix, root = ("gpu/", root / "gpu") if gpu else ("", root)
    results = _run_all(RUNS, store, prefix, root, args.only, args.max_epochs, args.accelerator)

    header = ["Run", "Protocol", "Test MSE", "Test MAE", "Published MSE", "Within 5 %", "Epochs", "s / epoch"]
    rows = []
    for run in RUNS:
        if run.name not in results:
            continue
        r = results[run.name]
        within = "" if run.published is None else ("yes" if r["mse"] <= 1.05 * run.published else "no")
        published = f"{run.published:.3f} ({run.source})" if run.published else "—"
        epochs = f"{r['epochs']} (cap {r['max_epochs']})" if "max_epochs" in r else r["epochs"]
        cells = [f"{r['mse']:.3f}", f"{r['mae']:.3f}", published, within, epochs]
        rows.append([run.name, run.protocol, *cells, _seconds(r)])
    console.print(console_table("ETTh1, multivariate, test split", header, rows))
    migrated = "".join(
        f" *{name}*: {results[name]['migrated']}."
        for name in (r.name for r in RUNS)
        if name in results and "migrated" in results[name]
    )
    machine, updated = provenance(results.values())
    body = section_template(
        __file__,
        "etth1",
        on_gpu=" on GPU" if gpu else "",
        gpu_flag=" --accelerator gpu" if gpu else "",
        store=store.path,
        gpu_keys=", keys gpu/…" if gpu else "",
        machine=machine,
        migrated=migrated,
        table=markdown_table(header, rows),
    )
    if args.output and rows:
        section = "timeseries-etth1-gpu" if gpu else "timeseries-etth1"
        update_markdown_section(args.output, section, body, updated)
