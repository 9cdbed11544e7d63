"""``ffn-bench`` (``make bench``): the cross-domain FFN study.

For every registered app (`ffn_lightning.discover_apps`) and every chosen block, train the app's small
real-data config (``StudyApp.study_config``) through its own CLI, with the block's ``hidden_features``
chosen so that one FFN block has as close as possible the parameter count (``--match flops``: the
FLOPs) of the app's ``MLP`` block, then test it. Per run: the app's test metric, model parameters and
training wall time. Per (app, block), once: FLOPs per sample and steady-state evaluation throughput,
merged form too (`study_cost`). One table per domain and a cross-domain plot
(metric against throughput, one panel per domain) go to BENCHMARKS.md and ``<output>/study.png``; the
MLP run of each app carries a `SpectralMonitor`, whose metrics over training become
``<output>/spectral_<app>.png``.

Every (app, block) trains with ``--seeds`` seeds (initialization and batch order; the data stay the
same). Each table shows the metric's mean ± std over seeds and, per block, the paired difference to
``MLP`` (same seeds) with a 95 % percentile-bootstrap interval over seeds, starred where the interval
excludes zero; a summary on top lists, per domain, the blocks that beat ``MLP`` that way.

Finished runs are kept in ``--results`` (a `RunStore`, tracked in git, one record per
``<app>/<block>/<seed>``); an interrupted study resumes where it stopped and the tables regenerate
without retraining.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import ffn_blocks
from ffn_blocks import FeedForward, reparameterize
from ffn_blocks.testing import count_flops

from ..allocator import keep_freed_memory
from ..apps import StudyApp, discover_apps
from ..benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    markdown_table,
    mean_std,
    paired_bootstrap_interval,
    parameter_count,
    provenance,
    section_template,
    size_for_parameters,
    update_markdown_section,
)
from ..spectral_monitor import SpectralMonitor
from .study_cost import measure_costs

__all__ = ["DEFAULT_BLOCKS", "main"]

DEFAULT_BLOCKS = ("MLP", "SwiGLU", "LowRankMLP", "BlockDenseMLP", "RePaMLP", "KANLayer", "MoEMLP")
QUIET = (
    "--trainer.logger=false",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
)


def _block_value(name: str, hidden: int | None = None, init_args: dict[str, Any] | None = None) -> str:
    """The block argument's value: ``ffn_blocks.<name>`` at ``hidden`` width, with ``init_args``."""
    args = {**(init_args or {}), **({"hidden_features": hidden} if hidden is not None else {})}
    return json.dumps({"class_path": f"ffn_blocks.{name}", **({"init_args": args} if args else {})})


def _build(app: StudyApp, block: str, hidden: int | None, root: Path, extra: Sequence[str] = ()) -> Any:
    args = [*app.task_of(app.configs / app.study_config), "--config", str(app.configs / app.study_config)]
    args += [
        *app.fixed_arguments,
        app.block_argument,
        _block_value(block, hidden, app.block_init_args),
        *QUIET,
        *extra,
    ]
    args += [f"--trainer.default_root_dir={root / app.name}"]  # the resolved config.yaml lands there
    return app.cli(args, run=False)


def _reference_ffn(app: StudyApp, root: Path, match: str) -> tuple[int, int, int]:
    """``(in, out, target)`` of the first FFN block of the app's study model built with `MLP`: its
    parameters, or (``match="flops"``) its FLOPs on `_FLOP_TOKENS` positions."""
    model = _build(app, "MLP", None, root).model
    first = next(m for m in model.modules() if isinstance(m, FeedForward))
    return first.in_features, first.out_features, _target(first, match)


_FLOP_TOKENS = 16  # positions the FLOPs of one block are counted on (position-wise: any count matches)


def _target(block: torch.nn.Module, match: str) -> int:
    """What the study equalizes: the parameters (or FLOPs) of the block proper, without its input norm,
    which is the same for every block (`StudyApp.block_init_args`)."""
    norm = getattr(block, "norm", None) or torch.nn.Identity()
    if match == "params":
        return parameter_count(block) - parameter_count(norm)
    x = torch.zeros(1, _FLOP_TOKENS, block.in_features)
    return count_flops(block, x) - count_flops(norm, x)


