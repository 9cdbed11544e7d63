"""`StudyApp`: what cross-app tools need to know about an app, and discovery through entry points.

Each app registers one `StudyApp` under the ``ffn_study.apps`` entry-point group in its
``pyproject.toml``::

    [project.entry-points."ffn_study.apps"]
    vision = "ffn_vision.cli:STUDY"

The block × app test matrix, the resume and DDP tests and the ``ffn-bench`` study iterate
`discover_apps()`, so a new app joins all of them by registering itself, with no edits elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

__all__ = ["ENTRY_POINT_GROUP", "Slot", "StudyApp", "discover_apps"]

ENTRY_POINT_GROUP = "ffn_study.apps"


@dataclass(frozen=True)
class Slot:
    """A place where an app's configs choose one of its classes by ``class_path``.

    Args:
        key: the config key, e.g. ``model.network`` (``init_args`` levels included, as in YAML).
        classes: the class paths a config may put there.
        config: the config (under the app's ``configs``) the choice is made on; its task is the
            config's (`StudyApp.task_of`).
        init_args: arguments every class of the slot needs from a config (e.g. a network's widths).
    """

    key: str
    classes: tuple[str, ...]
    config: str = "tiny.yaml"
    init_args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyApp:
    """One app as the study sees it: its CLI entry, configs, where the FFN block goes and what to report.

    Args:
        name: short name (``vision``, ``graphs``, ...).
        cli: the app's CLI as a function ``cli(argv, *, run=True)`` (what ``ffn-<app>`` runs); with
            ``run=False`` it returns the built LightningCLI.
        configs: the app's config folder.
        task: leading arguments that pick the app's task (``("nodes",)`` for ``ffn-graphs nodes``).
        tiny_config: config (under ``configs``) of the smallest run, for tests.
        study_config: config of the small real-data run the ``ffn-bench`` study trains.
        block_argument: the CLI key that sets the FFN block, e.g. ``--model.ffn``.
        fixed_arguments: extra arguments every study/test run needs (e.g. a conv that has an FFN).
        block_init_args: init arguments every block the study swaps in gets, beside its width: what the
            app's own FFN has inside that a bare block lacks (speech: ``norm``, the ScaleNorm at the
            input of MossFormer2's FFConvM; without it the gated output FFN's input is unnormalized).
        metric: the logged test metric the study reports, e.g. ``test/acc``.
        higher_is_better: direction of ``metric``.
        run_dir: the app's folder under ``runs/`` (its ``FFNLightningCLI`` ``app_name``).
        config_tasks: configs (file-name prefixes, relative to ``configs``) that belong to another task
            of the app, e.g. ``{"kg": ("kg",)}`` for ``ffn-graphs kg``; others take ``task``.
        slots: where the app's configs choose among its own classes (networks, fields, DataModules);
            the root tests build every class of every slot through the app's parser.
    """

    name: str
    cli: Callable[..., Any]
    configs: Path
    block_argument: str
    metric: str
    higher_is_better: bool
    run_dir: str
    task: tuple[str, ...] = ()
    tiny_config: str = "tiny.yaml"
    study_config: str = "tiny.yaml"
    fixed_arguments: tuple[str, ...] = field(default_factory=tuple)
    block_init_args: dict[str, Any] = field(default_factory=dict)
    config_tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    slots: tuple[Slot, ...] = ()

    def task_of(self, config: str | Path) -> tuple[str, ...]:
        """The task arguments a config (a path under ``configs``) runs with."""
        relative = Path(config).resolve().relative_to(self.configs.resolve()).as_posix()
        for prefix, task in self.config_tasks.items():
            if relative.startswith(prefix):
                return task
        return self.task

    def instantiate(self, *configs: str | Path, extra: Sequence[str] = ()) -> Any:
        """Build (not run) the app's CLI from configs under ``configs``; the task comes from the first."""
        paths = [self.configs / c for c in configs]
        args = [*self.task_of(paths[0])]
        for path in paths:
            args += ["--config", str(path)]
        return self.cli([*args, *extra], run=False)

    def arguments(self, subcommand: str, config: str | None = None, block: str | None = None) -> list[str]:
        """``[*task, subcommand, --config <config>, *fixed_arguments, --<block_argument> <block>]``."""
        args = [*self.task, subcommand, "--config", str(self.configs / (config or self.tiny_config))]
        args += list(self.fixed_arguments)
        if block is not None:
            args += [self.block_argument, block]
        return args

    def run(self, subcommand: str, *extra: str, config: str | None = None, block: str | None = None) -> None:
        """Run the app's real CLI entry."""
        self.cli([*self.arguments(subcommand, config, block), *extra])


def discover_apps(*names: str) -> dict[str, StudyApp]:
    """Every installed app's `StudyApp`, by name (sorted); only those in ``names`` when given, so that
    a process that needs one app imports only that one."""
    found = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if names and point.name not in names:
            continue
        app = point.load()
        if not isinstance(app, StudyApp):
            raise TypeError(
                f"entry point {point.name} = {point.value} is not a StudyApp but {type(app).__name__}"
            )
        found[app.name] = app
    return dict(sorted(found.items()))
