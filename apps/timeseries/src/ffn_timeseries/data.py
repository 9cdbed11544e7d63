"""Long-horizon forecasting data from wide CSVs (ETT, electricity, weather, exchange, ...).

The standard protocol (Informer, Autoformer, PatchTST, TSMixer): a chronological split of 12 / 4 / 4
months for ETT (train = the first 8,640 hourly rows, then 2,880 and 2,880), or ratios for other sets;
z-scores with statistics of the training rows only; sliding windows of ``lookback`` inputs and ``horizon``
targets with stride 1, where validation and test windows may look back into the previous split (their
targets never do). FreTS's own protocol (min-max scaling, 70 / 20 / 10) is available for its comparison.

ETTh1 and ETTh2 come from the data layer (`ffn_data.fetch`: downloaded once, sha256-verified, cached
under ``root``); any other wide CSV is read from the user's ``path``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from ffn_data import fetch
from ffn_lightning import ResumableDataLoader

__all__ = ["Scaler", "WideCSVDataModule", "WindowDataset", "csv_path", "read_wide_csv", "split_borders"]

#: the registered wide CSVs (``ffn-data list``)
ETT = Literal["ETTh1", "ETTh2"]


def csv_path(path: str | Path | None = None, dataset: ETT = "ETTh1", root: str | None = None) -> Path:
    """The user's CSV ``path`` when given, else the registered ``dataset``, fetched into ``root``."""
    if path is not None:
        return Path(path)
    return fetch(dataset, root) / f"{dataset}.csv"


