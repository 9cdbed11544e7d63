"""The block × app matrix: every `ffn_blocks` block trains one step inside every app, through the app's
real CLI entry on its tiny config.

Both axes are discovered (``ffn_blocks.testing.block_classes()`` and the ``ffn_study.apps`` entry
points), so a new block or a new app is covered without editing this file.
"""

from __future__ import annotations

import pytest
import torch

from ffn_blocks.testing import block_classes
from ffn_lightning import discover_apps

APPS = discover_apps()
BLOCKS = block_classes()


def test_every_app_is_registered():
    assert set(APPS) == {"vision", "timeseries", "graphs", "speech", "fields"}


@pytest.mark.parametrize("app", list(APPS))
@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_block_trains_one_step_in_app(block, app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []
    forward = block.forward

    def recording_forward(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        seen.append(bool(torch.isfinite(out).all()))
        return out

    monkeypatch.setattr(block, "forward", recording_forward)  # the real class, as the CLI builds it
    APPS[app].run(
        "fit",
        "--trainer.fast_dev_run",
        "1",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        block=f"ffn_blocks.{block.__name__}",
    )
    assert seen and all(seen), f"{block.__name__} never ran inside {app} (or gave non-finite outputs)"
