"""`FFNLightningCLI`: the LightningCLI every app builds on (seed, loggers, rich progress bar, defaults).

Apps subclass it only to add argument links (``parser.link_arguments(..., apply_on="instantiate")``)
and their own defaults; everything else is Lightning's own CLI: ``fit``, ``validate``, ``test``,
``predict``, ``--config``, ``--print_config``.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.trainer import Trainer

from .resume import ExactResume

__all__ = ["FFNLightningCLI", "default_trainer_settings", "resolve_configs"]


class _NoAdvertisement(logging.Filter):
    """Drops Lightning's "💡 Tip" advertisement (for a cloud service) that every `Trainer` prints: a bench
    builds dozens of trainers, and the tips buried its table."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_NoAdvertisement())

#: Seed used when a config does not set ``seed_everything``: runs are reproducible by default.
DEFAULT_SEED = 0


def default_log_root(app_name: str) -> str:
    """Where an app's logs and checkpoints go unless ``--trainer.default_root_dir`` says otherwise."""
    return f"runs/{app_name}"


def default_trainer_settings(app_name: str) -> dict[str, Any]:
    """Trainer defaults shared by the apps: TensorBoard and CSV loggers under ``runs/<app>/``.

    Both loggers keep their own version counter in their own folder (``runs/<app>/tensorboard/version_N``
    and ``runs/<app>/csv/version_N``), so they never race for one directory. Checkpoints land under the
    first logger's folder, as Lightning does by default.
    """
    root = default_log_root(app_name)
    return {
        "logger": [
            {
                "class_path": f"{TensorBoardLogger.__module__}.TensorBoardLogger",
                "init_args": {"save_dir": root, "name": "tensorboard"},
            },
            {
                "class_path": f"{CSVLogger.__module__}.CSVLogger",
                "init_args": {"save_dir": root, "name": "csv"},
            },
        ],
    }


def resolve_configs(args: Sequence[str], config_dir: Path) -> list[str]:
    """``--config NAME`` arguments that name no file are looked up among an app's shipped configs.

    A path that exists (relative to the working directory) is used as it is; otherwise ``NAME`` and
    ``NAME.yaml`` are tried under ``config_dir``, so ``ffn-vision fit --config default.yaml`` (or
    ``--config presets/spectral``) works from any directory and from a wheel install.
    """

    def resolve(value: str) -> str:
        if Path(value).is_file() or value.lstrip().startswith(("{", "[")) or "\n" in value:
            return value  # an existing file, or an inline YAML/JSON config
        for candidate in (config_dir / value, config_dir / f"{value}.yaml"):
            if candidate.is_file():
                return str(candidate)
        return value  # jsonargparse reports it

    resolved, previous = [], None
    for arg in args:
        if previous == "--config":
            arg = resolve(arg)
        elif arg.startswith("--config="):
            arg = "--config=" + resolve(arg.split("=", 1)[1])
        resolved.append(arg)
        previous = arg
    return resolved


class OneLineErrorParser(LightningArgumentParser):
    """Lightning's parser whose errors are one ``error:`` line on stderr and exit status 2, without the
    70-line usage argparse prints first (``--help`` has it); ``FFN_DEBUG=1`` raises instead."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or os.environ.get("FFN_DEBUG"):
            super().error(message, ex)
        detail = " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
        prog = (getattr(ex, "subcommand_parser", None) or self).prog.replace(" [options]", "")
        sys.stderr.write(f"error: {detail} (options: {prog} --help)\n")
        self.exit(2)


class FFNLightningCLI(LightningCLI):
    """LightningCLI with the study's defaults.

    - ``seed_everything`` defaults to 0, so every run is reproducible unless a config says otherwise.
    - TensorBoard + CSV loggers under ``runs/<app_name>/`` (override with ``--trainer.logger``);
      ``--trainer.default_root_dir DIR`` moves them, and the checkpoints under them, to ``DIR``.
    - `ExactResume` (random state in checkpoints, loader positions), so ``--ckpt_path last`` resumes
      exactly.
    - A rich progress bar unless ``--trainer.enable_progress_bar false`` or another bar is configured.
    - The resolved config is saved beside the logs, overwriting a stale one from an earlier run.
    - ``--config NAME`` finds the app's shipped configs by name (`resolve_configs`).
    - Parse errors are one line (`OneLineErrorParser`).

    Args:
        model_class: the app's LightningModule (or a base class with ``subclass_mode_model``).
        datamodule_class: the app's LightningDataModule.
        app_name: folder name under ``runs/``.
        prog: the command a user typed, as errors and ``--help`` name it (``ffn-graphs kg``); by default
            the script's name.
        config_dir: the app's shipped configs (package data), where ``--config NAME`` is looked up.
        trainer_defaults: extra Trainer defaults, merged over the shared ones.
        **kwargs: anything else `lightning.pytorch.cli.LightningCLI` accepts (``args``, ``run``, ...).
    """

    def __init__(
        self,
        model_class: Any = None,
        datamodule_class: Any = None,
        *,
        app_name: str,
        prog: str | None = None,
        config_dir: Path | None = None,
        trainer_defaults: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if config_dir is not None and not isinstance(kwargs.get("args"), dict):
            args = kwargs.get("args")
            kwargs["args"] = resolve_configs(sys.argv[1:] if args is None else args, config_dir)
        kwargs.setdefault("seed_everything_default", DEFAULT_SEED)
        kwargs.setdefault("parser_class", OneLineErrorParser)
        if prog is not None:
            kwargs["parser_kwargs"] = {"prog": prog, **kwargs.get("parser_kwargs", {})}
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        self.log_root = default_log_root(app_name)
        with warnings.catch_warnings():
            # the apps' console scripts hand their own argv (less a task name) to the CLI on purpose
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
            super().__init__(
                model_class,
                datamodule_class,
                trainer_defaults={**default_trainer_settings(app_name), **(trainer_defaults or {})},
                **kwargs,
            )

    def before_instantiate_classes(self) -> None:
        """``--trainer.default_root_dir`` moves the default loggers (a logger given its own ``save_dir``
        keeps it), so logs, the saved config and checkpoints all land under it."""
        config = self.config.get(self.subcommand) if self.subcommand else self.config
        trainer = config.get("trainer") or {}
        root = trainer.get("default_root_dir")
        loggers = trainer.get("logger")
        if root is None or not isinstance(loggers, list):
            return
        for logger in loggers:
            init_args = logger.get("init_args") if hasattr(logger, "get") else None
            if init_args is not None and init_args.get("save_dir") == self.log_root:
                init_args["save_dir"] = str(root)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self._get(self.config_init, "trainer", default={})
        callbacks = config.get("callbacks") or []
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        wants_bar = config.get("enable_progress_bar") is not False
        extra = [] if any(isinstance(c, ExactResume) for c in callbacks) else [ExactResume()]
        if wants_bar and not any(isinstance(c, ProgressBar) for c in callbacks):
            extra.append(RichProgressBar())
        kwargs["callbacks"] = [*callbacks, *kwargs.get("callbacks", []), *extra]
        return super().instantiate_trainer(**kwargs)
