"""Every app's main configs keep the best checkpoint on a validation metric they really log, and a
``last.ckpt`` of the latest epoch (Lightning writes a monitoring callback's ``last.ckpt`` only when its
metric improves, so the latest epoch needs a callback without a monitor).

A main config is a full run an app ships (it has a ``trainer`` section) other than the tiny test
configs and the study's; presets and experiments build on them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from ffn_lightning import discover_apps

APPS = discover_apps()


def _is_main(path: Path) -> bool:
    stem = path.stem
    return (
        stem not in {"tiny", "study"}
        and not stem.endswith("_tiny")
        and "trainer" in yaml.safe_load(path.read_text())
    )


CASES = [
    (name, path.name)
    for name, app in APPS.items()
    for path in sorted(app.configs.glob("*.yaml"))
    if _is_main(path)
]


def test_every_app_has_a_main_config():
    assert {name for name, _ in CASES} == set(APPS)


@pytest.mark.parametrize(("app", "config"), CASES, ids=[f"{a}:{c}" for a, c in CASES])
def test_best_on_a_logged_validation_metric_and_last(app, config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = APPS[app].instantiate(
        config, extra=["--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false"]
    )
    callbacks = [c for c in cli.trainer.callbacks if isinstance(c, ModelCheckpoint)]
    (checkpoint,) = [c for c in callbacks if c.monitor is not None]
    assert checkpoint.monitor.startswith("val/"), checkpoint.monitor
    assert [c.save_last for c in callbacks if c.monitor is None] == [True]
    cli.trainer.validate(cli.model, datamodule=cli.datamodule, verbose=False)
    assert checkpoint.monitor in cli.trainer.callback_metrics, sorted(cli.trainer.callback_metrics)
