"""``--model.compile true`` works the same way in every app: every task's module compiles its network
in place (checkpoint keys unchanged); off by default. Whether it pays is BENCHMARKS.md's "CPU training
step", not a test: no test here depends on timing."""

from __future__ import annotations

import pytest
import torch

from ffn_lightning import discover_apps

APPS = discover_apps()
# every task of every app: each tiny config (``tiny.yaml``, ``kg_tiny.yaml``, ``radiance_tiny.yaml``, ...)
CONFIGS = [(name, path.name) for name, app in APPS.items() for path in sorted(app.configs.glob("*tiny.yaml"))]
QUIET = ["--trainer.logger=false", "--trainer.enable_progress_bar=false"]


def _compiled(model: torch.nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if getattr(m, "_compiled_call_impl", None) is not None]


@pytest.mark.parametrize(("app", "config"), CONFIGS)
def test_every_task_compiles_its_network_only_when_asked(app, config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = APPS[app]
    plain = spec.instantiate(config, extra=QUIET).model
    compiled = spec.instantiate(config, extra=[*QUIET, "--model.compile=true"]).model
    assert _compiled(plain) == []
    assert len(_compiled(compiled)) == 1, _compiled(compiled)
    assert list(compiled.state_dict()) == list(plain.state_dict())  # checkpoints load either way


@pytest.mark.slow
def test_a_compiled_forecaster_trains_and_matches_eager_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = APPS["timeseries"]
    models = [
        spec.instantiate(spec.tiny_config, extra=[*QUIET, f"--model.compile={c}"]).model for c in (0, 1)
    ]
    x = torch.randn(4, models[0].hparams.lookback, models[0].hparams.num_channels)
    eager, compiled = (m.eval()(x) for m in models)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
