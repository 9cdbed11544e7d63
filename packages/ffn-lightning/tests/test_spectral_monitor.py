"""SpectralMonitor: hooks every FFN, logs metrics and figures at its interval, leaves nothing attached."""

import csv

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger

from ffn_blocks import MoEMLP, SwiGLU
from ffn_lightning import FFNLightningCLI, SpectralMonitor


def test_fast_dev_run_through_the_cli_writes_figures(in_tmp_dir, toy):
    cli = FFNLightningCLI(
        *toy,
        app_name="toy",
        args=[
            "fit",
            "--trainer.fast_dev_run=true",
            "--trainer.callbacks=ffn_lightning.SpectralMonitor",
            "--trainer.callbacks.output_dir=spectra",
        ],
    )
    monitor = next(c for c in cli.trainer.callbacks if isinstance(c, SpectralMonitor))
    assert {(r.block, r.tap) for r in monitor.history} == {("block", "pre"), ("block", "post")}
    assert (in_tmp_dir / "spectra" / "spectrum_step0.png").stat().st_size > 1000
    assert not monitor._handles


def test_interval_metrics_and_js_divergence_are_logged(in_tmp_dir, toy):
    monitor = SpectralMonitor(every_n_steps=3)
    trainer = Trainer(
        max_steps=7,
        callbacks=[monitor],
        logger=CSVLogger(in_tmp_dir),
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_checkpointing=False,
    )
    trainer.fit(toy[0](ffn=SwiGLU), toy[1]())
    assert sorted({r.step for r in monitor.history}) == [0, 3, 6]
    hidden = next(r for r in monitor.history if r.tap == "post")
    assert hidden.eigenvalues.numel() == 32  # SwiGLU hidden width 4 * 8
    assert "js_divergence" in next(r for r in monitor.history if r.step == 3).metrics
    rows = list(csv.DictReader(open(in_tmp_dir / "lightning_logs/version_0/metrics.csv")))
    logged = [
        r["spectral/block/post/participation_ratio"]
        for r in rows
        if r.get("spectral/block/post/participation_ratio")
    ]
    assert len(logged) == 3 and all(1.0 <= float(v) <= 32.0 for v in logged)


def test_blocks_without_taps_are_skipped_with_a_warning(in_tmp_dir, toy):
    monitor = SpectralMonitor()
    trainer = Trainer(
        max_steps=1, callbacks=[monitor], logger=False, enable_progress_bar=False, enable_checkpointing=False
    )
    with pytest.warns(UserWarning, match="no FeedForward block with spectral_taps"):
        trainer.fit(toy[0](ffn=MoEMLP), toy[1]())
    assert monitor.history == []


def test_bad_interval():
    with pytest.raises(ValueError, match="every_n_steps=0 must be a positive integer"):
        SpectralMonitor(every_n_steps=0)
