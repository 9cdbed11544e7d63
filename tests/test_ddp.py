"""Scale-out: every app trains with Lightning's DDP on CPU, two gloo processes, through its console script.

The console script is what DDP re-launches for the second rank, so this is the real multi-process path
(`--trainer.strategy ddp --trainer.devices 2 --trainer.accelerator cpu`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ffn_lightning import discover_apps

APPS = discover_apps()


@pytest.mark.parametrize("app", list(APPS))
def test_two_process_cpu_ddp(app, tmp_path):
    spec = APPS[app]
    script = Path(sys.executable).parent / f"ffn-{app}"
    assert script.is_file(), f"{app}: console script {script} missing"
    command = [
        str(script),
        *spec.arguments("fit"),
        "--trainer.accelerator=cpu",
        "--trainer.strategy=ddp",
        "--trainer.devices=2",
        "--trainer.max_steps=2",
        "--trainer.max_epochs=2",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_checkpointing=true",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in output
    assert list(tmp_path.glob("runs/**/checkpoints/*.ckpt")), "rank 0 wrote no checkpoint"
