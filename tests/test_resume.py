"""Resume exactly, in every app: a run killed mid-epoch and resumed with ``--ckpt_path last`` ends with
the same weights, bit for bit, and logs the same per-step losses as an uninterrupted run.

Each run goes through the app's real CLI on its tiny config, with 3 batches per epoch, 7 steps, a
checkpoint after every step; the interrupted run raises at the start of step 6 (mid-epoch 2).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback

from ffn_lightning import discover_apps

APPS = discover_apps()
STEPS, CRASH_AT = 7, 5


class Crash(RuntimeError):
    pass


class CrashAfterStep(Callback):
    """Raise before training step ``step + 1``, after step ``step``'s checkpoint was written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise Crash(f"killed after step {self.step}")


def _overrides(root: Path, crash: bool) -> Path:
    callbacks = [
        {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {
                "dirpath": str(root / "ckpt"),
                "every_n_train_steps": 1,
                "save_last": True,
                "save_top_k": 0,
            },
        }
    ]
    if crash:
        callbacks.append({"class_path": f"{__name__}.CrashAfterStep", "init_args": {"step": CRASH_AT}})
    config = {
        "trainer": {
            "max_steps": STEPS,
            "max_epochs": 100,
            "limit_train_batches": 3,
            "limit_val_batches": 1,
            "num_sanity_val_steps": 1,
            "log_every_n_steps": 1,
            "val_check_interval": None,
            "check_val_every_n_epoch": 1,
            "enable_checkpointing": True,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(root / ("logs-crash" if crash else "logs")), "name": "csv"},
            },
            "callbacks": callbacks,
        }
    }
    path = root / f"overrides-{crash}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _train_losses(logs: Path) -> dict[int, str]:
    losses = {}
    for path in logs.glob("**/metrics.csv"):
        with path.open() as f:
            for row in csv.DictReader(f):
                key = next(
                    (k for k in row if k.startswith("train/loss") and k != "train/loss_epoch" and row[k]),
                    None,
                )
                if key:
                    losses[int(row["step"])] = row[key]
    return losses


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("app", list(APPS))
def test_killed_and_resumed_run_equals_the_uninterrupted_run(app, tmp_path, monkeypatch):
    spec = APPS[app]
    monkeypatch.chdir(tmp_path)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir(), parts.mkdir()

    spec.run("fit", "--config", str(_overrides(whole, crash=False)))
    with pytest.raises(Crash):
        spec.run("fit", "--config", str(_overrides(parts, crash=True)))
    interrupted = _weights(parts / "ckpt" / "last.ckpt")
    spec.run("fit", "--config", str(_overrides(parts, crash=False)), "--ckpt_path", "last")

    expected, resumed = _weights(whole / "ckpt" / "last.ckpt"), _weights(parts / "ckpt" / "last.ckpt")
    assert any(not torch.equal(interrupted[k], expected[k]) for k in expected), "the crash came too late"
    assert expected.keys() == resumed.keys()
    different = [k for k in expected if not torch.equal(expected[k], resumed[k])]
    assert not different, f"{app}: weights differ after resuming: {different[:5]}"
    losses = _train_losses(whole / "logs")
    assert len(losses) == STEPS, losses
    assert {**_train_losses(parts / "logs-crash"), **_train_losses(parts / "logs")} == losses
