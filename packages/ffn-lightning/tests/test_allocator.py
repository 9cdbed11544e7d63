"""`keep_freed_memory`: the glibc setting itself, read back from the allocator (no timing, no faults).

What the setting buys a training step is a benchmark (`ffn-bench-allocator`, BENCHMARKS.md), not a test:
page faults and step times depend on what else the machine runs.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from ffn_lightning import allocator

# Apply (or not) the setting, allocate a 64 MiB buffer, and print whether the setting applied and how many
# more bytes glibc then serves from mmap'ed blocks (mallinfo2's hblkhd): with the setting, none.
_PROBE = """
import ctypes, ctypes.util, importlib.util, sys
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1])  # not the whole package: fast
allocator = importlib.util.module_from_spec(spec)
spec.loader.exec_module(allocator)
applied = allocator.keep_freed_memory()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
before = libc.mallinfo2().hblkhd
buffer = libc.malloc(64 << 20)
print(applied, libc.mallinfo2().hblkhd - before)
"""


def _probe(malloc: str) -> tuple[bool, int]:
    env = {**os.environ, "FFN_MALLOC": malloc}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, allocator.__file__],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_large_blocks_come_from_the_heap_unless_opted_out() -> None:
    applied, mapped = _probe("keep")
    opted_out, mapped_by_default = _probe("system")
    assert applied and not opted_out
    assert mapped_by_default >= 64 << 20  # glibc's default: a 64 MiB block is its own mmap
    assert mapped == 0  # kept: it comes from the heap, where freed memory stays for the next step


def test_does_nothing_when_opted_out(monkeypatch) -> None:
    monkeypatch.setenv("FFN_MALLOC", "system")
    assert allocator.keep_freed_memory() is False
