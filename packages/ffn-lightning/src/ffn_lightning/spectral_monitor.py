"""`SpectralMonitor`: NerVE eigenspectrum metrics of every FFN block's hidden activations during training.

Works in any app without code changes: it finds every `ffn_blocks.FeedForward` in the LightningModule
that declares ``spectral_taps`` and, every ``every_n_steps`` optimizer steps, hooks the hidden layer for
``num_batches`` training batches (forward hooks, removed right after). Activations stream into one
``d × d`` covariance per block and tap (pre- and post-activation), so memory is bounded by the hidden
widths, not by the batch. It then logs, per block and tap, the spectral entropy, participation ratio,
early enrichment and the Jensen-Shannon divergence to the previous measurement, plus an eigenspectrum
figure to TensorBoard (and as PNG files when ``output_dir`` is set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_warn
from matplotlib.figure import Figure

from ffn_blocks import FeedForward
from ffn_blocks.spectral import StreamingCovariance, eigenvalues, js_divergence, spectral_metrics

__all__ = ["SpectralMonitor", "SpectralRecord"]

TAPS = ("pre", "post")


@dataclass
class SpectralRecord:
    """One measurement of one block's tap: where, when, the spectrum and its metrics."""

    step: int
    block: str
    tap: str
    eigenvalues: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)


class SpectralMonitor(Callback):
    """Log NerVE eigenspectrum metrics of FFN hidden activations at a fixed step interval.

    Args:
        every_n_steps: measure at global steps 0, n, 2n, …
        num_batches: consecutive training batches pooled into one measurement.
        max_rows: at most this many activation rows per batch and tap (evenly strided), bounding the
            cost of the covariance update for very long sequences.
        log_figures: log an eigenspectrum figure per measurement to TensorBoard loggers.
        output_dir: also save each figure there as ``spectrum_step<N>.png``.

    After training, ``history`` holds every `SpectralRecord` (the study command plots it).
    """

    def __init__(
        self,
        every_n_steps: int = 50,
        num_batches: int = 1,
        max_rows: int = 4096,
        log_figures: bool = True,
        output_dir: str | None = None,
    ) -> None:
        for name, value in (
            ("every_n_steps", every_n_steps),
            ("num_batches", num_batches),
            ("max_rows", max_rows),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SpectralMonitor: {name}={value!r} must be a positive integer")
        self.every_n_steps = every_n_steps
        self.num_batches = num_batches
        self.max_rows = max_rows
        self.log_figures = log_figures
        self.output_dir = output_dir
        self.history: list[SpectralRecord] = []
        self._handles: list[Any] = []
        self._accumulators: dict[tuple[str, str], StreamingCovariance] = {}
        self._batches_seen = 0
        self._capture_step = 0
        self._previous: dict[tuple[str, str], torch.Tensor] = {}
        self._warned = False

    # -------------------------------------------------------------------------------------- capture
    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if not self._handles and trainer.global_step % self.every_n_steps == 0:
            self._capture_step = trainer.global_step  # the step counter moves on before batch end
            self._attach(pl_module)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self._handles:
            return
        self._batches_seen += 1
        if self._batches_seen >= self.num_batches:
            self._detach()
            self._report(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._detach()

    def _attach(self, pl_module: LightningModule) -> None:
        blocks = [
            (n, m) for n, m in pl_module.named_modules() if isinstance(m, FeedForward) and m.spectral_taps
        ]
        if not blocks:
            if not self._warned:
                rank_zero_warn("SpectralMonitor: no FeedForward block with spectral_taps in the model")
                self._warned = True
            return
        for name, block in blocks:
            pre_name, post_name = block.spectral_taps
            pre, post = block.get_submodule(pre_name), block.get_submodule(post_name)
            self._handles.append(pre.register_forward_hook(self._output_hook(name, "pre")))
            self._handles.append(post.register_forward_pre_hook(self._input_hook(name, "post")))
        self._batches_seen = 0

    def _detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _output_hook(self, block: str, tap: str):
        def hook(module: torch.nn.Module, args: Any, output: torch.Tensor) -> None:
            self._collect(block, tap, output)

        return hook

    def _input_hook(self, block: str, tap: str):
        def hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            self._collect(block, tap, args[0])

        return hook

    def _collect(self, block: str, tap: str, activations: torch.Tensor) -> None:
        rows = activations.detach().reshape(-1, activations.shape[-1])
        if rows.shape[0] > self.max_rows:
            stride = -(-rows.shape[0] // self.max_rows)
            rows = rows[::stride]
        key = (block, tap)
        if key not in self._accumulators:
            self._accumulators[key] = StreamingCovariance(rows.shape[-1], device=rows.device)
        self._accumulators[key].update(rows)

    # -------------------------------------------------------------------------------------- report
    def _report(self, trainer: Trainer, pl_module: LightningModule) -> None:
        step = self._capture_step
        records = []
        for (block, tap), accumulator in sorted(self._accumulators.items()):
            if accumulator.count < 2:
                continue
            values = eigenvalues(accumulator.covariance()).cpu()
            if values.sum() <= 0:
                continue
            metrics = spectral_metrics(values)
            previous = self._previous.get((block, tap))
            if previous is not None and previous.numel() == values.numel():
                metrics["js_divergence"] = js_divergence(previous, values)
            self._previous[(block, tap)] = values
            records.append(SpectralRecord(step, block, tap, values, metrics))
        self._accumulators.clear()
        self.history.extend(records)
        if records and trainer.is_global_zero:
            # Straight to the loggers: self.log from a callback would repeat the value at every later step.
            flat = {f"spectral/{r.block}/{r.tap}/{k}": v for r in records for k, v in r.metrics.items()}
            for logger in trainer.loggers:
                logger.log_metrics(flat, step=step)
        if records and self.log_figures and trainer.is_global_zero:
            figure = eigenspectrum_figure(records, title=f"FFN eigenspectra, step {step}")
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_figure("spectral/eigenspectrum", figure, global_step=step)
            if self.output_dir is not None:
                os.makedirs(self.output_dir, exist_ok=True)
                figure.savefig(Path(self.output_dir) / f"spectrum_step{step}.png", dpi=100)


def eigenspectrum_figure(records: list[SpectralRecord], title: str = "FFN eigenspectra") -> Figure:
    """Normalized eigenvalues by rank (log-log), one panel per tap, one line per block (darker = deeper)."""
    figure = Figure(figsize=(5 * len(TAPS), 3.6))
    axes = figure.subplots(1, len(TAPS), squeeze=False)
    for axis, tap in zip(axes[0], TAPS, strict=True):
        chosen = [r for r in records if r.tap == tap]
        for i, record in enumerate(chosen):
            p = record.eigenvalues / record.eigenvalues.sum()
            shade = matplotlib.colormaps["viridis"](i / max(1, len(chosen) - 1))
            ranks = torch.arange(1, p.numel() + 1)
            axis.loglog(
                ranks,
                p.clamp_min(1e-12),
                color=shade,
                lw=1.2,
                label=f"{record.block} (PR {record.metrics['participation_ratio']:.1f})",
            )
        axis.set_title(f"{tap}-activation")
        axis.set_xlabel("eigenvalue rank")
        axis.set_ylabel("share of variance")
        axis.grid(True, which="both", alpha=0.3)
        if chosen and len(chosen) <= 8:
            axis.legend(fontsize=6)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
