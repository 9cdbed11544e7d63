"""Same command, same seed, same numbers: a short fit of every app, run twice in fresh processes at once,
ends with identical weights (exact equality) and identical logged metrics.

The two runs share the cores, so the threads of each finish in different orders: an operation whose
result depends on that order (a multithreaded sum with atomics, advanced indexing's backward) shows up.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from ffn_lightning import discover_apps

APPS = discover_apps()
# every app's tiny config, and the KG task, where NBFNet's gathers and scatters are the risk
CASES = [(name, app.tiny_config) for name, app in APPS.items()] + [("graphs", "kg_tiny.yaml")]
# more steps where a tiny config stops after two or three, fewer where it trains for a while
STEPS = {
    ("graphs", "kg_tiny.yaml"): ["--trainer.limit_train_batches=12"],
    ("vision", "tiny.yaml"): ["--trainer.max_epochs=1"],
}

_FIT = """
import sys, torch
from ffn_lightning import discover_apps
app, config, out, *extra = sys.argv[1:]
cli = discover_apps(app)[app].instantiate(config, extra=extra)
cli.trainer.fit(cli.model, datamodule=cli.datamodule)
torch.save(cli.model.state_dict(), out)
"""


@pytest.mark.parametrize(("app", "config"), CASES, ids=[f"{a}:{c}" for a, c in CASES])
def test_two_runs_of_one_command_agree_bit_for_bit(app, config, tmp_path):
    runs = []
    for run in ("a", "b"):
        extra = [
            f"--trainer.default_root_dir={tmp_path / run}",
            "--trainer.log_every_n_steps=1",
            "--trainer.enable_progress_bar=false",
            *STEPS.get((app, config), []),
        ]
        command = [sys.executable, "-c", _FIT, app, config, str(tmp_path / f"{run}.pt"), *extra]
        runs.append(
            subprocess.Popen(command, cwd=tmp_path, env=os.environ, stderr=subprocess.PIPE, text=True)
        )
    errors = [run.communicate(timeout=900)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors[0][-3000:] + errors[1][-3000:]
    first, second = (torch.load(tmp_path / f"{run}.pt") for run in ("a", "b"))
    assert first.keys() == second.keys()
    different = [key for key in first if not torch.equal(first[key], second[key])]
    assert not different, different
    metrics = [(tmp_path / run / "csv" / "version_0" / "metrics.csv").read_text() for run in ("a", "b")]
    assert metrics[0].count("\n") > 1 and metrics[0] == metrics[1]
