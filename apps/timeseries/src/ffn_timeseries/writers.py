"""`ForecastCSVWriter`: ``predict`` writes forecasts to CSV in the data's original units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

__all__ = ["ForecastCSVWriter"]


class ForecastCSVWriter(BasePredictionWriter):
    """Write every predicted test window to one CSV in original units, one column per series.

    Args:
        output: CSV path (parent folders are created).
        overwrite: replace an existing file (otherwise a one-line error).
    """

    def __init__(self, output: str = "forecasts.csv", overwrite: bool = False) -> None:
        super().__init__(write_interval="epoch")
        self.output, self.overwrite = Path(output), overwrite

    def write_on_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        if self.output.exists() and not self.overwrite:
            raise FileExistsError(
                f"ForecastCSVWriter: {self.output} exists; set overwrite: true to replace it"
            )
        data = trainer.datamodule
        forecasts = torch.cat([p.cpu() for p in predictions])  # (windows, H, C), normalized scale
        original = data.scaler.inverse(forecasts.double()).numpy()
        dataset = data.datasets["test"]
        index = data.frame.index
        rows = []
        for w in range(original.shape[0]):
            start = dataset.target_start(w)
            for step in range(original.shape[1]):
                when = index[start + step] if start + step < len(index) else None
                rows.append([w, step, when, *original[w, step]])
        frame = pd.DataFrame(rows, columns=["window", "step", "date", *data.channel_names])
        self.output.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(self.output, index=False)
