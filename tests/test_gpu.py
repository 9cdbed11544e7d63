"""The GPU suite (``pytest -m gpu``; `make gpu-check`): every app fits on CUDA in fp32 and bf16-mixed,
merging is exact on CUDA, 1-GPU DDP, FloydNet's memory estimate holds, ``ffn-speech separate`` runs.

Skipped without a CUDA device; never part of the default suite (``-m 'not gpu'``).
"""

from __future__ import annotations

import math

import pytest
import torch

from ffn_lightning import discover_apps

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
APPS = discover_apps()
CUDA = ["--trainer.accelerator=gpu", "--trainer.devices=1"]


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("app", list(APPS))
def test_every_app_fits_a_few_steps_on_cuda(app, precision, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = APPS[app]
    extra = [*CUDA, f"--trainer.precision={precision}", "--trainer.max_steps=3", "--trainer.max_epochs=1"]
    extra += ["--trainer.limit_val_batches=1", f"--trainer.default_root_dir={tmp_path}"]
    cli = spec.instantiate(spec.tiny_config, extra=extra)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.global_step >= 1
    assert next(cli.model.parameters()).device.type == "cuda"
    assert all(torch.isfinite(p).all() for p in cli.model.parameters())


def test_reparameterize_is_exact_on_cuda():
    from ffn_blocks import RePaMLP, reparameterize
    from ffn_blocks.testing import randomize_batchnorm_

    torch.manual_seed(0)
    block = RePaMLP(64, 64, idle_ratio=0.75).cuda()
    randomize_batchnorm_(block)
    block.eval()
    x = torch.randn(8, 16, 64, device="cuda")
    merged = reparameterize(block)
    torch.testing.assert_close(merged(x), block(x), rtol=1e-5, atol=1e-5)


def test_one_gpu_ddp_fits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = APPS["timeseries"]
    extra = [
        *CUDA,
        "--trainer.strategy=ddp",
        "--trainer.max_steps=3",
        f"--trainer.default_root_dir={tmp_path}",
    ]
    cli = spec.instantiate(spec.tiny_config, extra=extra)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.global_step >= 1


def test_floydnet_peak_memory_is_within_ten_percent_of_the_estimate():
    from ffn_graphs.models.floydnet import FloydNet, pivot_memory_bytes

    n, dim, heads, batch = 96, 64, 4, 2
    model = FloydNet(3, 2, dim=dim, num_layers=1, heads=heads).cuda().eval()
    pairs = torch.randn(batch, n, n, 3, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.no_grad():
        model(pairs)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    estimate = pivot_memory_bytes(n, dim, heads, batch)
    assert math.isclose(peak, estimate, rel_tol=0.10), (peak, estimate)


def test_speech_separate_command_runs_on_cuda(tmp_path, monkeypatch):
    import numpy as np
    import soundfile as sf

    from ffn_speech.cli import main

    monkeypatch.chdir(tmp_path)
    spec = APPS["speech"]
    main([*spec.arguments("fit"), "--trainer.max_steps=2", "--trainer.max_epochs=1", *CUDA])
    checkpoint = next(tmp_path.glob("runs/speech/**/checkpoints/last.ckpt"))
    sf.write(tmp_path / "mix.wav", np.random.default_rng(0).normal(0, 0.1, 20_000).astype("float32"), 8000)
    args = ["--ckpt", str(checkpoint), "--input", "mix.wav", "--out-dir", "out", "--device", "cuda"]
    main(["separate", *args, "--chunk-seconds", "1", "--overlap-seconds", "0.25"])
    outputs = sorted((tmp_path / "out").glob("*.wav"))
    assert len(outputs) == 2 and all(sf.info(o).frames == 20_000 for o in outputs)
