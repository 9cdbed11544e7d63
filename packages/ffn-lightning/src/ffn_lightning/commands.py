"""One dispatcher for an app's extra subcommands (``bench``, ``demo``, ``separate``, ...), and the console
entry point every app shares.

An app's ``cli.py`` lists its commands as ``name → "package.module:function"``; `run_command` imports the
named entry point only when that command runs, so a library module never imports a benchmark and
starting the training CLI pays for none of them. `cli_arguments` is the first line of each app's ``cli``
function, `app_main` makes its ``main``; an app with several tasks (``ffn-graphs kg fit``) builds its CLI
with `task_cli`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ffn_data import user_errors

from .allocator import keep_freed_memory

__all__ = ["app_main", "cli_arguments", "run_command", "task_cli"]


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


def cli_arguments(args: Sequence[str] | None, commands: Mapping[str, str]) -> list[str] | None:
    """The arguments for an app's Lightning CLI (``sys.argv[1:]`` when ``args`` is None), or None when
    they named one of the app's ``commands``, which has then run."""
    argv = list(sys.argv[1:] if args is None else args)
    return None if run_command(argv, commands) else argv


def task_cli(
    args: Sequence[str] | None,
    *,
    script: str,
    tasks: Mapping[str, tuple[Any, Any, Any]],
    default: str,
    commands: Mapping[str, str],
    config_dir: Any,
    run: bool = True,
) -> Any:
    """``<script> [task] fit ...``: run one of ``commands``, or build the Lightning CLI of the task the
    arguments start with (``default`` when they name none).

    ``tasks`` maps each task to ``(CLI class, LightningModule, LightningDataModule)``. The task's runs go
    to ``runs/<app>-<task>/`` (``<app>`` is ``script`` without ``ffn-``), and its errors and ``--help``
    name the command as typed (``ffn-graphs kg fit``). Returns the CLI (``run=False``: built, not run),
    or None when a command ran.
    """
    argv = cli_arguments(args, commands)
    if argv is None:
        return None
    named = bool(argv) and argv[0] in tasks
    task = argv.pop(0) if named else default
    cli_class, model_class, data_class = tasks[task]
    return cli_class(
        model_class,
        data_class,
        app_name=f"{script.removeprefix('ffn-')}-{task}",
        prog=f"{script} {task}" if named else script,
        config_dir=config_dir,
        args=argv,
        run=run,
    )


def app_main(cli: Callable[[Sequence[str] | None], Any]) -> Callable[[Sequence[str] | None], None]:
    """The console-script entry point of an app whose CLI function is ``cli``: the allocator setting every
    script starts with, then ``cli(args)``, a user's mistake ending in ``error: <one line>`` and exit
    status 2 (`ffn_data.user_errors`; ``FFN_DEBUG=1`` shows the traceback)."""

    def main(args: Sequence[str] | None = None) -> None:
        keep_freed_memory()
        with user_errors():
            cli(args)

    main.__module__, main.__qualname__ = cli.__module__, "main"
    main.__doc__ = f"Entry point of the console script that runs ``{cli.__module__}.cli``."
    return main
