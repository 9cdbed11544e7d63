"""The pytorch-forecasting route: panel (long-format) data in a `TimeSeriesDataSet`, and our networks as
pytorch-forecasting models built with ``from_dataset``.

``TSMixerModel.from_dataset(dataset)`` reads the encoder length, the horizon and the real-valued inputs
from the dataset, so TSMixer, PatchTSMixer and FreTS train on any `TimeSeriesDataSet` with
pytorch-forecasting's normalizers, metrics and ``predict`` API. The network sees every real input of
the encoder (channels) and its output at the target's position is the forecast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch
from lightning.pytorch import LightningDataModule
from pytorch_forecasting import TimeSeriesDataSet
from pytorch_forecasting.metrics import MAE
from pytorch_forecasting.models import BaseModel
from torch import nn
from torch.utils.data import DataLoader

from .data import ETT, csv_path, read_wide_csv
from .models import FreTS, PatchTSMixer, TSMixer

__all__ = [
    "FreTSModel",
    "NetworkModel",
    "PanelDataModule",
    "PatchTSMixerModel",
    "TSMixerModel",
    "wide_to_long",
]


def wide_to_long(frame: pd.DataFrame, value: str = "value", group: str = "series") -> pd.DataFrame:
    """One row per (series, time step) from a wide frame with one column per series."""
    long = frame.reset_index(drop=True).rename_axis("time_idx").reset_index()
    long = long.melt(id_vars="time_idx", var_name=group, value_name=value)
    return long.astype({group: str, "time_idx": int, value: "float32"})


class NetworkModel(BaseModel):
    """A pytorch-forecasting model wrapping one of our ``(lookback, horizon, channels)`` networks.

    Subclasses set ``network_class``. Build them with ``from_dataset``; the dataset needs a fixed encoder
    length (``min_encoder_length == max_encoder_length``) because the networks mix over a fixed window.

    Args:
        lookback: encoder length.
        horizon: prediction length.
        num_channels: real-valued encoder inputs.
        target_position: index of the target among them.
        network_kwargs: keyword arguments of the network (e.g. ``{"num_blocks": 2}``).
        **kwargs: pytorch-forecasting's `BaseModel` arguments (loss, learning_rate, ...).
    """

    network_class: ClassVar[type[nn.Module]]

    def __init__(
        self,
        lookback: int,
        horizon: int,
        num_channels: int,
        target_position: int = 0,
        network_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.save_hyperparameters()
        kwargs.setdefault("loss", MAE())
        super().__init__(**kwargs)
        self.network = self.network_class(lookback, horizon, num_channels, **(network_kwargs or {}))
        self.target_position = target_position

    @classmethod
    def from_dataset(cls, dataset: TimeSeriesDataSet, **kwargs: Any) -> NetworkModel:
        if dataset.min_encoder_length != dataset.max_encoder_length:
            raise ValueError(
                f"{cls.__name__}: the dataset's encoder length varies ({dataset.min_encoder_length}.."
                f"{dataset.max_encoder_length}); set min_encoder_length = max_encoder_length"
            )
        if dataset.min_prediction_length != dataset.max_prediction_length:
            raise ValueError(f"{cls.__name__}: the dataset's prediction length must be fixed")
        reals = dataset.reals
        if dataset.target not in reals:
            raise ValueError(
                f"{cls.__name__}: the target {dataset.target!r} must be among the encoder's reals"
            )
        derived = {
            "lookback": dataset.max_encoder_length,
            "horizon": dataset.max_prediction_length,
            "num_channels": len(reals),
            "target_position": reals.index(dataset.target),
        }
        return super().from_dataset(dataset, **{**derived, **kwargs})

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        forecast = self.network(x["encoder_cont"])[..., self.target_position]  # (B, H)
        prediction = self.transform_output(forecast, target_scale=x["target_scale"])
        return self.to_network_output(prediction=prediction)


class TSMixerModel(NetworkModel):
    """`ffn_timeseries.models.TSMixer` for pytorch-forecasting."""

    network_class = TSMixer


class PatchTSMixerModel(NetworkModel):
    """`ffn_timeseries.models.PatchTSMixer` for pytorch-forecasting."""

    network_class = PatchTSMixer


class FreTSModel(NetworkModel):
    """`ffn_timeseries.models.FreTS` for pytorch-forecasting."""

    network_class = FreTS


class PanelDataModule(LightningDataModule):
    """A `TimeSeriesDataSet` over long-format data: one row per series and time step.

    The last ``horizon + val_steps`` steps of every series are held out for validation (windows whose
    forecast reaches into them); training windows end before.

    Args:
        path: a long-format CSV, or a wide one (a date column, one column per series) when ``wide``;
            None: the registered wide ``dataset``.
        dataset: a registered ETT file (``wide`` only), downloaded into ``root`` on first use.
        root: the data cache (default: ``$FFN_STUDY_DATA``, else the user cache folder).
        target: the value column.
        group: the series-id column.
        time_idx: the integer time column.
        lookback: encoder length.
        horizon: prediction length.
        val_steps: extra held-out steps per series for validation windows.
        wide: convert a wide CSV with `wide_to_long` first.
        batch_size: windows per batch.
    """

    def __init__(
        self,
        path: str | None = None,
        dataset: ETT = "ETTh1",
        root: str | None = None,
        target: str = "value",
        group: str = "series",
        time_idx: str = "time_idx",
        lookback: int = 96,
        horizon: int = 24,
        val_steps: int = 96,
        wide: bool = True,
        batch_size: int = 64,
    ) -> None:
        super().__init__()
        if wide:
            frame = wide_to_long(read_wide_csv(csv_path(path, dataset, root)), value=target, group=group)
        else:
            if path is None:
                raise ValueError("PanelDataModule: a long-format panel (wide=False) needs its path")
            if not Path(path).is_file():
                raise FileNotFoundError(f"{path}: no such file")
            frame = pd.read_csv(path)
            missing = [c for c in (target, group, time_idx) if c not in frame.columns]
            if missing:
                raise ValueError(f"{path}: missing columns {missing}")
        self.frame, self.target, self.group, self.time_idx = frame, target, group, time_idx
        self.lookback, self.horizon, self.val_steps, self.batch_size = (
            lookback,
            horizon,
            val_steps,
            batch_size,
        )
        self.train_set: TimeSeriesDataSet | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        cutoff = self.frame[self.time_idx].max() - self.horizon - self.val_steps
        self.train_set = TimeSeriesDataSet(
            self.frame[self.frame[self.time_idx] <= cutoff],
            time_idx=self.time_idx,
            target=self.target,
            group_ids=[self.group],
            max_encoder_length=self.lookback,
            min_encoder_length=self.lookback,
            max_prediction_length=self.horizon,
            min_prediction_length=self.horizon,
            time_varying_unknown_reals=[self.target],
            static_categoricals=[self.group],
        )
        self.val_set = TimeSeriesDataSet.from_dataset(
            self.train_set, self.frame, min_prediction_idx=cutoff + 1, stop_randomization=True
        )

    def train_dataloader(self) -> DataLoader:
        return self.train_set.to_dataloader(train=True, batch_size=self.batch_size, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return self.val_set.to_dataloader(train=False, batch_size=self.batch_size, num_workers=0)
