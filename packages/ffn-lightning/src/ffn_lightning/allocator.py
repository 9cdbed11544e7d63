"""Keep freed memory in the process (glibc) so CPU training stops page-faulting its large temporaries.

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and
returns it to the kernel on ``free``. A CPU training step that builds tensors of tens of MiB (NBFNet's
per-edge messages, FloydNet's pair tensors at n = 64) therefore pays a page fault and a zero-fill for
every 4 KiB of every temporary, in every step (on UMLS, most of NBFNet's CPU step). PyTorch's CPU
tuning guide answers the same problem by preloading jemalloc or tcmalloc; `keep_freed_memory` gets the
effect without a preload, by telling glibc (``mallopt``) to serve large blocks from the heap and to
keep up to 2 GiB of freed heap for reuse. The price: the process's resident memory stays near its
peak, and the heap grows a few times before its freed blocks fit the aligned requests.

The apps' console scripts call it at start-up; ``FFN_MALLOC=system`` in the environment keeps glibc's
defaults. Elsewhere (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1  # <malloc.h>: keep this much free memory at the top of the heap
_M_MMAP_MAX = -4  # <malloc.h>: the most blocks served by mmap at once (0: none)
_KEEP_BYTES = 2**31 - 1  # mallopt takes an int


def keep_freed_memory() -> bool:
    """Serve large allocations from glibc's heap and keep freed memory for reuse.

    Returns:
        Whether the setting was applied (False off glibc, or with ``FFN_MALLOC=system``).
    """
    if os.environ.get("FFN_MALLOC", "").lower() == "system" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
