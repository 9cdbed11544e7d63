"""A user's own wide CSV (a date column, series that are not ETT's) trains an epoch through
``ffn-timeseries fit`` with the default config, and predict writes forecasts for it."""

import csv

import numpy as np
import pandas as pd

from ffn_timeseries.cli import main


def test_a_wide_csv_of_other_series_trains_an_epoch_through_the_cli(configs, in_tmp_dir):
    steps = np.arange(1500)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2021-03-01", periods=len(steps), freq="15min").astype(str),
            "load_kw": 50 + 10 * np.sin(2 * np.pi * steps / 96) + rng.normal(0, 1, len(steps)),
            "temperature": 15 + 5 * np.sin(2 * np.pi * steps / 96 + 1) + rng.normal(0, 0.5, len(steps)),
            "price": 30 + 0.01 * steps + rng.normal(0, 2, len(steps)),
        }
    )
    frame.to_csv(in_tmp_dir / "plant.csv", index=False)
    args = ["--config", str(configs / "default.yaml"), "--data.path", str(in_tmp_dir / "plant.csv")]
    args += [
        "--data.date_column",
        "timestamp",
        "--data.split",
        "ratio",
        "--trainer.max_epochs",
        "1",
        "--trainer.enable_progress_bar",
        "false",
    ]
    main(["fit", *args])
    with open(in_tmp_dir / "runs/timeseries/csv/version_0/metrics.csv") as file:
        validated = [row for row in csv.DictReader(file) if row.get("val/mse")]
    assert [row["epoch"] for row in validated] == ["0"] and float(validated[0]["val/mse"]) > 0
    checkpoint = next(in_tmp_dir.glob("runs/timeseries/**/checkpoints/last.ckpt"))
    main(["test", *args, "--ckpt_path", str(checkpoint)])
