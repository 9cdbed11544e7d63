"""`SpeechSeparation`: permutation-invariant SI-SNR training, SI-SNRi / SDRi metrics, audio examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.functional.audio import (
    permutation_invariant_training,
    scale_invariant_signal_noise_ratio,
    signal_distortion_ratio,
)

from ffn_blocks import auxiliary_loss
from ffn_lightning import register_safe_globals

from .chunking import separate_long
from .models import MossFormer2Separator

__all__ = ["NetworkFactory", "SpeechSeparation", "pit_si_snr"]

#: ``num_speakers -> network``: a separator taking ``(B, L)`` and returning ``(B, S, L)``.
NetworkFactory: TypeAlias = Callable[[int], nn.Module]


def pit_si_snr(estimates: torch.Tensor, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best-permutation SI-SNR per mixture ``(B,)`` and the permuted estimates ``(B, S, L)``.

    SI-SNR is torchmetrics' (zero-mean SI-SDR); the permutation maximizes the mean over speakers.
    """
    best, permutation = permutation_invariant_training(
        estimates, references, scale_invariant_signal_noise_ratio, mode="speaker-wise", eval_func="max"
    )
    permuted = torch.gather(estimates, 1, permutation[..., None].expand_as(estimates))
    return best, permuted


class SpeechSeparation(LightningModule):
    """Monaural speech separation with negative PIT SI-SNR.

    Logs ``stage/si_snri`` and ``stage/sdri`` (improvement over the unprocessed mixture, dB) and, at the
    end of validation, a few separated examples as audio and spectrograms to TensorBoard. The test also
    scores each mixture as ``ffn-speech separate`` does, in overlapping chunks (`separate_long`), as
    ``test/chunked_si_snri`` and ``test/chunked_sdri``: the number for files longer than the training
    segments, where a model meets positions it never saw whole.

    Args:
        network: separator factory, called with ``num_speakers``.
        num_speakers: sources per mixture (linked from the data).
        sample_rate: rate of the data (linked), used for logged audio.
        optimizer: optimizer factory.
        examples: validation examples logged as audio.
        chunk_seconds: chunk length of the chunked test scores (None: no chunked scores).
        overlap_seconds: overlap of consecutive chunks.
        compile: compile the separator with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        network: NetworkFactory = MossFormer2Separator,
        num_speakers: int = 2,
        sample_rate: int = 8000,
        optimizer: OptimizerCallable = torch.optim.Adam,
        examples: int = 2,
        chunk_seconds: float | None = 1.0,
        overlap_seconds: float = 0.25,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.network = network(num_speakers)
        if compile:
            self.network.compile()
        self.optimizer_factory = optimizer
        self.means = nn.ModuleDict(
            {f"{s}_{m}": MeanMetric() for s in ("val", "test", "test_chunked") for m in ("si_snri", "sdri")}
        )
        self._examples: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return self.network(mixture)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        mixture, sources = batch
        best, _ = pit_si_snr(self(mixture), sources)
        loss = -best.mean() + auxiliary_loss(self.network)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def _evaluate(self, batch: Any, stage: str) -> torch.Tensor:
        mixture, sources = batch
        best, permuted = self._score(self(mixture), mixture, sources, stage, f"{stage}/")
        self.log(f"{stage}/loss", -best.mean())
        return permuted

    def _score(
        self, estimates: torch.Tensor, mixture: torch.Tensor, sources: torch.Tensor, key: str, prefix: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log SI-SNRi and SDRi of ``estimates`` as ``<prefix>si_snri`` (running means ``<key>_*``);
        returns the best PIT SI-SNR and the permuted estimates."""
        best, permuted = pit_si_snr(estimates, sources)
        mix = mixture[:, None].expand_as(sources)
        si_snri = best - scale_invariant_signal_noise_ratio(mix, sources).mean(-1)
        sdri = (signal_distortion_ratio(permuted, sources) - signal_distortion_ratio(mix, sources)).mean(-1)
        for name, value in (("si_snri", si_snri), ("sdri", sdri)):
            metric = self.means[f"{key}_{name}"]
            metric.update(value)
            self.log(f"{prefix}{name}", metric, prog_bar=name == "si_snri")
        return best, permuted

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        permuted = self._evaluate(batch, "val")
        if batch_idx == 0:
            count = self.hparams.examples
            self._examples = (batch[0][:count].detach().cpu(), permuted[:count].detach().cpu())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "test")
        if self.hparams.chunk_seconds is None:
            return
        mixture, sources = batch
        rate = self.hparams.sample_rate
        chunk, overlap = round(self.hparams.chunk_seconds * rate), round(self.hparams.overlap_seconds * rate)
        chunked = torch.stack([separate_long(self, m, chunk, min(overlap, chunk - 1)) for m in mixture])
        self._score(chunked, mixture, sources, "test_chunked", "test/chunked_")

    def on_validation_epoch_end(self) -> None:
        if self._examples is None or self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        mixtures, estimates = self._examples
        rate = self.hparams.sample_rate
        for logger in self.trainer.loggers:
            if not isinstance(logger, TensorBoardLogger):
                continue
            for i, (mix, est) in enumerate(zip(mixtures, estimates, strict=True)):
                peak = max(mix.abs().max().item(), est.abs().max().item(), 1e-6)
                logger.experiment.add_audio(f"val/example{i}/mixture", mix / peak, self.global_step, rate)
                for s, source in enumerate(est):
                    logger.experiment.add_audio(
                        f"val/example{i}/speaker{s + 1}", source / peak, self.global_step, rate
                    )
                figure = spectrogram_figure(mix, est, rate)
                logger.experiment.add_figure(f"val/example{i}/spectrogram", figure, self.global_step)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


def spectrogram_figure(mixture: torch.Tensor, estimates: torch.Tensor, sample_rate: int) -> Figure:
    """Log-magnitude spectrograms of a mixture and its separated sources, one panel each."""
    signals = [("mixture", mixture)] + [(f"speaker {i + 1}", e) for i, e in enumerate(estimates)]
    figure = Figure(figsize=(4 * len(signals), 3))
    axes = figure.subplots(1, len(signals), squeeze=False)
    window = torch.hann_window(256)
    for axis, (title, signal) in zip(axes[0], signals, strict=True):
        spec = (
            torch.stft(signal.float(), 256, 64, window=window, return_complex=True)
            .abs()
            .clamp_min(1e-5)
            .log10()
        )
        axis.imshow(
            spec.numpy(),
            origin="lower",
            aspect="auto",
            extent=(0, len(signal) / sample_rate, 0, sample_rate / 2),
        )
        axis.set_title(title)
        axis.set_xlabel("s")
    axes[0, 0].set_ylabel("Hz")
    figure.tight_layout()
    return figure


register_safe_globals()  # checkpoints naming these classes load with weights_only=True
