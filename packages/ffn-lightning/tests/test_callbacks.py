"""SelfGuidedTraining: the schedule, its effect on the model, and resuming it from a checkpoint."""

import csv
import itertools
import math
from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from ffn_blocks import LowRankMLP
from ffn_lightning import SelfGuidedTraining


@pytest.fixture
def guided_model(toy):
    return lambda: toy[0](ffn=partial(LowRankMLP, rank=2, self_guided=True))


def test_schedules_go_from_one_to_zero():
    linear = SelfGuidedTraining(schedule="linear", warmup_steps=2)
    assert [linear.ratio_at(s, 4) for s in range(8)] == [1, 1, 1, 0.75, 0.5, 0.25, 0, 0]
    cosine = SelfGuidedTraining()
    assert cosine.ratio_at(0, 10) == 1 and cosine.ratio_at(10, 10) == 0
    assert cosine.ratio_at(5, 10) == pytest.approx(0.5)
    assert cosine.ratio_at(2, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))


def test_fit_anneals_every_guided_layer_and_logs_the_ratio(in_tmp_dir, guided_model, toy):
    from lightning.pytorch.loggers import CSVLogger

    model = guided_model()
    trainer = Trainer(
        max_steps=8,
        callbacks=[SelfGuidedTraining(anneal_fraction=0.5, schedule="linear")],
        logger=CSVLogger(in_tmp_dir),
        enable_progress_bar=False,
        log_every_n_steps=1,
        enable_checkpointing=False,
    )
    trainer.fit(model, toy[1]())
    assert model.block.fc1.guide_ratio == 0  # fc2 (8*4 -> 1) is a dense head
    rows = list(csv.DictReader(open(in_tmp_dir / "lightning_logs/version_0/metrics.csv")))
    logged = [float(r["self_guided/ratio"]) for r in rows if r.get("self_guided/ratio")]
    assert logged == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0]


def test_resume_restores_the_schedule_position(in_tmp_dir, guided_model, toy):
    callback = SelfGuidedTraining(anneal_steps=8, schedule="linear")
    ckpt = ModelCheckpoint(dirpath=in_tmp_dir, save_last=True, every_n_train_steps=3)
    trainer = Trainer(max_steps=3, callbacks=[callback, ckpt], logger=False, enable_progress_bar=False)
    trainer.fit(guided_model(), toy[1]())
    state = torch.load(in_tmp_dir / "last.ckpt", weights_only=False)["state_dict"]
    assert float(state["block.fc1.guide_ratio_state"]) == pytest.approx(1 - 2 / 8)  # set before step 2

    resumed = guided_model()
    seen = []

    class Spy(SelfGuidedTraining):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
            seen.append(pl_module.block.fc1.guide_ratio)

    trainer = Trainer(
        max_steps=5,
        callbacks=[Spy(anneal_steps=8, schedule="linear")],
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
    )
    # the hparams hold a functools.partial of LowRankMLP: register_safe_globals lets them load safely
    trainer.fit(resumed, toy[1](), ckpt_path=in_tmp_dir / "last.ckpt")
    assert seen == [1 - 3 / 8, 1 - 4 / 8]


def test_warns_when_nothing_is_guided(in_tmp_dir, toy):
    trainer = Trainer(
        max_steps=1,
        callbacks=[SelfGuidedTraining()],
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
    )
    with pytest.warns(UserWarning, match="no self-guided layer"):
        trainer.fit(toy[0](), toy[1]())


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"anneal_fraction": 1.5}, r"anneal_fraction=1.5 must be in \[0, 1\]"),
        ({"anneal_steps": 0}, r"anneal_steps=0 must be a positive integer"),
        ({"schedule": "step"}, r"schedule='step' must be 'cosine' or 'linear'"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        SelfGuidedTraining(**kwargs)


def test_warmup_cosine_schedule():
    from ffn_lightning import WarmupCosineLR

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = WarmupCosineLR(optimizer, total_steps=110, warmup_steps=10, warmup_start=0.0)
    lrs = []
    for _ in range(110):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert lrs[0] == 0.0 and lrs[5] == pytest.approx(0.5) and lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.5) and lrs[-1] == pytest.approx(0.0, abs=1e-3)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))


def test_batchnorm_sync_plugin_switches_last_dim_batchnorms():
    from ffn_blocks import LastDimBatchNorm, RePaMLP
    from ffn_lightning import LastDimBatchNormSync

    model = torch.nn.Sequential(RePaMLP(8, 8, norm=LastDimBatchNorm), torch.nn.BatchNorm1d(8))
    plugin = LastDimBatchNormSync()
    with pytest.warns(UserWarning, match="1 BatchNorm layer"):
        plugin.apply(model)
    assert model[0].norm.sync is True
    plugin.revert(model)
    assert model[0].norm.sync is False
