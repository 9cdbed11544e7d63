"""What `keep_freed_memory` buys a CPU training step: step time and page faults, glibc's default beside it.

A stack of residual FFN blocks (ViT-S width, many tokens: tens of MiB of activations per block) trains
with AdamW in a fresh process per arm, since ``mallopt`` settings last for the process. The arms
alternate over rounds; each reports its steps' wall times and minor page faults after warm-up, and the
table shows the medians and the ratio of the kept-memory step to glibc's. Every run is kept in
``--results``; BENCHMARKS.md's section ``allocator`` is rendered from it (``--from-store``: without
measuring). Run with ``ffn-bench-allocator``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from ..benchmarking import (
    markdown_table,
    measured_section,
    measured_template,
    measurement_arguments,
)

__all__ = ["main"]

# One arm, in its own process: apply (or not) the setting, train, print per-step times and faults.
_ARM = """
import json, resource, sys, time, torch
from torch import nn
from ffn_blocks import MLP
from ffn_lightning import keep_freed_memory
width, depth, tokens, steps, warmup = map(int, sys.argv[1:6])
applied = keep_freed_memory()
torch.manual_seed(0)
norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
blocks = nn.ModuleList(MLP(width, width) for _ in range(depth))
optimizer = torch.optim.AdamW([*norms.parameters(), *blocks.parameters()], lr=1e-3)
x, seconds, faults = torch.randn(tokens, width), [], []
for step in range(warmup + steps):
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    h = x
    for norm, block in zip(norms, blocks):
        h = h + block(norm(h))
    loss = h.square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step >= warmup:
        seconds.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "seconds": seconds, "faults": faults}))
"""


def _arm(malloc: str, args: argparse.Namespace) -> dict[str, list[float]]:
    sizes = [str(v) for v in (args.width, args.depth, args.tokens, args.steps, args.warmup)]
    out = subprocess.run(
        [sys.executable, "-c", _ARM, *sizes],
        env={**os.environ, "FFN_MALLOC": malloc},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


ARMS = {"glibc default (FFN_MALLOC=system)": "system", "keep_freed_memory": "keep"}
SETTING = ("width", "depth", "tokens", "steps", "warmup", "rounds")


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every arm's measured step seconds and minor page faults, over all rounds."""
    seconds: dict[str, list[float]] = {name: [] for name in ARMS}
    faults: dict[str, list[float]] = {name: [] for name in ARMS}
    for _ in range(args.rounds):
        for name, malloc in ARMS.items():
            run = _arm(malloc, args)
            if run["applied"] != (malloc == "keep"):
                raise SystemExit(f"error: the {malloc!r} arm could not set glibc's allocator (not glibc?)")
            seconds[name] += run["seconds"]
            faults[name] += run["faults"]
    return {"seconds": seconds, "faults": faults}


def section(run: dict[str, Any]) -> str:
    """The ``allocator`` section of one stored run."""
    base = statistics.median(run["seconds"][next(iter(ARMS))])
    rows = [
        [
            name,
            f"{statistics.median(run['seconds'][name]) * 1e3:.0f}",
            f"{statistics.median(run['seconds'][name]) / base:.2f}",
            f"{statistics.median(run['faults'][name]):.0f}",
        ]
        for name in ARMS
    ]
    header = ["Allocator", "Median step (ms)", "× glibc default", "Minor page faults / step"]
    return measured_template(
        __file__,
        "allocator",
        "ffn-bench-allocator",
        SETTING,
        run,
        hidden=4 * run["width"],
        table=markdown_table(header, rows),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-bench-allocator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=8192, help="rows per step")
    parser.add_argument("--steps", type=int, default=10, help="measured steps per arm and round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two arms")
    measurement_arguments(parser, "allocator")
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    measured_section(args, SETTING, lambda: _measure(args), section, "allocator")


if __name__ == "__main__":
    main()