def read_wide_csv(
    path: str | Path, columns: list[str] | None = None, date_column: str = "date"
) -> pd.DataFrame:
    """Read a wide CSV (a date column, one numeric column per series); one-line errors for bad files.

    Returns the numeric columns (all but ``date_column``, or exactly ``columns``) as float32, with the
    dates as the index when the date column exists.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{path}: not a readable CSV ({type(error).__name__})") from None
    if date_column in frame.columns:
        try:
            dates = pd.to_datetime(frame.pop(date_column), format="ISO8601")
        except (ValueError, TypeError):
            raise ValueError(
                f"{path}: column {date_column!r} holds values that are not ISO 8601 dates"
            ) from None
        frame = frame.set_index(dates)
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: missing columns {missing} (has {list(frame.columns)})")
        frame = frame[columns]
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValueError(f"{path}: non-numeric columns {non_numeric}")
    if frame.shape[1] == 0:
        raise ValueError(f"{path}: no numeric columns")
    nans = frame.isna().sum()
    if nans.any():
        bad = {c: int(n) for c, n in nans.items() if n}
        raise ValueError(f"{path}: NaN values in columns {bad}; fill or drop them first")
    return frame.astype(np.float32)


def split_borders(
    num_rows: int,
    split: Literal["ett", "ratio"],
    ratios: tuple[float, float, float],
    rows_per_day: int | None,
) -> tuple[int, int, int]:
    """Row indices where train, validation and test end."""
    if split == "ett":
        if rows_per_day is None:
            raise ValueError("split='ett' needs a date column to know the sampling rate; use split='ratio'")
        month = 30 * rows_per_day
        borders = (12 * month, 16 * month, 20 * month)
        if borders[-1] > num_rows:
            raise ValueError(f"split='ett' needs {borders[-1]} rows (20 months), the file has {num_rows}")
        return borders
    train, val, test = ratios
    if abs(train + val + test - 1.0) > 1e-6 or min(ratios) <= 0:
        raise ValueError(f"ratios={ratios} must be three positive shares summing to 1")
    n_train, n_test = int(num_rows * train), int(num_rows * test)
    return n_train, num_rows - n_test, num_rows


@dataclass(frozen=True)
class Scaler:
    """Per-channel affine scaling ``(x − shift) / scale`` fitted on training rows only."""

    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray, kind: Literal["zscore", "minmax"]) -> Scaler:
        if kind == "zscore":
            return cls(train.mean(0), np.maximum(train.std(0), 1e-8))
        low, high = train.min(0), train.max(0)
        return cls(low, np.maximum(high - low, 1e-8))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.shift) / self.scale

    def inverse(self, values: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        if isinstance(values, torch.Tensor):
            return values * torch.as_tensor(self.scale, dtype=values.dtype) + torch.as_tensor(
                self.shift, dtype=values.dtype
            )
        return values * self.scale + self.shift


class WindowDataset(Dataset):
    """Sliding windows ``(x, y)`` of shapes ``(lookback, C)`` and ``(horizon, C)`` whose targets start in
    ``[first_target, last_target]`` (row indices into ``values``)."""

    def __init__(self, values: np.ndarray, lookback: int, horizon: int, first_target: int, end: int) -> None:
        self.values = torch.from_numpy(np.ascontiguousarray(values))
        self.lookback, self.horizon = lookback, horizon
        self.first_target = max(first_target, lookback)
        self.count = max(0, end - self.first_target - horizon + 1)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.first_target + index
        return self.values[t - self.lookback : t], self.values[t : t + self.horizon]

    def target_start(self, index: int) -> int:
        return self.first_target + index


class WideCSVDataModule(LightningDataModule):
    """Windows over a wide CSV with the long-horizon protocol; ETTh1 by default.

    Args:
        path: your own CSV (a ``date`` column and one numeric column per series); replaces ``dataset``.
        dataset: a registered ETT file, downloaded into ``root`` on first use.
        root: the data cache (default: ``$FFN_STUDY_DATA``, else the user cache folder).
        lookback: input steps L.
        horizon: forecast steps H.
        columns: series to use (default: every numeric column, i.e. multivariate).
        date_column: the CSV's time-stamp column (ISO 8601); it sets the sampling rate of ``split="ett"``.
        split: ``"ett"`` (12/4/4 months) or ``"ratio"``.
        ratios: train / validation / test shares for ``split="ratio"`` (Autoformer: 0.7/0.1/0.2).
        scaling: ``"zscore"`` (standard) or ``"minmax"`` (FreTS's own protocol).
        batch_size: windows per batch.
        num_workers: DataLoader workers.
    """

    def __init__(
        self,
        path: str | None = None,
        dataset: ETT = "ETTh1",
        root: str | None = None,
        lookback: int = 96,
        horizon: int = 96,
        columns: list[str] | None = None,
        date_column: str = "date",
        split: Literal["ett", "ratio"] = "ett",
        ratios: tuple[float, float, float] = (0.7, 0.1, 0.2),
        scaling: Literal["zscore", "minmax"] = "zscore",
        batch_size: int = 32,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("lookback", lookback), ("horizon", horizon), ("batch_size", batch_size)):
            if value < 1:
                raise ValueError(f"WideCSVDataModule: {name}={value} must be a positive integer")
        self.path = csv_path(path, dataset, root)
        self.lookback, self.horizon = lookback, horizon
        self.split, self.ratios, self.scaling = split, tuple(ratios), scaling
        self.batch_size, self.num_workers = batch_size, num_workers
        # read now: the channel count is linked into the model at instantiation
        self.frame = read_wide_csv(self.path, columns, date_column)
        if len(self.frame) < lookback + horizon:
            raise ValueError(
                f"{self.path}: {len(self.frame)} rows, fewer than lookback + horizon = {lookback + horizon}"
            )
        self.channel_names = list(self.frame.columns)
        self.num_channels = len(self.channel_names)
        self.datasets: dict[str, WindowDataset] = {}

    def _rows_per_day(self) -> int | None:
        index = self.frame.index
        if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
            return None
        step = (index[1] - index[0]).total_seconds()
        return round(86400 / step) if step > 0 else None

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        values = self.frame.to_numpy()
        train_end, val_end, test_end = split_borders(
            len(values), self.split, self.ratios, self._rows_per_day()
        )
        self.borders = (train_end, val_end, test_end)
        self.scaler = Scaler.fit(values[:train_end], self.scaling)  # training rows only
        scaled = self.scaler.transform(values).astype(np.float32)
        self.datasets = {
            "train": WindowDataset(scaled, self.lookback, self.horizon, 0, train_end),
            "val": WindowDataset(scaled, self.lookback, self.horizon, train_end, val_end),
            "test": WindowDataset(scaled, self.lookback, self.horizon, val_end, test_end),
        }
        for name, dataset in self.datasets.items():
            if len(dataset) == 0:
                raise ValueError(
                    f"{self.path}: the {name} split holds no window of lookback {self.lookback} + horizon "
                    f"{self.horizon}"
                )

    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        if stage not in self.datasets:
            raise RuntimeError("WideCSVDataModule: call setup() before asking for a dataloader")
        # training drops the last partial batch: BatchNorm needs more than one window (as the reference code)
        return ResumableDataLoader(
            self.datasets[stage],
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
