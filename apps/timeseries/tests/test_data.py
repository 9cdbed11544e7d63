"""Windows and splits on the real ETTh1: the standard borders, no leakage, one-line errors on bad CSVs."""

import numpy as np
import pandas as pd
import pytest
import torch

from ffn_timeseries.data import WideCSVDataModule, read_wide_csv


def test_ett_protocol_borders_and_window_counts(ett_path):
    data = WideCSVDataModule(ett_path, lookback=96, horizon=96)
    data.setup()
    assert data.borders == (8640, 11520, 14400)
    assert data.num_channels == 7 and data.channel_names[-1] == "OT"
    assert {k: len(v) for k, v in data.datasets.items()} == {
        "train": 8640 - 96 - 96 + 1,
        "val": 2785,
        "test": 2785,
    }
    x, y = data.datasets["test"][0]
    assert x.shape == (96, 7) and y.shape == (96, 7)
    assert data.datasets["test"].target_start(0) == 11520  # test targets start where the test split starts


def test_normalization_uses_training_rows_only(ett_path):
    """Fails if the scaler saw validation or test rows: those rows of ETTh1 have other means."""
    data = WideCSVDataModule(ett_path)
    data.setup()
    raw = read_wide_csv(ett_path).to_numpy()
    np.testing.assert_allclose(data.scaler.shift, raw[:8640].mean(0), rtol=1e-5)
    np.testing.assert_allclose(data.scaler.scale, raw[:8640].std(0), rtol=1e-5)
    assert not np.allclose(data.scaler.shift, raw[:14400].mean(0), rtol=1e-3)
    train_values = torch.cat(
        [data.datasets["train"][i][1] for i in range(0, len(data.datasets["train"]), 97)]
    )
    assert abs(train_values.mean().item()) < 0.1  # z-scored by its own statistics


def test_training_windows_never_touch_validation_rows(ett_path):
    data = WideCSVDataModule(ett_path, lookback=96, horizon=96)
    data.setup()
    train = data.datasets["train"]
    last = train.target_start(len(train) - 1) + train.horizon
    assert last == 8640  # the last target row is the last training row


def test_frets_own_protocol_is_minmax_and_ratio(ett_path):
    data = WideCSVDataModule(ett_path, split="ratio", ratios=(0.7, 0.2, 0.1), scaling="minmax")
    data.setup()
    assert data.borders == (int(17420 * 0.7), 17420 - int(17420 * 0.1), 17420)
    assert (
        0 <= data.datasets["train"].values[: data.borders[0]].min()
        and data.datasets["train"].values[: data.borders[0]].max() <= 1
    )


def test_inverse_scaling_round_trips(ett_path):
    data = WideCSVDataModule(ett_path)
    data.setup()
    x, _ = data.datasets["val"][3]
    original = data.scaler.inverse(x.double()).numpy()
    raw = read_wide_csv(ett_path).to_numpy()
    start = data.datasets["val"].target_start(3) - 96
    np.testing.assert_allclose(original, raw[start : start + 96], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("content", "kwargs", "pattern"),
    [
        ("date,a,b\n2020-01-01,1,2\n", {"columns": ["a", "c"]}, r"missing columns \['c'\]"),
        ("date,a\n2020-01-01,1\n2020-01-01 01:00,\n", {}, r"NaN values in columns \{'a': 1\}"),
        (
            "date,a\n" + "".join(f"2020-01-01 {h:02d}:00,{h}\n" for h in range(10)),
            {"lookback": 8, "horizon": 4},
            r"10 rows, fewer than lookback \+ horizon = 12",
        ),
        ("date,a\n2020-01-01,x\n", {}, r"non-numeric columns \['a'\]"),
        ("date,a\nyesterday,1\n", {}, r"column 'date' holds values that are not ISO 8601 dates"),
    ],
)
def test_bad_csvs_get_one_line_errors_naming_the_file(tmp_path, content, kwargs, pattern):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=pattern) as info:
        WideCSVDataModule(str(path), **kwargs)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_too_short_for_ett_split(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.csv: no such file"):
        WideCSVDataModule(str(tmp_path / "nope.csv"))
    short = tmp_path / "short.csv"
    pd.DataFrame({"date": pd.date_range("2020", periods=500, freq="h"), "a": np.arange(500.0)}).to_csv(
        short, index=False
    )
    data = WideCSVDataModule(str(short), lookback=24, horizon=24)
    with pytest.raises(ValueError, match=r"split='ett' needs 14400 rows \(20 months\), the file has 500"):
        data.setup()
