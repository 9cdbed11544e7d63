"""``ffn-bench-step``: each app's CPU training step, where it goes, and what the CPU work changed.

For every registered app (`discover_apps`) its main config (``default.yaml``) is built through the
app's CLI and one training batch is drawn from its DataModule. One training step (the module's
``training_step``, backward, an Adam step) is then timed in interleaved rounds
(`interleaved_latency`) for three builds of the same model, same seed:

- ``before``: the step before the CPU work (`before_cpu_work_`): every `ffn_blocks.Dropout` replaced
  by PyTorch's, and per-input caches (a module's ``cache_inputs`` switch) off;
- ``ours``: the model as the app builds it (`ffn_blocks.Dropout`'s 16-bit CPU mask);
- ``compiled``: ``--model.compile true`` (``torch.compile`` of the network; its first call, the
  compilation, is an untimed warm-up round).

A profile of ``ours`` names the operators that take most of its step. ``--curves`` also trains one
app's main config with each dropout over seeds and plots the training loss, to show that the change
leaves the learning curves where they were. Runs are kept in ``--results``; the section
``cpu-step`` of BENCHMARKS.md is rewritten from them.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback
from lightning.pytorch.utilities import move_data_to_device
from rich.console import Console
from torch import nn

from ffn_blocks import Dropout

from ..apps import StudyApp, discover_apps
from ..benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    first_batch,
    interleaved_latency,
    machine_description,
    markdown_table,
    provenance,
    section_template,
    update_markdown_section,
)
from .study import QUIET

__all__ = ["before_cpu_work_", "main", "torch_dropout_"]


def torch_dropout_(module: nn.Module) -> nn.Module:
    """Replace every `ffn_blocks.Dropout` in ``module`` by ``nn.Dropout`` of the same ``p`` (in place)."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Dropout):
                setattr(parent, name, nn.Dropout(child.p, child.inplace))
    return module


def before_cpu_work_(module: nn.Module) -> nn.Module:
    """``module`` as it ran before the CPU step work (in place): PyTorch's dropout (`torch_dropout_`)
    and every module's ``cache_inputs`` switch off (graphs' `DeepGNN` keeps its input features'
    nonzero index between steps; off, it finds it every step, as it used to)."""
    for child in torch_dropout_(module).modules():
        if isinstance(getattr(child, "cache_inputs", None), bool):
            child.cache_inputs = False
    return module


def _build(app: StudyApp, root: Path, *extra: str) -> Any:
    args = [*QUIET, "--trainer.callbacks=[]", "--trainer.enable_checkpointing=false"]
    args += [f"--trainer.default_root_dir={root}", *extra]
    return app.instantiate("default.yaml", extra=args)


def _stepper(model: Any, batch: Any, steps: int) -> Any:
    """``steps`` training steps of ``model`` on ``batch`` (Adam, lr 1e-4) as a zero-argument callable
    (on CUDA it waits for the device, so wall time is the steps' time)."""
    model.train()
    cuda = next(model.parameters()).device.type == "cuda"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run() -> None:
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            out = model.training_step(batch, 0)
            (out["loss"] if isinstance(out, dict) else out).backward()
            optimizer.step()
        if cuda:
            torch.cuda.synchronize()

    return run


