"""Overhead of `SpectralMonitor` on a training step, at its default interval, measured in one run.

A stack of pre-norm residual FFN blocks (ViT-S width) is trained with and without the monitor through
Lightning's Trainer; the runs alternate, and the median time per step of each arm gives the overhead
ratio. Every run is kept in ``--results``; BENCHMARKS.md's section ``spectral-monitor`` is rendered from
it (``--from-store``: without measuring). Run with ``ffn-bench-spectral``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ffn_blocks import MLP

from ..allocator import keep_freed_memory
from ..benchmarking import (
    markdown_table,
    measured_section,
    measured_template,
    measurement_arguments,
    quiet_trainer,
)
from ..spectral_monitor import SpectralMonitor

__all__ = ["main"]


class _ResidualFFNStack(LightningModule):
    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
        self.blocks = nn.ModuleList(MLP(width, width) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for norm, block in zip(self.norms, self.blocks, strict=True):
            x = x + block(norm(x))
        return x

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


class _StepTimer(Callback):
    """Wall time of every training step from ``skip`` on (warm-up excluded), keyed by step."""

    def __init__(self, skip: int = 5) -> None:
        self.skip, self.times, self._start, self._step = skip, {}, 0.0, 0

    def on_train_batch_start(self, trainer: Trainer, *args: object) -> None:
        self._step = trainer.global_step
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: object) -> None:
        if self._step >= self.skip:
            self.times[self._step] = time.perf_counter() - self._start


def _step_times(
    monitor: bool, *, width: int, depth: int, tokens: int, steps: int, interval: int
) -> dict[int, float]:
    """Train once; wall time of each step after warm-up, keyed by global step."""
    torch.manual_seed(0)
    x = torch.randn(steps * tokens, width)
    data = DataLoader(TensorDataset(x, torch.tanh(x)), batch_size=tokens)
    timer = _StepTimer()
    callbacks = [timer] + ([SpectralMonitor(every_n_steps=interval, log_figures=False)] if monitor else [])
    trainer = quiet_trainer(max_steps=steps, callbacks=callbacks)
    trainer.fit(_ResidualFFNStack(width, depth), data)
    return timer.times


SETTING = ("width", "depth", "tokens", "steps", "repeats")


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every run's mean step seconds per arm; the capture steps' extra seconds and the plain steps'
    median of the monitored runs; the monitor's interval."""
    interval = SpectralMonitor().every_n_steps
    means: dict[str, list[float]] = {"without": [], "with": []}
    capture_extra, plain = [], []
    sizes = {"width": args.width, "depth": args.depth, "tokens": args.tokens, "steps": args.steps}
    for monitor in (False, True):  # untimed: the process's first runs are slower (heap growth, threads)
        _step_times(monitor, interval=interval, **sizes | {"steps": interval + 5})
    for _ in range(args.repeats):
        for monitor in (False, True):
            times = _step_times(monitor, interval=interval, **sizes)
            # the mean (not the median) charges the monitor's rare heavy steps to the per-step cost
            means["with" if monitor else "without"].append(statistics.fmean(times.values()))
            if monitor:
                normal = statistics.median(t for s, t in times.items() if s % interval)
                capture_extra += [t - normal for s, t in times.items() if s % interval == 0]
                plain.append(normal)
    return {
        "interval": interval,
        "mean_step_s": means,
        "capture_extra_s": capture_extra,
        "plain_step_s": plain,
    }


def section(run: dict[str, Any]) -> str:
    """The ``spectral-monitor`` section of one stored run."""
    base, with_monitor = (statistics.median(run["mean_step_s"][arm]) for arm in ("without", "with"))
    extra, interval = statistics.fmean(run["capture_extra_s"]), run["interval"]
    # Direct estimate: the extra time of a capture step, spread over the interval, over a plain step.
    direct = extra / (interval * statistics.median(run["plain_step_s"]))
    rows = [
        ["without SpectralMonitor", f"{base * 1e3:.1f}", "1.000"],
        [
            f"with SpectralMonitor (every {interval} steps)",
            f"{with_monitor * 1e3:.1f}",
            f"{with_monitor / base:.3f}",
        ],
    ]
    return measured_template(
        __file__,
        "spectral",
        "ffn-bench-spectral",
        SETTING,
        run,
        hidden=4 * run["width"],
        table=markdown_table(["Run", "Mean step (ms)", "× without"], rows),
        extra_ms=f"{extra * 1e3:.0f}",
        interval=interval,
        direct=f"{100 * direct:.2f}",
        ab=f"{100 * (with_monitor / base - 1):+.1f}",
    )


def main(argv: Sequence[str] | None = None) -> None:
    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="ffn-bench-spectral", description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=1024, help="rows per batch")
    parser.add_argument("--steps", type=int, default=105)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per arm")
    measurement_arguments(parser, "spectral-monitor")
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    measured_section(args, SETTING, lambda: _measure(args), section, "spectral-monitor")


if __name__ == "__main__":
    main()