def _matched_hidden(block: str, reference: tuple[int, int, int], match: str) -> int:
    """The hidden width of ``block`` whose parameters (or FLOPs) are closest to the reference MLP's."""
    cls, (in_features, out_features, target) = getattr(ffn_blocks, block), reference
    return size_for_parameters(
        lambda h: cls(in_features, out_features, hidden_features=h),
        target,
        measure=partial(_target, match=match),
    )


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _run(app: StudyApp, block: str, hidden: int, root: Path, spectral: bool, seed: int = 0) -> dict[str, Any]:
    extra = ("--trainer.enable_checkpointing=false", f"--seed_everything={seed}")
    cli = _build(app, block, hidden, root, extra)
    monitor = None
    if spectral:
        monitor = SpectralMonitor(every_n_steps=25, log_figures=False)
        cli.trainer.callbacks.append(monitor)
    torch.manual_seed(seed)
    _, train_s = _timed(lambda: cli.trainer.fit(cli.model, datamodule=cli.datamodule))
    results, test_s = _timed(lambda: cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False))
    row = {
        "metric": float(results[0][app.metric]),
        "params": parameter_count(cli.model),
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


def _summary_figure(
    apps: dict[str, StudyApp],
    results: dict[str, dict[str, list[dict[str, Any]]]],
    costs: dict[str, dict[str, dict[str, float]]],
    path: Path,
) -> None:
    """One panel per domain: each block's mean metric (± std over seeds) against its evaluation
    throughput; blocks are told apart by a legend (marker and colour), not by labels that overlap."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    blocks = list(dict.fromkeys(b for runs in results.values() for b in runs))
    markers = "osD^v<>ph*"
    styles = {b: (f"C{i % 10}", markers[i % len(markers)]) for i, b in enumerate(blocks)}
    figure = Figure(figsize=(3.6 * len(apps) + 1.6, 3.6))
    axes = figure.subplots(1, len(apps), squeeze=False)
    for axis, (name, app) in zip(axes[0], apps.items(), strict=True):
        for block, runs in results.get(name, {}).items():
            metric = torch.tensor([r["metric"] for r in _finite(runs)])  # a diverged run has no point
            if block not in costs.get(name, {}) or not len(metric):
                continue
            throughput = costs[name][block]["samples_per_s"]
            spread = float(metric.std()) if len(metric) > 1 else 0.0
            colour, marker = styles[block]
            axis.errorbar(
                throughput, float(metric.mean()), yerr=spread, fmt=marker, color=colour, capsize=3, ms=5
            )
        axis.set_title(name)
        axis.set_xscale("log")
        axis.set_xlabel("evaluation samples / s (log)")
        axis.set_ylabel(f"{app.metric} ({'higher' if app.higher_is_better else 'lower'} is better)")
        axis.grid(alpha=0.3)
    handles = [
        Line2D([], [], marker=marker, color=colour, linestyle="", label=block)
        for block, (colour, marker) in styles.items()
    ]
    figure.tight_layout(rect=(0, 0, 1 - 1.4 / figure.get_figwidth(), 1))
    figure.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    figure.savefig(path, dpi=120)


def _difference_to_mlp(
    app: StudyApp, runs: list[dict[str, Any]], mlp: list[dict[str, Any]]
) -> tuple[str, bool]:
    """``Δ [low, high]`` of the block's metric minus MLP's over shared seeds (the better direction
    positive) and whether the 95 % interval excludes zero."""
    by_seed = {r["seed"]: r["metric"] for r in _finite(mlp)}
    finite = _finite(runs)
    differences = [r["metric"] - by_seed[r["seed"]] for r in finite if r["seed"] in by_seed]
    if not app.higher_is_better:
        differences = [-d for d in differences]
    if not differences:
        return "—", False
    mean, low, high = paired_bootstrap_interval(differences)
    if len(differences) < 2:
        return f"{mean:+.4f} (1 seed)", False
    significant = low > 0 or high < 0
    diverged = len(finite) < len(runs)  # a block that diverged in any seed beats nothing
    return (
        f"{mean:+.4f} [{low:+.4f}, {high:+.4f}]{' *' if significant else ''}",
        significant and low > 0 and not diverged,
    )


def _finite(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that did not diverge (a finite metric)."""
    return [r for r in runs if math.isfinite(r["metric"])]


def _metric_cell(runs: list[dict[str, Any]]) -> str:
    """Mean ± std of the metric over the runs that did not diverge, and how many did."""
    finite = [r["metric"] for r in _finite(runs)]
    cell = mean_std(finite, 4) if finite else "—"
    return cell + (f" ({len(runs) - len(finite)} of {len(runs)} diverged)" if len(finite) < len(runs) else "")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", nargs="+", help="apps to study (default: every registered app)")
    parser.add_argument("--blocks", nargs="+", default=list(DEFAULT_BLOCKS), help="ffn_blocks names")
    parser.add_argument("--output", default="runs/study", help="run folders and figures")
    parser.add_argument(
        "--match", choices=["params", "flops"], default="params", help="what the blocks' widths equalize"
    )
    parser.add_argument(
        "--results", help="finished runs (default: study.json, or study_flops.json with --match flops)"
    )
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds of the throughput column")
    parser.add_argument(
        "--tables-only", action="store_true", help="render BENCHMARKS.md from the stores; train nothing"
    )
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    parser.add_argument("--figure", default="docs/study.png", help="copy of the summary plot to commit")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0…N-1 per app and block")
    return parser


def _train_missing(
    apps: dict[str, StudyApp], args: argparse.Namespace, store: RunStore, console: Console
) -> None:
    """Train every (app, block, seed) of the study that the store lacks, with a progress bar."""
    grid = [{"app": a, "block": b, "seed": s} for s in range(args.seeds) for a in apps for b in args.blocks]
    missing = store.missing(grid)
    references: dict[str, tuple[int, int, int]] = {}  # per app: building its model takes seconds
    hiddens: dict[tuple[str, str], int] = {}  # per (app, block): the same for every seed
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("study", total=len(missing))
        for point in missing:
            app, block, seed = apps[point["app"]], point["block"], point["seed"]
            progress.update(task, description=f"{point['app']} × {block}, seed {seed}")
            if (point["app"], block) not in hiddens:
                if point["app"] not in references:
                    references[point["app"]] = _reference_ffn(app, Path(args.output), args.match)
                hiddens[point["app"], block] = _matched_hidden(block, references[point["app"]], args.match)
            hidden = hiddens[point["app"], block]
            run = _run(
                app, block, hidden, Path(args.output), spectral=block == "MLP" and seed == 0, seed=seed
            )
            store.put(point | run)
            progress.advance(task)


def _cost_cells(cost: dict[str, float] | None, mlp: dict[str, float] | None) -> list[str]:
    """MFLOPs per sample, evaluation samples/s (with its ratio to MLP's) and the merged form's samples/s."""
    if not cost:
        return ["—", "—", ""]
    ratio = f" ({cost['samples_per_s'] / mlp['samples_per_s']:.2f}×)" if mlp else ""
    merged = cost.get("merged_samples_per_s")
    return [
        f"{cost['flops_per_sample'] / 1e6:.4g}",
        f"{cost['samples_per_s']:,.0f}{ratio}",
        "" if merged is None else f"{merged:,.0f}",
    ]


def _same_networks(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """A note for each block whose runs repeat an earlier block's exactly (every seed's metric, the
    parameter count): at this app's widths the two blocks are one network, so their rows are one
    result, not two (`BlockDenseMLP` falls back to one block, `LowRankMLP`'s map, when ``in_features``
    has no divisor 2 or 4)."""
    notes, seen = [], {}
    for block, block_runs in runs.items():
        signature = (block_runs[0]["params"], tuple(r["metric"] for r in block_runs)) if block_runs else None
        if signature in seen:
            notes.append(
                f"*{block}* is the same network as *{seen[signature]}* at this app's widths (identical "
                "runs, seed for seed): its structure does not fit the FFN's input width, so it "
                "reduces to the other block's; one result, not two."
            )
        elif signature is not None:
            seen[signature] = block
    return notes


def _domain_tables(
    apps: dict[str, StudyApp],
    results: dict[str, dict[str, list[dict[str, Any]]]],
    costs: dict[str, dict[str, dict[str, float]]],
    console: Console,
) -> tuple[list[list[Any]], list[str]]:
    """The summary rows (per domain, the blocks that beat MLP) and each domain's table, as markdown."""
    header = ["block", "hidden", "params", "seeds", "metric", "Δ vs MLP [95 % CI]", "train s"]
    header += ["MFLOPs / sample", "eval samples/s (vs MLP)", "merged samples/s"]
    sections, summary = [], []
    for name, app in apps.items():
        rows, better = [], []
        app_costs = costs.get(name, {})
        for block, runs in results[name].items():
            difference, beats = (
                ("", False) if block == "MLP" else _difference_to_mlp(app, runs, results[name].get("MLP", []))
            )
            cells = _cost_cells(app_costs.get(block), app_costs.get("MLP"))
            if beats:
                better.append(f"{block} ({difference.split(' [')[0]}, {cells[1]} samples/s)")
            train_s = f"{sum(r['train_s'] for r in runs) / len(runs):.1f}"
            metric = _metric_cell(runs)
            setting = [block, runs[0]["hidden"], f"{runs[0]['params']:,}", len(runs)]
            rows.append([*setting, metric, difference, train_s, *cells])
        summary.append([name, app.metric, ", ".join(better) or "none"])
        console.print(console_table(f"{name}: {app.metric}", header, rows))
        direction = "higher" if app.higher_is_better else "lower"
        title = f"### {name} (`{app.study_config}`, {app.metric}, {direction} is better)"
        notes = "".join(f"\n{note}\n" for note in _same_networks(results[name]))
        sections.append(f"{title}\n\n{markdown_table(header, rows)}\n{notes}")
    return summary, sections


def _missing_costs(
    apps: dict[str, StudyApp],
    results: dict[str, dict[str, list[dict[str, Any]]]],
    args: argparse.Namespace,
    store: RunStore,
) -> None:
    """Measure the cost columns of every app with a trained block whose cost is not stored: all its
    blocks together, so the throughput of each is interleaved with the others'."""
    for name, blocks in results.items():
        if not store.missing([{"app": name, "block": b} for b in blocks]):
            continue
        app, root = apps[name], Path(args.output)
        clis = {b: _build(app, b, runs[0]["hidden"], root) for b, runs in blocks.items()}
        for block, cost in measure_costs(clis, rounds=args.rounds).items():
            store.put({"app": app.name, "block": block, **cost})


def main(argv: Sequence[str] | None = None) -> None:
    keep_freed_memory()
    parser = _parser()
    args = parser.parse_args(argv)
    registered = discover_apps()
    unknown = set(args.apps or ()) - set(registered) | {b for b in args.blocks if b not in ffn_blocks.__all__}
    if unknown:
        parser.error(f"unknown app or block: {sorted(unknown)} (apps: {sorted(registered)})")
    apps = {name: registered[name] for name in (args.apps or registered)}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.match == "params" else f"_{args.match}"
    store = RunStore(args.results or RESULTS_DIR / f"study{suffix}.json", fields=("app", "block", "seed"))
    cost_store = RunStore(store.path.with_name(f"study{suffix}_cost.json"), fields=("app", "block"))
    console = Console()
    if not args.tables_only:
        _train_missing(apps, args, store, console)
    results = {
        name: {b: sorted(store.select(app=name, block=b), key=lambda r: int(r["seed"])) for b in args.blocks}
        for name in apps
    }
    results = {name: {b: runs for b, runs in blocks.items() if runs} for name, blocks in results.items()}
    if not args.tables_only:
        _missing_costs(apps, results, args, cost_store)
    costs = {name: {r["block"]: r for r in cost_store.select(app=name)} for name in apps}
    _summary_figure(apps, results, costs, out / f"study{suffix}.png")
    if args.figure:
        figure = Path(args.figure).with_stem(Path(args.figure).stem + suffix)
        figure.parent.mkdir(parents=True, exist_ok=True)
        _summary_figure(apps, results, costs, figure)
    for name, runs in results.items():
        first = runs.get("MLP", [{}])[0]
        if "spectral" in first:
            _spectral_figure(name, first["spectral"], out / f"spectral_{name}.png")
    summary, sections = _domain_tables(apps, results, costs, console)
    command = f"ffn-bench --seeds {args.seeds} --match {args.match} --blocks {' '.join(args.blocks)}" + (
        f" --apps {' '.join(args.apps)}" if args.apps else ""
    )
    shown = [run for blocks in results.values() for runs in blocks.values() for run in runs]
    machine, updated = provenance(shown + [cost for blocks in costs.values() for cost in blocks.values()])
    body = section_template(
        __file__,
        "study",
        command=command,
        machine=machine,
        match={"params": "parameters", "flops": "FLOPs"}[args.match],
        figure=f"study{suffix}.png",
        summary=markdown_table(["domain", "metric", "better than MLP (Δ, eval samples/s)"], summary),
        sections="\n".join(sections),
    )
    update_markdown_section(args.markdown, f"study{suffix.replace('_', '-')}", body, updated)
    console.print(f"wrote the study section of {args.markdown} and {out / 'study.png'}")


if __name__ == "__main__":
    main()
