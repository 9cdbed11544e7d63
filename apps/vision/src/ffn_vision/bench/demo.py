"""``ffn-vision demo`` (the README's main job): train a small RePaViT on the bundled digits, merge, compare.

Trains with the shipped ``default.yaml`` through the real CLI, tests, reparameterizes the trained model
(idle channels, BatchNorm and shortcut merged into one matrix per block), tests again, and prints the
test accuracy before and after, the largest logit difference, and the measured inference speed-up on
the test set. Extra arguments go to the CLI (``ffn-vision demo --trainer.max_epochs 5``). Each run is
kept in ``docs/bench-results/vision-demo.json`` under its command, and the section ``vision-demo`` of
BENCHMARKS.md is rendered from it (``--from-store``: from the stored run of that command, training
nothing).
"""

from __future__ import annotations

import copy
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ffn_blocks import reparameterize
from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    interleaved_latency,
    markdown_table,
    parameter_count,
    section_template,
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
    accuracies: Sequence[float], params: list[int], latency: dict[str, float], images: int
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the training form and the merged model, accuracy, size and latency."""
    header = ["", "Test accuracy", "Params", f"Latency, {images} test images (ms)"]
    forms = (("RePaViT (training form)", "training form"), ("RePaViT (merged)", "merged"))
    rows = [
        [label, f"{accuracy:.4f}", f"{count:,}", f"{latency[key] * 1e3:.1f}"]
        for (label, key), accuracy, count in zip(forms, accuracies, params, strict=True)
    ]
    return header, rows


def _run(extra: list[str], console: Console) -> dict[str, Any]:
    """Train, test, merge and time: the demo's record (accuracies and parameters of both forms, their
    latency on the test set, the largest logit change, seconds)."""
    start = time.perf_counter()
    config = CONFIGS / "default.yaml"  # shipped with the package
    args = ["fit", "--config", str(config), *extra]
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
    accuracies = [(lo.argmax(-1) == labels).float().mean().item() for lo in (logits_before, logits_after)]

    # last.ckpt: the final weights, the ones just tested (the config also keeps the best on validation)
    checkpoint = Path(next(c.last_model_path for c in trainer.checkpoint_callbacks if c.last_model_path))
    merged_path = checkpoint.with_name("merged.ckpt")
    merged_module = reparameterize_checkpoint(checkpoint, merged_path, overwrite=True)
    # the saved merged checkpoint computes what the in-memory merge does
    max_diff = max(max_diff, (_test_logits(merged_module.model, images) - logits_before).abs().max().item())
    console.print(f"Merged checkpoint: {merged_path}")

    with torch.inference_mode():
        latency = interleaved_latency(
            {"training form": lambda: module.model(images), "merged": lambda: merged_model(images)}, rounds=15
        )
    return {
        "images": len(images),
        "accuracies": accuracies,
        "params": [parameter_count(m) for m in (module.model, merged_model)],
        "latency_s": latency,
        "max_diff": max_diff,
        "same_predictions": same_predictions,
        "train_s": train_seconds,
        "total_s": time.perf_counter() - start,
    }


def main(argv: Sequence[str] | None = None, output: str | Path = "BENCHMARKS.md") -> None:
    extra = list(sys.argv[2:] if argv is None else argv)
    from_store = "--from-store" in extra  # render the section from the stored run, train nothing
    extra = [arg for arg in extra if arg != "--from-store"]
    console = Console()
    command = shlex.join(["ffn-vision", "demo", *extra])
    store = RunStore(RESULTS_DIR / "vision-demo.json")  # runs by their command
    if not from_store:
        store.put(command, _run(extra, console))
    run = store[command]
    header, rows = _table(run["accuracies"], run["params"], run["latency_s"], run["images"])
    console.print(console_table("RePaViT on digits: before and after reparameterization", header, rows))
    body = section_template(
        __file__,
        "demo",
        command=command,
        machine=run["machine"],
        images=run["images"],
        table=markdown_table(header, rows),
        same=run["same_predictions"],
        max_diff=f"{run['max_diff']:.2e}",
        speedup=f"{run['latency_s']['training form'] / run['latency_s']['merged']:.2f}",
        train_s=f"{run['train_s']:.0f}",
        total_s=f"{run['total_s']:.0f}",
    )
    console.print(body)
    update_markdown_section(output, "vision-demo", body, run["date"])
    if not run["same_predictions"] or run["max_diff"] > 1e-4:
        raise SystemExit(f"ffn-vision demo: merged model differs (max |Δ logit| {run['max_diff']:.2e})")
