"""The study's cost columns: steady-state evaluation throughput and FLOPs per sample of each block's model.

Per app, every block's study model (built as the study trains it, at its matched hidden width) and, for
blocks that reparameterize, its merged form evaluate the same test batch: the module's forward under
``inference_mode`` on the batch's input (its first element; a graph batch whole). The calls are timed
in interleaved rounds (`interleaved_latency`), so load hits every block alike; throughput is the
batch's samples over the median time. FLOPs are counted on one such call by
``torch.utils.flop_counter`` (matrix products and convolutions; elementwise work such as KAN's
rationals is not in it). A *sample* is a row of the batch's first tensor (an image, a window, a mixture,
a pixel); a graph batch counts as one sample. The costs are kept in their own store
(``study_cost.json``, one record per app and block), measured where missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from ffn_blocks import FeedForward, reparameterize

from ..benchmarking import first_batch, interleaved_latency

__all__ = ["batch_samples", "measure_costs"]


def batch_samples(batch: Any) -> int:
    """Samples in a batch: the leading size of its first tensor (a tuple/list/dict batch), else 1."""
    first = batch
    if isinstance(batch, Mapping):
        first = next(iter(batch.values()), None)
    elif isinstance(batch, list | tuple):
        first = batch[0] if batch else None
    return int(first.shape[0]) if isinstance(first, torch.Tensor) and first.dim() > 0 else 1


def _evaluator(model: Any, batch: Any) -> Any:
    """The module's forward on the batch's input (its first element; a graph batch whole), eval mode."""
    model.eval()
    inputs = batch[0] if isinstance(batch, list | tuple) else batch

    def run() -> None:
        with torch.inference_mode():
            model(inputs)

    return run


def _flops(run: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


def measure_costs(clis: Mapping[str, Any], rounds: int = 7) -> dict[str, dict[str, float]]:
    """``{block: {"flops_per_sample", "samples_per_s"[, "merged_samples_per_s"]}}`` for one app's study
    models (block name → the app's built LightningCLI); see the module docstring."""
    batch = first_batch(next(iter(clis.values())).datamodule, "test")
    samples = batch_samples(batch)
    cases, flops = {}, {}
    for block, cli in clis.items():
        cases[block] = _evaluator(cli.model, batch)
        flops[block] = _flops(cases[block])
        if any(hasattr(m, "reparameterize") for m in cli.model.modules() if isinstance(m, FeedForward)):
            cases[f"{block} merged"] = _evaluator(reparameterize(cli.model), batch)
    seconds = interleaved_latency(cases, rounds=rounds, warmup=1)
    costs = {}
    for block in clis:
        costs[block] = {"flops_per_sample": flops[block] / samples, "samples_per_s": samples / seconds[block]}
        if f"{block} merged" in seconds:
            costs[block]["merged_samples_per_s"] = samples / seconds[f"{block} merged"]
    return costs
