"""ffn-vision: fast_dev_run through main, block switching, presets, reparameterize, 2-process CPU DDP."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ffn_blocks import SwiGLU
from ffn_lightning import SpectralMonitor
from ffn_vision.cli import VisionCLI, main
from ffn_vision.data import ImageDataModule
from ffn_vision.module import ImageClassifier


def test_fast_dev_run_fit_and_test(configs, in_tmp_dir):
    main(["fit", "--config", str(configs / "tiny.yaml"), "--trainer.fast_dev_run", "true"])
    main(["test", "--config", str(configs / "tiny.yaml"), "--trainer.fast_dev_run", "true"])


def test_every_config_and_preset_parses(configs, in_tmp_dir):
    cli = VisionCLI(
        ImageClassifier,
        ImageDataModule,
        subclass_mode_data=True,
        app_name="vision",
        run=False,
        args=[
            "--config",
            str(configs / "default.yaml"),
            "--config",
            str(configs / "presets/spectral.yaml"),
            "--config",
            str(configs / "presets/poolformer.yaml"),
        ],
    )
    assert type(cli.model.model).__name__ == "PoolFormer" and cli.model.model.num_classes == 10
    assert any(isinstance(c, SpectralMonitor) for c in cli.trainer.callbacks)


def test_block_switch_on_the_command_line(configs, in_tmp_dir):
    cli = VisionCLI(
        ImageClassifier,
        ImageDataModule,
        subclass_mode_data=True,
        app_name="vision",
        run=False,
        args=["--config", str(configs / "tiny.yaml"), "--model.ffn", "SwiGLU"],
    )
    assert all(isinstance(block.mlp, SwiGLU) for block in cli.model.model.blocks)
    assert cli.model.model.patch_embed.proj.in_channels == 1  # linked from the digits DataModule


def test_spectral_monitor_preset_logs_figures_in_fast_dev_run(configs, in_tmp_dir):
    main(
        [
            "fit",
            "--config",
            str(configs / "tiny.yaml"),
            "--config",
            str(configs / "presets/spectral.yaml"),
            "--trainer.fast_dev_run",
            "true",
            "--trainer.callbacks.output_dir",
            "spectra",
        ]
    )
    assert (in_tmp_dir / "spectra" / "spectrum_step0.png").stat().st_size > 1000


def test_reparameterize_subcommand(configs, in_tmp_dir, capsys):
    main(["fit", "--config", str(configs / "tiny.yaml"), "--trainer.max_steps", "2"])
    ckpt = next(Path("runs/vision").rglob("*.ckpt"))
    main(["reparameterize", "--ckpt", str(ckpt), "--out", "merged.ckpt"])
    assert "written to merged.ckpt" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["reparameterize", "--ckpt", str(ckpt), "--out", "merged.ckpt"])
    assert "merged.ckpt exists; pass --overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reparameterize", "--ckpt", "missing.ckpt", "--out", "x.ckpt"])
    assert "checkpoint missing.ckpt does not exist" in capsys.readouterr().err
    main(
        [
            "test",
            "--config",
            str(configs / "tiny.yaml"),
            "--ckpt_path",
            "merged.ckpt",
            "--weights_only",
            "false",
        ]
    )


def test_two_process_cpu_ddp_with_synchronized_batchnorm(configs, in_tmp_dir):
    command = [
        str(Path(sys.executable).parent / "ffn-vision"),
        "fit",
        "--config",
        str(configs / "tiny.yaml"),
        "--config",
        str(configs / "presets/ddp_cpu.yaml"),
        "--trainer.max_steps",
        "3",
        "--trainer.limit_val_batches",
        "2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=in_tmp_dir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in done.stderr + done.stdout
    assert list((in_tmp_dir / "runs/vision").rglob("*.ckpt"))
