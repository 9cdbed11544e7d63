"""ffn-vision: fast_dev_run through main, block switching, presets, reparameterize, 2-process CPU DDP."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffn_blocks import SwiGLU
from ffn_data.testing import error_line
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


def test_an_unreadable_image_is_one_error_line_even_from_a_loader_worker(configs, in_tmp_dir):
    for split in ("train", "val"):
        for name in ("cat", "dog"):
            folder = in_tmp_dir / "images" / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((20, 20, 3), 60 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    broken = in_tmp_dir / "images" / "train" / "cat" / "broken.png"
    broken.write_bytes(b"not a png")  # the one training batch (5 images, drop_last) holds it
    args = ["fit", "--config", str(configs / "tiny.yaml"), "--data", "ImageFolderDataModule"]
    args += ["--data.root", str(in_tmp_dir / "images"), "--data.image_size", "16", "--data.batch_size", "5"]
    line = error_line(main, [*args, "--data.num_workers", "1", "--trainer.fast_dev_run", "true"])
    assert line == f"error: {broken}: not an image file"
