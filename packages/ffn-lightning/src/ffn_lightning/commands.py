"""One dispatcher for an app's extra subcommands (``bench``, ``demo``, ``separate``, ...).

An app's ``cli.py`` lists its commands as ``name → "package.module:function"``; `run_command` imports the
named entry point only when that command runs, so a library module never imports a benchmark and
starting the training CLI pays for none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence

__all__ = ["run_command"]


def run_command(argv: Sequence[str], commands: Mapping[str, str]) -> bool:
    """Run ``commands[argv[0]]`` with ``argv[1:]`` if the first argument names a command.

    Returns True when a command ran, False when ``argv`` is for the app's Lightning CLI.
    """
    if not argv or argv[0] not in commands:
        return False
    module, _, function = commands[argv[0]].partition(":")
    entry = getattr(importlib.import_module(module), function or "main")
    entry(list(argv[1:]))
    return True
