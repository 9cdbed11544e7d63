"""ffn-timeseries: fast_dev_run through main, the block switch, configs, forecasts written in original units."""

import pandas as pd
import pytest
import torch

from ffn_blocks import SwiGLU
from ffn_data.testing import error_line
from ffn_timeseries.cli import TimeSeriesCLI, main
from ffn_timeseries.data import WideCSVDataModule, read_wide_csv
from ffn_timeseries.module import Forecaster


def test_fast_dev_run(configs, in_tmp_dir):
    main(["fit", "--config", str(configs / "tiny.yaml"), "--trainer.fast_dev_run", "true"])


def test_block_switch_and_links(configs, in_tmp_dir):
    cli = TimeSeriesCLI(
        Forecaster,
        WideCSVDataModule,
        app_name="timeseries",
        run=False,
        args=["--config", str(configs / "tiny.yaml"), "--model.network.ffn", "SwiGLU"],
    )
    assert all(isinstance(block.feature_mlp, SwiGLU) for block in cli.model.network.blocks)
    assert (cli.model.hparams.lookback, cli.model.hparams.horizon, cli.model.hparams.num_channels) == (
        96,
        24,
        7,
    )


def test_every_config_parses(configs, in_tmp_dir):
    for config in sorted(configs.rglob("*.yaml")):
        if config.parent.name == "presets":
            args = ["--config", str(configs / "tiny.yaml"), "--config", str(config)]
        else:
            args = ["--config", str(config)]
        cli = TimeSeriesCLI(Forecaster, WideCSVDataModule, app_name="timeseries", run=False, args=args)
        assert cli.model.network.horizon == cli.datamodule.horizon, config


def test_predict_writes_forecasts_in_original_units(configs, in_tmp_dir, ett_path):
    main(
        [
            "fit",
            "--config",
            str(configs / "tiny.yaml"),
            "--trainer.max_steps",
            "3",
            "--trainer.limit_val_batches",
            "1",
        ]
    )
    ckpt = next(in_tmp_dir.rglob("*.ckpt"))
    main(
        [
            "predict",
            "--config",
            str(configs / "tiny.yaml"),
            "--config",
            str(configs / "presets/write_forecasts.yaml"),
            "--ckpt_path",
            str(ckpt),
            "--trainer.limit_predict_batches",
            "2",
        ]
    )
    frame = pd.read_csv(in_tmp_dir / "forecasts.csv")
    assert len(frame) == 2 * 64 * 24 and list(frame.columns[3:]) == list(read_wide_csv(ett_path).columns)
    raw = read_wide_csv(ett_path)
    # a forecast in original units lies within the range of the series, not around 0 ± 1
    assert frame["OT"].between(raw["OT"].min() - 30, raw["OT"].max() + 30).all()
    assert abs(frame["OT"].mean() - raw["OT"].iloc[11520:].mean()) < 10
    assert frame["date"].iloc[0] == str(raw.index[11520])


def test_configs_naming_another_network_get_its_own_defaults(configs, in_tmp_dir):
    """Regression: with a class default for ``network``, jsonargparse carried TSMixer's ``ffn``, ``norm``
    and ``revin`` over to FreTS (a 608 M-parameter head) and PatchTSMixer (BatchNorm for LayerNorm)."""

    def network(config):
        args = ["--config", str(configs / config), "--trainer.logger=false"]
        return TimeSeriesCLI(Forecaster, WideCSVDataModule, app_name="t", run=False, args=args).model.network

    frets = network("experiments/frets_etth1.yaml")
    assert frets.head.fc1.out_features == 256 and frets.revin is None
    assert sum(p.numel() for p in frets.parameters()) < 4_000_000
    patch = network("experiments/patch_tsmixer_etth1.yaml")
    assert isinstance(patch.layers[0].patch_mixer.norm, torch.nn.LayerNorm)


def _write_csv(path, rows, columns=("A", "B"), nan_at=None):
    frame = pd.DataFrame(
        {c: [float(i + j) for i in range(rows)] for j, c in enumerate(columns)},
        index=pd.date_range("2020-01-01", periods=rows, freq="h", name="date"),
    )
    if nan_at is not None:
        frame.iloc[nan_at, 0] = float("nan")
    frame.to_csv(path)
    return str(path)


@pytest.mark.parametrize(
    ("rows", "nan_at", "extra", "expected"),
    [
        (None, None, [], "error: {path}: no such file"),
        (50, None, [], "error: {path}: 50 rows, fewer than lookback + horizon = 120"),
        # enough rows for one window, too few for the 12/4/4-month split: found in setup(), during fit
        (200, None, [], "error: split='ett' needs 14400 rows (20 months), the file has 200"),
        (200, None, ["--data.columns", "[A, Z]"], "error: {path}: missing columns ['Z'] (has ['A', 'B'])"),
        (200, 3, [], "error: {path}: NaN values in columns {{'A': 1}}; fill or drop them first"),
    ],
    ids=["missing file", "too short", "too short for the split", "missing columns", "NaN"],
)
def test_bad_csv_is_one_error_line_with_exit_status_2(configs, in_tmp_dir, rows, nan_at, extra, expected):
    path = in_tmp_dir / "user.csv"
    if rows is not None:
        _write_csv(path, rows, nan_at=nan_at)
    args = ["fit", "--config", str(configs / "tiny.yaml"), "--data.path", str(path), *extra]
    assert error_line(main, [*args, "--trainer.fast_dev_run", "true"]) == expected.format(path=path)
