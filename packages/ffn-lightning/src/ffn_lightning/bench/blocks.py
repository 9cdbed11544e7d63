"""Core benchmark: every `ffn_blocks` block at ViT-B width on 4,096 tokens, fp32, on this machine's CPU.

Prints a table and writes it to BENCHMARKS.md (section ``core-blocks``): parameters, FLOPs per forward,
median latency, latency as a ratio to `MLP` measured in the same interleaved run, the reparameterized
latency as a ratio to its training form, and each block's achieved GFLOP/s as a fraction of this
reference GEMM's rate measured in the same run. Every run is kept in ``--results`` and the section is
rendered from it (``--from-store``: without measuring). Run it with ``ffn-bench-blocks`` (``--help`` for
the sizes).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress
from torch import nn

import ffn_blocks as fb
from ffn_blocks.testing import count_flops

from ..allocator import keep_freed_memory
from ..benchmarking import (
    interleaved_latency,
    markdown_table,
    measured_section,
    measured_template,
    measurement_arguments,
    parameter_count,
)

__all__ = ["Case", "default_cases", "main", "run"]

SECTION = "core-blocks"
_GEMM = "reference GEMM"


@dataclass(frozen=True)
class Case:
    """One benchmark row: a label, a builder ``(width, hidden) -> module``, and the row it merges from."""

    label: str
    build: Callable[[int, int], nn.Module]
    merged_from: str | None = None


def _guided(width: int, hidden: int) -> nn.Module:
    block = fb.LowRankMLP(width, width, hidden_features=hidden, self_guided=True)
    fb.set_guide_ratio(block, 0.5)
    return block


def _merged(build: Callable[[int, int], nn.Module]) -> Callable[[int, int], nn.Module]:
    def merge(width: int, hidden: int) -> nn.Module:
        return fb.reparameterize(build(width, hidden).eval())

    return merge


def default_cases() -> list[Case]:
    """Every block of the catalogue at its defaults (hidden width given), plus merged RePa forms."""
    repa = partial(fb.RePaMLP, idle_ratio=0.75)
    repavit = partial(fb.RePaMLP, idle_ratio=0.75, norm=fb.LastDimBatchNorm, shortcut=True)
    return [
        Case("MLP", lambda c, h: fb.MLP(c, c, hidden_features=h)),
        Case("GLU", lambda c, h: fb.GLU(c, c, hidden_features=h)),
        Case("SwiGLU", lambda c, h: fb.SwiGLU(c, c, hidden_features=h)),
        Case("SwiGLU (hidden ⅔, MLP's params)", lambda c, h: fb.SwiGLU(c, c, hidden_features=2 * h // 3)),
        Case("GeGLU", lambda c, h: fb.GeGLU(c, c, hidden_features=h)),
        Case("LowRankMLP (rank C/4)", lambda c, h: fb.LowRankMLP(c, c, hidden_features=h)),
        Case("LowRankMLP self-guided (ratio 0.5)", _guided),
        Case("BlockDenseMLP (4 blocks, rank C/4)", lambda c, h: fb.BlockDenseMLP(c, c, hidden_features=h)),
        Case("BlockShuffleMLP (4 blocks)", lambda c, h: fb.BlockShuffleMLP(c, c, hidden_features=h)),
        Case("KANLayer (8 groups, rational 5/4)", lambda c, h: fb.KANLayer(c, c, hidden_features=h)),
        Case("MoEMLP 8 experts, top-2", lambda c, h: fb.MoEMLP(c, c, hidden_features=h)),
        Case(
            "MoEMLP 8 experts, top-2, expert hidden ½ (MLP's FLOPs)",
            lambda c, h: fb.MoEMLP(c, c, hidden_features=h // 2),
        ),
        Case(
            "MoE++ 8 + 2 zero + 1 copy + 1 constant, top-2, hidden ½",
            lambda c, h: fb.MoEMLP(
                c, c, hidden_features=h // 2, zero_experts=2, copy_experts=1, constant_experts=1
            ),
        ),
        Case("RePaMLP θ=0.75", lambda c, h: repa(c, c, hidden_features=h)),
        Case("RePaMLP θ=0.75, merged", _merged(lambda c, h: repa(c, c, hidden_features=h)), "RePaMLP θ=0.75"),
        Case("RePaMLP θ=0.75 + BN + shortcut (RePaViT)", lambda c, h: repavit(c, c, hidden_features=h)),
        Case(
            "RePaMLP θ=0.75 + BN + shortcut, merged",
            _merged(lambda c, h: repavit(c, c, hidden_features=h)),
            "RePaMLP θ=0.75 + BN + shortcut (RePaViT)",
        ),
    ]


SETTING = ("tokens", "width", "hidden", "rounds", "warmup")


def run(
    *, tokens: int, width: int, hidden: int, rounds: int, warmup: int, cases: Sequence[Case] | None = None
) -> dict[str, Any]:
    """Measure every case: per label its parameters, FLOPs, median seconds and the label it merges
    from; and the reference GEMM's median seconds (one record of the store)."""
    cases = list(cases or default_cases())
    x = torch.randn(tokens, width, generator=torch.Generator().manual_seed(0))
    modules: dict[str, nn.Module] = {}
    for case in cases:
        torch.manual_seed(0)
        modules[case.label] = case.build(width, hidden).eval()
    flops = {label: count_flops(module, x) for label, module in modules.items()}
    # The reference GEMM is timed inside the same interleaved rounds, so it sees the same machine load.
    weight = torch.randn(width, hidden, generator=torch.Generator().manual_seed(1))
    calls = {label: partial(module, x) for label, module in modules.items()}
    calls[_GEMM] = partial(torch.matmul, x, weight)
    with Progress(transient=True) as progress, torch.inference_mode():
        task = progress.add_task("timing blocks", total=(rounds + warmup) * len(calls))
        latency = interleaved_latency(
            calls, rounds=rounds, warmup=warmup, on_call=lambda _: progress.advance(task)
        )
    blocks = {
        case.label: {
            "params": parameter_count(modules[case.label]),
            "flops": flops[case.label],
            "seconds": latency[case.label],
            "merged_from": case.merged_from,
        }
        for case in cases
    }
    return {"blocks": blocks, "gemm_seconds": latency[_GEMM]}


