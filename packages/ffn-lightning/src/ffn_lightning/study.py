"""``ffn-bench`` (``make bench``): the cross-domain FFN study.

For every registered app (`ffn_lightning.discover_apps`) and every chosen block, train the app's small
real-data config (``StudyApp.study_config``) through its own CLI, with the block's ``hidden_features``
chosen so that one FFN block has as close as possible the parameter count of the app's ``MLP`` block,
then test it. Per run: the app's test metric, model parameters, training wall time, test-set inference
wall time and, for blocks that reparameterize (RePaMLP), the inference time after merging. One table
per domain and a cross-domain plot (metric against inference time, one panel per domain) go to
BENCHMARKS.md and ``<output>/study.png``; the MLP run of each app carries a `SpectralMonitor`, whose
metrics over training become ``<output>/spectral_<app>.png``.

Finished runs are kept in ``--results`` (a `RunStore`, tracked in git); an interrupted study resumes
where it stopped and the tables regenerate without retraining.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import ffn_blocks
from ffn_blocks import FeedForward, reparameterize

from .allocator import keep_freed_memory
from .apps import StudyApp, discover_apps
from .benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    machine_description,
    markdown_table,
    size_for_parameters,
    update_markdown_section,
)
from .spectral_monitor import SpectralMonitor

__all__ = ["DEFAULT_BLOCKS", "main"]

DEFAULT_BLOCKS = ("MLP", "SwiGLU", "LowRankMLP", "BlockDenseMLP", "RePaMLP", "KANLayer", "MoEMLP")
QUIET = (
    "--trainer.logger=false",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
)


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _block_value(name: str, hidden: int | None = None) -> str:
    value: dict[str, Any] = {"class_path": f"ffn_blocks.{name}"}
    if hidden is not None:
        value["init_args"] = {"hidden_features": hidden}
    return json.dumps(value)


def _build(app: StudyApp, block: str, hidden: int | None, root: Path, extra: Sequence[str] = ()) -> Any:
    args = [*app.task_of(app.configs / app.study_config), "--config", str(app.configs / app.study_config)]
    args += [*app.fixed_arguments, app.block_argument, _block_value(block, hidden), *QUIET, *extra]
    args += [f"--trainer.default_root_dir={root / app.name}"]  # the resolved config.yaml lands there
    return app.cli(args, run=False)


def _reference_ffn(app: StudyApp, root: Path) -> tuple[int, int, int]:
    """``(in, out, params)`` of the first FFN block of the app's study model built with `MLP`."""
    model = _build(app, "MLP", None, root).model
    first = next(m for m in model.modules() if isinstance(m, FeedForward))
    return first.in_features, first.out_features, _params(first)


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _run(app: StudyApp, block: str, hidden: int, root: Path, spectral: bool) -> dict[str, Any]:
    cli = _build(app, block, hidden, root, ("--trainer.enable_checkpointing=false",))
    monitor = None
    if spectral:
        monitor = SpectralMonitor(every_n_steps=25, log_figures=False)
        cli.trainer.callbacks.append(monitor)
    torch.manual_seed(0)
    _, train_s = _timed(lambda: cli.trainer.fit(cli.model, datamodule=cli.datamodule))
    results, test_s = _timed(lambda: cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False))
    row = {
        "metric": float(results[0][app.metric]),
        "params": _params(cli.model),
        "hidden": hidden,
        "train_s": train_s,
        "test_s": test_s,
    }
    if any(hasattr(m, "reparameterize") for m in cli.model.modules() if isinstance(m, FeedForward)):
        merged = reparameterize(cli.model)
        merged_results, merged_s = _timed(
            lambda: cli.trainer.test(merged, datamodule=cli.datamodule, verbose=False)
        )
        row |= {"merged_test_s": merged_s, "merged_metric": float(merged_results[0][app.metric])}
    if monitor is not None:
        row["spectral"] = [
            {"step": r.step, "block": r.block, "tap": r.tap, **r.metrics} for r in monitor.history
        ]
    return row


