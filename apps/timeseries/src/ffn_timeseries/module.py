"""`Forecaster`: the LightningModule around any ``(lookback, horizon, channels)`` forecasting network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

from ffn_blocks import auxiliary_loss
from ffn_lightning import register_safe_globals

from .models import TSMixer

__all__ = ["Forecaster", "NetworkFactory", "forecast_figure"]

#: ``(lookback, horizon, num_channels) -> network``; the data decides the three numbers.
NetworkFactory: TypeAlias = Callable[[int, int, int], nn.Module]


class Forecaster(LightningModule):
    """Multivariate forecasting with MSE (or MAE) loss and MSE/MAE metrics on the normalized scale.

    Args:
        network: the forecasting network factory (TSMixer, PatchTSMixer, FreTS, ...; None: TSMixer).
            No class default on purpose: jsonargparse carries a default class's init arguments over
            to the class a config names when their names match (TSMixer's ``ffn``, ``norm`` and
            ``revin`` would silently replace FreTS's and PatchTSMixer's own defaults).
        lookback: input steps (linked from the DataModule).
        horizon: forecast steps (linked from the DataModule).
        num_channels: series (linked from the DataModule).
        loss: ``"mse"`` or ``"mae"``.
        optimizer: optimizer factory.
        plot_channels: channels drawn in the validation forecast figure.
        compile: compile the network with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        network: NetworkFactory | None = None,
        lookback: int = 96,
        horizon: int = 96,
        num_channels: int = 7,
        loss: Literal["mse", "mae"] = "mse",
        optimizer: OptimizerCallable = torch.optim.Adam,
        plot_channels: int = 3,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.network = (network or TSMixer)(lookback, horizon, num_channels)
        if compile:
            self.network.compile()
        self.criterion = nn.MSELoss() if loss == "mse" else nn.L1Loss()
        self.optimizer_factory = optimizer
        metrics = MetricCollection({"mse": MeanSquaredError(), "mae": MeanAbsoluteError()})
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.plot_channels = plot_channels
        self._plot_batch: tuple[torch.Tensor, ...] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def _shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        forecast = self(x)
        loss = self.criterion(forecast, y)
        if stage == "train":
            loss = loss + auxiliary_loss(self.network)
            target_loss = getattr(self.network, "target_loss", None)
            if callable(target_loss):  # e.g. PatchTSMixer's reconciliation head
                loss = loss + target_loss(y)
        else:
            metrics = getattr(self, f"{stage}_metrics")
            metrics.update(forecast.flatten(), y.flatten())
            self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val")
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=stage == "train")
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "val")
        if batch_idx == 0:
            x, y = batch
            self._plot_batch = (x[0].detach().cpu(), y[0].detach().cpu(), self(x[:1])[0].detach().cpu())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self(batch[0])

    def on_validation_epoch_end(self) -> None:
        if self._plot_batch is None or self.trainer.sanity_checking:
            return
        loggers = [lg for lg in self.trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if loggers and self.trainer.is_global_zero:
            figure = forecast_figure(*self._plot_batch, channels=self.plot_channels)
            for logger in loggers:
                logger.experiment.add_figure("val/forecast", figure, global_step=self.global_step)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


def forecast_figure(
    history: torch.Tensor, truth: torch.Tensor, forecast: torch.Tensor, channels: int = 3
) -> Figure:
    """History, truth and forecast of the first ``channels`` series of one window, one panel each."""
    count = min(channels, history.shape[-1])
    figure = Figure(figsize=(8, 2.2 * count))
    axes = figure.subplots(count, 1, squeeze=False, sharex=True)
    past = torch.arange(-history.shape[0], 0)
    future = torch.arange(truth.shape[0])
    for c, axis in enumerate(axes[:, 0]):
        axis.plot(past, history[:, c], color="0.4", lw=1, label="history")
        axis.plot(future, truth[:, c], color="tab:blue", lw=1, label="truth")
        axis.plot(future, forecast[:, c], color="tab:orange", lw=1.2, label="forecast")
        axis.axvline(0, color="0.7", lw=0.8)
        axis.set_ylabel(f"channel {c}")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel("step (0 = first forecast step; normalized scale)")
    figure.tight_layout()
    return figure


register_safe_globals()  # checkpoints naming these classes load with weights_only=True
