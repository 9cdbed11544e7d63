"""The pytorch-forecasting route: from_dataset on a long-format frame built from ETT, one fitted batch."""

import pytest
import torch
from lightning.pytorch import Trainer

from ffn_timeseries.data import read_wide_csv
from ffn_timeseries.forecasting import (
    FreTSModel,
    PanelDataModule,
    PatchTSMixerModel,
    TSMixerModel,
    wide_to_long,
)


@pytest.fixture(scope="module")
def panel():
    data = PanelDataModule(lookback=48, horizon=12, val_steps=48, batch_size=32)
    data.frame = data.frame[data.frame.time_idx < 480]  # a small panel: 7 series x 480 steps
    data.setup()
    return data


def test_wide_to_long_keeps_every_value(ett_path):
    wide = read_wide_csv(ett_path).iloc[:10]
    long = wide_to_long(wide)
    assert len(long) == 70 and set(long.series) == set(wide.columns)
    assert long[(long.series == "OT") & (long.time_idx == 3)].value.item() == pytest.approx(
        wide["OT"].iloc[3]
    )


@pytest.mark.parametrize(
    "model_class", [TSMixerModel, PatchTSMixerModel, FreTSModel], ids=lambda c: c.__name__
)
def test_from_dataset_fits_one_batch(panel, model_class, tmp_path):
    kwargs = {"FreTSModel": {"embed_size": 8}, "PatchTSMixerModel": {"num_layers": 1}}.get(
        model_class.__name__, {}
    )
    model = model_class.from_dataset(panel.train_set, network_kwargs=kwargs, learning_rate=1e-3)
    assert model.hparams.lookback == 48 and model.hparams.horizon == 12
    before = [p.detach().clone() for p in model.network.parameters()]
    Trainer(fast_dev_run=True, enable_progress_bar=False, logger=False, default_root_dir=tmp_path).fit(
        model, panel
    )
    assert any(not torch.equal(a, b) for a, b in zip(before, model.network.parameters(), strict=True))
    prediction = model.predict(panel.val_dataloader())
    assert prediction.shape[1] == 12 and torch.isfinite(prediction).all()


def test_variable_encoder_length_is_refused(panel):
    from pytorch_forecasting import TimeSeriesDataSet

    variable = TimeSeriesDataSet(
        panel.frame,
        time_idx="time_idx",
        target="value",
        group_ids=["series"],
        max_encoder_length=48,
        min_encoder_length=24,
        max_prediction_length=12,
        time_varying_unknown_reals=["value"],
    )
    with pytest.raises(ValueError, match="encoder length varies"):
        TSMixerModel.from_dataset(variable)
