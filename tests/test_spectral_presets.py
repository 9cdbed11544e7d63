"""`presets/spectral.yaml` turns on the NerVE SpectralMonitor in every app, with no app code involved."""

from __future__ import annotations

import math

import pytest

from ffn_lightning import SpectralMonitor, discover_apps

APPS = discover_apps()


@pytest.mark.parametrize("app", list(APPS))
def test_spectral_preset_measures_the_ffn_blocks(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = APPS[app]
    extra = [*spec.fixed_arguments, "--trainer.max_steps=1", "--trainer.logger=false"]
    cli = spec.instantiate(spec.tiny_config, "presets/spectral.yaml", extra=extra)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    monitors = [c for c in cli.trainer.callbacks if isinstance(c, SpectralMonitor)]
    assert len(monitors) == 1
    records = monitors[0].history
    assert records, f"{app}: no FFN block was measured"
    assert {r.tap for r in records} >= {"post"}
    assert all(math.isfinite(r.metrics["entropy"]) for r in records)