def _top_operators(run: Any, count: int = 4) -> list[tuple[str, float]]:
    """The operators with the most self CPU time in one call of ``run``, with their share of it."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        run()
    events = [e for e in profiler.key_averages() if not e.key.startswith(("##", "Optimizer", "autograd"))]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:count]
    return [(e.key.removeprefix("aten::"), e.self_cpu_time_total / total) for e in ranked]


def _measure(app: StudyApp, rounds: int, compile_: bool, device: torch.device) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as root:
        cli = _build(app, Path(root))
        batch = move_data_to_device(first_batch(cli.datamodule), device)
        models = {"ours": cli.model}
        if device.type == "cpu":  # elsewhere `Dropout` is PyTorch's
            models["before"] = before_cpu_work_(_build(app, Path(root)).model)
        if compile_:
            models["compiled"] = _build(app, Path(root), "--model.compile=true").model
        models = {name: model.to(device) for name, model in models.items()}
        single = interleaved_latency({"ours": _stepper(cli.model, batch, 1)}, rounds=3)["ours"]
        steps = max(1, math.ceil(0.3 / max(single, 1e-6)))  # calls of at least ~0.3 s
        cases = {name: _stepper(model, batch, steps) for name, model in models.items()}
        seconds = interleaved_latency(cases, rounds=rounds, warmup=1)
        return {
            "app": app.name,
            "step_s": {name: value / steps for name, value in seconds.items()},
            "top_ops": _top_operators(_stepper(cli.model, batch, steps)),
            "steps_per_call": steps,
            "machine": machine_description() if device.type == "cpu" else torch.cuda.get_device_name(device),
        }


class _LossCurve(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss))


def _curve(app: StudyApp, dropout: str, seed: int, epochs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as root:
        extra = (f"--seed_everything={seed}", f"--trainer.max_epochs={epochs}")
        cli = _build(app, Path(root), *extra)
        if dropout == "nn.Dropout":
            torch_dropout_(cli.model)
        curve = _LossCurve()
        cli.trainer.callbacks.append(curve)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        validation = cli.trainer.validate(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    key = app.metric.replace("test/", "val/")
    return {
        "app": app.name,
        "dropout": dropout,
        "seed": seed,
        "epochs": epochs,
        "losses": curve.losses,
        "val_key": key,
        "val": float(validation[key]),
    }


def _curve_figure(records: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.2))
    axis = figure.subplots()
    for dropout, colour in zip(("nn.Dropout", "ours"), ("0.45", "tab:orange"), strict=True):
        runs = [torch.tensor(r["losses"]) for r in records if r["dropout"] == dropout]
        if not runs:
            continue
        length = min(len(r) for r in runs)
        stack = torch.stack([r[:length] for r in runs])
        window = max(1, length // 50)  # a running mean, so the band is not the per-batch noise
        smooth = torch.nn.functional.avg_pool1d(stack[:, None], window, 1)[:, 0]
        steps = torch.arange(smooth.shape[1]) + window
        mean, spread = smooth.mean(0), smooth.std(0) if len(runs) > 1 else torch.zeros(smooth.shape[1])
        axis.plot(steps, mean, color=colour, lw=1.2, label=f"{dropout} ({len(runs)} seeds)")
        axis.fill_between(steps, mean - spread, mean + spread, color=colour, alpha=0.25, lw=0)
    axis.set_xlabel("training step")
    axis.set_ylabel(f"training loss (running mean of {window})")
    axis.set_title(f"{records[0]['app']}: default config, same seeds, either dropout")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def _ratio(new: float, old: float) -> str:
    """``new`` against ``old`` (seconds): "1.80× faster" or "2.31× slower"."""
    return f"{old / new:.2f}× faster" if new <= old else f"{new / old:.2f}× slower"


def _step_table(records: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    header = ["app (default.yaml)", "before ms", "ours ms", "ours vs before", "compiled ms"]
    header += ["compiled vs ours", "where ours goes (self time)"]
    rows = []
    for r in sorted(records, key=lambda r: r["app"]):
        ms = {name: r["step_s"][name] * 1e3 for name in r["step_s"]}
        before, compiled = ms.get("before"), ms.get("compiled")
        rows.append(
            [
                r["app"],
                "—" if before is None else f"{before:.1f}",
                f"{ms['ours']:.1f}",
                "—" if before is None else _ratio(ms["ours"], before),
                "—" if compiled is None else f"{compiled:.1f}",
                "—" if compiled is None else _ratio(compiled, ms["ours"]),
                ", ".join(f"{op} {share:.0%}" for op, share in r["top_ops"]),
            ]
        )
    return header, rows


def _curve_table(records: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    header = ["app", "dropout", "seeds", "epochs", "last-10 % train loss", "validation"]
    rows = []
    for app in sorted({r["app"] for r in records}):
        for dropout in ("nn.Dropout", "ours"):
            runs = [r for r in records if r["app"] == app and r["dropout"] == dropout]
            if not runs:
                continue
            tails = [statistics.fmean(r["losses"][-max(1, len(r["losses"]) // 10) :]) for r in runs]
            vals = [r["val"] for r in runs]
            rows.append(
                [
                    app,
                    dropout,
                    len(runs),
                    runs[0]["epochs"],
                    _spread(tails),
                    f"{runs[0]['val_key']} {_spread(vals)}",
                ]
            )
    return header, rows


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-bench-step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", nargs="*", default=(), help="apps to time (default: every app)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (section gpu-step, no curves)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile build")
    parser.add_argument("--skip-steps", action="store_true", help="only the curves (or only the tables)")
    parser.add_argument("--curves", default=None, help="app whose learning curves to train, e.g. timeseries")
    parser.add_argument("--curve-seeds", type=int, default=3)
    parser.add_argument("--curve-epochs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"))
    return parser


def _write_section(args: argparse.Namespace, steps: RunStore, curves: RunStore, console: Console) -> None:
    device = torch.device(args.device).type
    step_records, curve_records = steps.select(device=device), curves.records()
    step_md = curve_md = "(not measured yet)"
    if step_records:
        header, rows = _step_table(step_records)
        console.print(console_table(f"Training step ({device})", header, rows))
        step_md = markdown_table(header, rows)
    machines, updated = provenance([*step_records, *(curve_records if device == "cpu" else [])])
    if device != "cpu":
        body = section_template(__file__, "step_gpu", machine=machines, steps=step_md)
        update_markdown_section(args.markdown, "gpu-step", body, updated)
        return
    if curve_records:
        header, rows = _curve_table(curve_records)
        console.print(console_table("Learning curves", header, rows))
        curve_md = markdown_table(header, rows)
        for app in sorted({r["app"] for r in curve_records}):
            records = [r for r in curve_records if r["app"] == app]
            _curve_figure(records, args.results / f"step_curves_{app}.png")
    body = section_template(__file__, "step", machine=machines, steps=step_md, curves=curve_md)
    update_markdown_section(args.markdown, "cpu-step", body, updated)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    console = Console()
    apps = discover_apps(*args.apps)
    steps = RunStore(args.results / "step.json", fields=("device", "app"))
    device = torch.device(args.device)
    curves = RunStore(args.results / "step_curves.json", fields=("app", "dropout", "seed"))
    warnings.filterwarnings("ignore", message=".*self.log.*")  # training_step without a Trainer
    if not args.skip_steps:
        for app in apps.values():
            console.print(f"[bold]{app.name}[/]: timing the training step on {device}")
            steps.put({"device": device.type} | _measure(app, args.rounds, not args.no_compile, device))
    if args.curves:
        app = discover_apps(args.curves)[args.curves]
        grid = [
            {"app": app.name, "dropout": d, "seed": s}
            for s in range(args.curve_seeds)
            for d in ("nn.Dropout", "ours")
        ]
        for point in curves.missing(grid):
            console.print(f"[bold]{app.name}[/]: training with {point['dropout']}, seed {point['seed']}")
            curves.put(_curve(app, point["dropout"], point["seed"], args.curve_epochs))
    _write_section(args, steps, curves, console)
