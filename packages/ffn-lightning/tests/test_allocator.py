"""`keep_freed_memory`: a freed large temporary's pages are reused instead of faulted in again."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from ffn_lightning import allocator

# A step's pattern: a live input and a 64 MiB temporary made and freed each round. Prints whether the
# setting applied and the minor page faults per page of temporary over 8 rounds after 16 warm-up ones.
_PROBE = """
import importlib.util, resource, sys, torch
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1])  # not the whole package: fast
allocator = importlib.util.module_from_spec(spec)
spec.loader.exec_module(allocator)
applied = allocator.keep_freed_memory()
x = torch.ones(2**24)
for _ in range(16):  # until the heap holds blocks that fit (an aligned request can need a few bytes
    x * 2  # more than the block freed before it, so the heap grows a few times first)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(8):
    x * 2
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (8 * 2**26 / 4096))
"""


def _probe(malloc: str) -> tuple[bool, float]:
    env = {**os.environ, "FFN_MALLOC": malloc}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, allocator.__file__],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0] == "True", float(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_freed_memory_is_reused_unless_opted_out() -> None:
    applied, kept = _probe("keep")
    opted_out, system = _probe("system")
    assert applied and not opted_out
    assert system > 0.5, system  # glibc's default: a fresh mmap, faulted in page by page, every round
    assert kept < 0.1, kept  # kept: once warm, the freed blocks serve every round
