"""``ffn-vision demo`` (the README's main job): train a small RePaViT on the bundled digits, merge, compare.

Trains with the shipped ``default.yaml`` through the real CLI, tests, reparameterizes the trained model
(idle channels, BatchNorm and shortcut merged into one matrix per block), tests again, and prints the
test accuracy before and after, the largest logit difference, and the measured inference speed-up on
the test set. Extra arguments go to the CLI (``ffn-vision demo --trainer.max_epochs 5``).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console

from ffn_blocks import reparameterize
from ffn_lightning.benchmarking import (
    console_table,
    interleaved_latency,
    machine_description,
    markdown_table,
    parameter_count,
    update_markdown_section,
)

from ..cli import CONFIGS, VisionCLI
from ..data import ImageDataModule
from ..export import reparameterize_checkpoint
from ..module import ImageClassifier

__all__ = ["main"]


def _test_logits(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model.eval()(images)


def _table(
    accuracies: tuple[float, float], params: list[int], latency: dict[str, float], images: int
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the training form and the merged model, accuracy, size and latency."""
    header = ["", "Test accuracy", "Params", f"Latency, {images} test images (ms)"]
    forms = (("RePaViT (training form)", "training form"), ("RePaViT (merged)", "merged"))
    rows = [
        [label, f"{accuracy:.4f}", f"{count:,}", f"{latency[key] * 1e3:.1f}"]
        for (label, key), accuracy, count in zip(forms, accuracies, params, strict=True)
    ]
    return header, rows


def main(argv: Sequence[str] | None = None) -> None:
    start = time.perf_counter()
    config = CONFIGS / "default.yaml"  # shipped with the package
    console = Console()
    args = ["fit", "--config", str(config), *(sys.argv[2:] if argv is None else argv)]
    cli = VisionCLI(ImageClassifier, ImageDataModule, subclass_mode_data=True, app_name="vision", args=args)
    trainer, module, data = cli.trainer, cli.model, cli.datamodule
    train_seconds = time.perf_counter() - start

    batches = list(data.test_dataloader())
    images, labels = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    merged_model = reparameterize(copy.deepcopy(module.model).eval())
    logits_before, logits_after = _test_logits(module.model, images), _test_logits(merged_model, images)
    max_diff = (logits_before - logits_after).abs().max().item()
    same_predictions = bool(torch.equal(logits_before.argmax(-1), logits_after.argmax(-1)))
    # both accuracies from the same one-batch logits: batched evaluation in other batch sizes rounds
    # differently and can flip a near-tie, which would read as a change the merge did not make
    accuracy_before, accuracy_after = (
        (lo.argmax(-1) == labels).float().mean().item() for lo in (logits_before, logits_after)
    )

    # last.ckpt: the final weights, the ones just tested (the config also keeps the best on validation)
    checkpoint = Path(next(c.last_model_path for c in trainer.checkpoint_callbacks if c.last_model_path))
    merged_path = checkpoint.with_name("merged.ckpt")
    merged_module = reparameterize_checkpoint(checkpoint, merged_path, overwrite=True)
    # the saved merged checkpoint computes what the in-memory merge does
    max_diff = max(max_diff, (_test_logits(merged_module.model, images) - logits_before).abs().max().item())

    with torch.inference_mode():
        latency = interleaved_latency(
            {"training form": lambda: module.model(images), "merged": lambda: merged_model(images)}, rounds=15
        )
    speedup = latency["training form"] / latency["merged"]
    params = [parameter_count(m) for m in (module.model, merged_model)]
    total = time.perf_counter() - start

    header, rows = _table((accuracy_before, accuracy_after), params, latency, len(images))
    console.print(console_table("RePaViT on digits: before and after reparameterization", header, rows))
    summary = (
        f"Same predictions after merging: {same_predictions}; max |Δ logit| = {max_diff:.2e}; inference "
        f"speed-up {speedup:.2f}× (fp32 CPU, same run). Training {train_seconds:.0f} s, "
        f"whole demo {total:.0f} s. "
        f"Merged checkpoint: {merged_path}"
    )
    console.print(summary)
    body = (
        "## Vision demo: RePaViT on the bundled digits (`make demo`)\n\n"
        f"Command: `ffn-vision demo` (the shipped config `default.yaml`). Machine: "
        f"{machine_description()}. {len(images)} held-out test digits.\n\n{markdown_table(header, rows)}\n\n"
        f"{summary.split(' Merged checkpoint')[0]}\n"
    )
    update_markdown_section("BENCHMARKS.md", "vision-demo", body)
    if not same_predictions or max_diff > 1e-4:
        raise SystemExit(f"ffn-vision demo: merged model differs (max |Δ logit| {max_diff:.2e})")
