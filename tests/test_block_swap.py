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


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_a_block_swapped_in_for_mlp_keeps_its_own_defaults(block):
    """jsonargparse carries the init arguments two classes share over when a config swaps one class for
    another: each block swapped in for the apps' default `MLP` gets the MLP's values of the shared
    arguments (``act``, ``bias``, ``dropout``, ``norm``, ...). That is the swap users mean only where the
    block's own default equals the MLP's; a block whose default differs (KANLayer's LayerNorm in front
    of its rationals, once called ``norm``) would silently lose it, so none may differ."""
    import inspect

    from ffn_blocks import MLP

    mlp = inspect.signature(MLP).parameters
    own = inspect.signature(block).parameters
    shared = (name for name in own if name in mlp and name not in ("in_features", "out_features"))
    differ = {name: own[name].default for name in shared if own[name].default != mlp[name].default}
    assert not differ, f"{block.__name__}'s defaults differ from MLP's, and a swap would drop them: {differ}"