def _spectral_figure(app: str, records: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.figure import Figure

    keys = ("entropy", "participation_ratio")
    figure = Figure(figsize=(10, 3.4))
    axes = figure.subplots(1, len(keys), squeeze=False)
    post = [r for r in records if r["tap"] == "post"]
    for axis, key in zip(axes[0], keys, strict=True):
        for block in dict.fromkeys(r["block"] for r in post):
            points = [(r["step"], r[key]) for r in post if r["block"] == block and key in r]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", ms=3, label=block)
        axis.set_xlabel("training step")
        axis.set_title({"entropy": "spectral entropy"}.get(key, key.replace("_", " ")))
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    figure.suptitle(f"{app}: NerVE metrics of FFN post-activations over training (MLP run)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _summary_figure(apps: dict[str, StudyApp], results: dict[str, dict[str, Any]], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * len(apps), 3.6))
    axes = figure.subplots(1, len(apps), squeeze=False)
    for axis, (name, app) in zip(axes[0], apps.items(), strict=True):
        for block, row in results.get(name, {}).items():
            axis.scatter(row["test_s"], row["metric"], s=18)
            axis.annotate(block, (row["test_s"], row["metric"]), fontsize=7)
            if "merged_test_s" in row:
                axis.scatter(row["merged_test_s"], row["merged_metric"], s=18, marker="x")
                axis.annotate(f"{block} (merged)", (row["merged_test_s"], row["merged_metric"]), fontsize=7)
        axis.set_title(name)
        axis.set_xlabel("test-set inference time (s)")
        axis.set_ylabel(f"{app.metric} ({'higher' if app.higher_is_better else 'lower'} is better)")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> None:
    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="ffn-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", nargs="+", help="apps to study (default: every registered app)")
    parser.add_argument("--blocks", nargs="+", default=list(DEFAULT_BLOCKS), help="ffn_blocks names")
    parser.add_argument("--output", default="runs/study", help="run folders and figures")
    parser.add_argument("--results", default=str(RESULTS_DIR / "study.json"), help="finished runs")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    parser.add_argument("--figure", default="docs/study.png", help="copy of the summary plot to commit")
    args = parser.parse_args(argv)
    registered = discover_apps()
    unknown = set(args.apps or ()) - set(registered) | {b for b in args.blocks if b not in ffn_blocks.__all__}
    if unknown:
        parser.error(f"unknown app or block: {sorted(unknown)} (apps: {sorted(registered)})")
    apps = {name: registered[name] for name in (args.apps or registered)}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore(args.results)
    console = Console()
    jobs = [(name, block) for name in apps for block in args.blocks]
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("study", total=len(jobs))
        for name, block in jobs:
            app = apps[name]
            progress.update(task, description=f"{name} × {block}")
            if f"{name}/{block}" not in store:
                in_features, out_features, target = _reference_ffn(app, out)
                cls = getattr(ffn_blocks, block)
                hidden = size_for_parameters(
                    lambda h, c=cls, i=in_features, o=out_features: c(i, o, hidden_features=h), target
                )
                store.put(f"{name}/{block}", _run(app, block, hidden, out, spectral=block == "MLP"))
            progress.advance(task)

    stored = store.load()
    results = {
        name: {b: stored[f"{name}/{b}"] for b in args.blocks if f"{name}/{b}" in stored} for name in apps
    }
    _summary_figure(apps, results, out / "study.png")
    if args.figure:
        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        _summary_figure(apps, results, Path(args.figure))
    for name, runs in results.items():
        if "spectral" in runs.get("MLP", {}):
            _spectral_figure(name, runs["MLP"]["spectral"], out / f"spectral_{name}.png")
    header = ["block", "hidden", "params", "metric", "train s", "test s", "merged test s"]
    sections = []
    for name, app in apps.items():
        rows = [
            [
                block,
                row["hidden"],
                f"{row['params']:,}",
                f"{row['metric']:.4f}",
                f"{row['train_s']:.1f}",
                f"{row['test_s']:.2f}",
                f"{row['merged_test_s']:.2f}" if "merged_test_s" in row else "",
            ]
            for block, row in results[name].items()
        ]
        console.print(console_table(f"{name}: {app.metric}", header, rows))
        direction = "higher" if app.higher_is_better else "lower"
        sections += [
            f"### {name} (`{app.study_config}`, {app.metric}, {direction} is better)",
            "",
            markdown_table(header, rows),
            "",
        ]
    command = f"ffn-bench --blocks {' '.join(args.blocks)}" + (
        f" --apps {' '.join(args.apps)}" if args.apps else ""
    )
    body = "\n".join(
        [
            "## Cross-domain study: every block in every app at matched FFN parameters",
            "",
            f"`{command}` — {machine_description()}.",
            "",
            "Each block's `hidden_features` is set so one FFN block has the parameter count of the app's "
            "MLP block (column *hidden*); train/test times are wall-clock seconds of the whole fit and test "
            "loops on this shared machine (compare within a table). *merged*: after "
            "`ffn_blocks.reparameterize`. Plot: `docs/study.png` (metric vs inference time per domain); "
            "NerVE metrics over training of each app's MLP run: `runs/study/spectral_<app>.png`. Where "
            "the app's FFN widths are odd or tiny (Cora's 1433 inputs, ETTh1's 7 channels), the "
            "structured blocks fall back to dense factors, so LowRankMLP and BlockDenseMLP coincide "
            "there; in speech the match is on the first FFN, so blocks whose parameters scale "
            "differently on the other FFN shapes end with more parameters (column *params*).",
            "",
            *sections,
        ]
    )
    update_markdown_section(args.markdown, "study", body)
    console.print(f"wrote the study section of {args.markdown} and {out / 'study.png'}")


if __name__ == "__main__":
    main()
