"""``ffn-vision bench``: RePaViT merge speed-up, PoolFormer vs timm, and parameter counts, into BENCHMARKS.md.

- RePaViT-B (θ = 0.75) end-to-end throughput, merged vs training form, batch 16 at 224², fp32 CPU,
  beside the paper's +57.8 % (DeiT-B, A6000 GPU).
- Our PoolFormer-S12 forward time against timm's ``poolformer_s12`` (same parameter count).
- ``--device cuda --precision fp32 bf16``: the same two comparisons on a GPU, batch 64 in
  `make gpu-check`, into their own section (``vision-gpu``).
- Parameter counts: PoolFormer S12…M48 against timm; RePaViT sizes, training form and merged.
Timings are medians of interleaved rounds; every ratio comes from one run. CPU runs are kept in
``--results`` and the section is rendered from them (``--from-store``: without measuring).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial

import timm
import torch
from rich.console import Console
from timm.models import VisionTransformer

import ffn_vision.models  # noqa: F401 -- registers the models
from ffn_blocks import LastDimBatchNorm, RePaMLP, reparameterize
from ffn_lightning.benchmarking import (
    console_table,
    interleaved_latency,
    markdown_table,
    measured_section,
    measurement_arguments,
    parameter_count,
    section_template,
    update_markdown_section,
)

from ..models import POOLFORMER_SIZES, REPAVIT_SIZES

__all__ = ["main"]


def _counts() -> tuple[list[str], list[list[object]], list[str], list[list[object]]]:
    pool_rows = []
    for size in POOLFORMER_SIZES:
        with torch.device("meta"):  # shapes only: counting needs no memory or init time
            ours = parameter_count(timm.create_model(f"ffn_poolformer_{size}"))
            ref = parameter_count(timm.create_model(f"poolformer_{size}"))
        pool_rows.append(
            [f"PoolFormer-{size.upper()}", f"{ours:,}", f"{ref:,}", "yes" if ours == ref else "NO"]
        )
    vit_rows = []
    for size, (width, depth, heads) in REPAVIT_SIZES.items():
        with torch.device("meta"):  # DeiT/ViT of the same width, depth and heads, timm's own class
            vit = parameter_count(
                VisionTransformer(img_size=224, patch_size=16, embed_dim=width, depth=depth, num_heads=heads)
            )
        row: list[object] = [f"RePaViT-{size}", f"{vit / 1e6:.2f} M"]
        for theta in (0.5, 0.75):
            with torch.device("meta"):  # the official FFN: both BatchNorms, folded on merge
                model = timm.create_model(
                    f"ffn_repavit_{size}_patch16_224",
                    ffn=partial(RePaMLP, idle_ratio=theta, hidden_norm=LastDimBatchNorm),
                )
                merged = reparameterize(model.eval())
            if theta == 0.5:
                row += [f"{parameter_count(model) / 1e6:.2f} M", f"+{parameter_count(model) - vit:,}"]
            row.append(f"{parameter_count(merged) / 1e6:.2f} M")
            del model, merged
        vit_rows.append(row)
    return (
        ["Model", "Ours (MLP)", "timm", "Equal"],
        pool_rows,
        [
            "Model (patch 16, 224²)",
            "DeiT/ViT",
            "Training form",
            "Training − DeiT",
            "Merged θ=0.5",
            "Merged θ=0.75",
        ],
        vit_rows,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-vision bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda: the GPU rows (section vision-gpu)")
    parser.add_argument(
        "--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"], help="bf16: autocast"
    )
    measurement_arguments(parser, "vision-models")
    parser.add_argument("--output", default="BENCHMARKS.md", help="markdown file to update ('' to skip)")
    return parser


def _timings(models: dict[str, torch.nn.Module], images: torch.Tensor, precision: str, rounds: int) -> dict:
    """Median forward seconds of each model on ``images`` (interleaved; CUDA synchronized per call)."""
    device = images.device

    def forward(model: torch.nn.Module) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            model(images)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with torch.inference_mode():
        return interleaved_latency({name: partial(forward, m) for name, m in models.items()}, rounds=rounds)


def _models(device: torch.device) -> dict[str, torch.nn.Module]:
    repavit = timm.create_model("ffn_repavit_base_patch16_224").eval().to(device)
    return {
        "RePaViT-B training form": repavit,
        "RePaViT-B merged": reparameterize(repavit),
        "PoolFormer-S12 (ours)": timm.create_model("ffn_poolformer_s12").eval().to(device),
        "poolformer_s12 (timm)": timm.create_model("poolformer_s12").eval().to(device),
    }


def _gpu_section(args: argparse.Namespace, models: dict, images: torch.Tensor, console: Console) -> str:
    header = ["Precision", "RePaViT-B training img/s", "merged img/s", "merge speed-up"]
    header += ["PoolFormer-S12 ours / timm"]
    rows = []
    for precision in args.precision:
        seconds = _timings(models, images, precision, args.rounds)
        train, merged = (args.batch / seconds[f"RePaViT-B {form}"] for form in ("training form", "merged"))
        speedup = merged / train
        ratio = seconds["PoolFormer-S12 (ours)"] / seconds["poolformer_s12 (timm)"]
        gain = f"{speedup:.2f}× (+{100 * (speedup - 1):.1f} %)"
        rows.append([precision, f"{train:.0f}", f"{merged:.0f}", gain, f"{ratio:.2f}×"])
    device = torch.cuda.get_device_name(images.device)
    console.print(console_table(f"Vision models, {device}", header, rows))
    command = (
        f"ffn-vision bench --device {args.device} --batch {args.batch} --precision {' '.join(args.precision)}"
    )
    return (
        "## Vision on GPU: RePaViT-B merge speed-up, PoolFormer-S12 against timm\n\n"
        f"Command: `{command}` (part of `make gpu-check`). Device: {device}; "
        f"torch {torch.__version__}. {args.batch} images at 224², eval mode, forward only, median of "
        f"{args.rounds} interleaved rounds. Targets: merge speed-up ≥ +60 % (paper: +57.8 % for DeiT-B on an "
        "A6000); PoolFormer-S12 ≤ 1.05× timm's time.\n\n"
        f"{markdown_table(header, rows)}\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    console = Console(width=None if Console().is_terminal else 140)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if args.from_store and device.type != "cpu":
        parser.error("--from-store renders the CPU section; GPU rows are measured each time")
    images = torch.randn(args.batch, 3, 224, 224, device=device)
    models = {} if args.from_store else _models(device)
    if device.type != "cpu":
        body = _gpu_section(args, models, images, console)
        if args.output:
            update_markdown_section(args.output, "vision-gpu", body)
        return
    measure = partial(_measure, models, images, args)
    measured_section(
        args, ("batch", "rounds"), measure, partial(_cpu_section, console=console), "vision-models"
    )


def _measure(models: dict[str, torch.nn.Module], images: torch.Tensor, args: argparse.Namespace) -> dict:
    """Each model's parameters and median forward seconds, and the merge's largest logit change."""
    with torch.inference_mode():
        max_diff = models["RePaViT-B training form"](images[:2]) - models["RePaViT-B merged"](images[:2])
    return {
        "params": {name: parameter_count(m) for name, m in models.items()},
        "seconds": _timings(models, images, args.precision[0], args.rounds),
        "max_diff": max_diff.abs().max().item(),
    }


def _cpu_section(run: dict, console: Console) -> str:
    """The ``vision-models`` section of one stored CPU run (and the parameter counts, from the code)."""
    seconds, batch = run["seconds"], run["batch"]
    speedup = seconds["RePaViT-B training form"] / seconds["RePaViT-B merged"]
    pool_ratio = seconds["PoolFormer-S12 (ours)"] / seconds["poolformer_s12 (timm)"]
    header = ["Model", "Params (M)", f"Batch {batch} forward (ms)", "Images/s"]
    rows = [
        [name, f"{run['params'][name] / 1e6:.2f}", f"{t * 1e3:.0f}", f"{batch / t:.1f}"]
        for name, t in seconds.items()
    ]
    count_header, count_rows, vit_header, vit_rows = _counts()
    console.print(console_table("Vision models, fp32 CPU", header, rows))
    return section_template(
        __file__,
        "models",
        command=f"ffn-vision bench --batch {batch} --rounds {run['rounds']}",
        machine=run["machine"],
        batch=batch,
        rounds=run["rounds"],
        table=markdown_table(header, rows),
        speedup=f"{speedup:.2f}",
        gain=f"{100 * (speedup - 1):.1f}",
        max_diff=f"{run['max_diff']:.1e}",
        pool_ratio=f"{pool_ratio:.2f}",
        count_table=markdown_table(count_header, count_rows),
        vit_table=markdown_table(vit_header, vit_rows),
    )