def table(record: dict[str, Any]) -> tuple[list[str], list[list[object]], float]:
    """The header, rows and reference GEMM GFLOP/s of one stored `run`."""
    peak = 2.0 * record["tokens"] * record["width"] * record["hidden"] / record["gemm_seconds"] / 1e9
    header = [
        "Block",
        "Params (M)",
        "GFLOP / forward",
        "Latency (ms)",
        "× MLP",
        "× training form",
        "GFLOP/s",
        "% of matmul",
    ]
    blocks = record["blocks"]
    rows: list[list[object]] = []
    for label, block in blocks.items():
        seconds, merged_from = block["seconds"], block["merged_from"]
        achieved = block["flops"] / seconds / 1e9
        rows.append(
            [
                label,
                f"{block['params'] / 1e6:.2f}",
                f"{block['flops'] / 1e9:.1f}",
                f"{seconds * 1e3:.1f}",
                f"{seconds / blocks['MLP']['seconds']:.2f}",
                f"{seconds / blocks[merged_from]['seconds']:.2f}" if merged_from else "",
                f"{achieved:.0f}",
                f"{100 * achieved / peak:.0f}%",
            ]
        )
    return header, rows, peak


def section(record: dict[str, Any]) -> str:
    """The ``core-blocks`` section of one stored `run`."""
    header, rows, peak = table(record)
    shape = f"{record['tokens']}×{record['width']} · {record['width']}×{record['hidden']}"
    return measured_template(
        __file__,
        "blocks",
        "ffn-bench-blocks",
        SETTING,
        record,
        shape=shape,
        peak=f"{peak:.0f}",
        table=markdown_table(header, rows),
    )


def main(argv: Sequence[str] | None = None) -> None:
    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="ffn-bench-blocks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=4096, help="rows of the input (default 4096)")
    parser.add_argument("--width", type=int, default=768, help="in = out features (default 768, ViT-B)")
    parser.add_argument("--hidden", type=int, default=3072, help="hidden features (default 3072)")
    parser.add_argument("--rounds", type=int, default=7, help="timed interleaved rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    measurement_arguments(parser, "core-blocks")
    parser.add_argument("--output", default="BENCHMARKS.md", help="markdown file to update ('' to skip)")
    args = parser.parse_args(argv)
    for name in ("tokens", "width", "hidden", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)} must be a positive integer")

    console = Console(width=None if Console().is_terminal else 140)
    console.print(
        f"[bold]Core blocks[/bold]: {args.tokens} tokens, {args.width} → {args.hidden} → {args.width}"
    )
    measure = partial(run, **{k: getattr(args, k) for k in SETTING})
    measured_section(args, SETTING, measure, section, SECTION)


if __name__ == "__main__":
    main()
