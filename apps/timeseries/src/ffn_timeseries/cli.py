"""`ffn-timeseries`: Lightning's CLI for the forecasters, with lookback/horizon/channels linked from data.

ffn-timeseries fit --config default.yaml
ffn-timeseries fit --config default.yaml --model.network.ffn SwiGLU
ffn-timeseries predict --config default.yaml --ckpt_path best.ckpt
ffn-timeseries bench
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from ffn_lightning import FFNLightningCLI, Slot, StudyApp, app_main, cli_arguments

from .data import WideCSVDataModule
from .module import Forecaster

__all__ = ["STUDY", "TimeSeriesCLI", "cli", "main"]

#: the configs shipped inside the package (``--config NAME`` finds them from any directory)
CONFIGS = Path(__file__).resolve().parent / "configs"


class TimeSeriesCLI(FFNLightningCLI):
    """Links the data's lookback, horizon and channel count into the model."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.lookback", "model.lookback")
        parser.link_arguments("data.horizon", "model.horizon")
        parser.link_arguments("data.num_channels", "model.num_channels", apply_on="instantiate")


#: ``ffn-timeseries <command>``: entry points imported only when their command runs
COMMANDS = {
    "bench": "ffn_timeseries.bench.etth1:main",
}


def cli(args: Sequence[str] | None = None, *, run: bool = True) -> LightningCLI | None:
    """``ffn-timeseries`` as a function; returns the CLI (``run=False``: built, not run)."""
    argv = cli_arguments(args, COMMANDS)
    if argv is None:
        return None
    return TimeSeriesCLI(
        Forecaster, WideCSVDataModule, app_name="timeseries", config_dir=CONFIGS, args=argv, run=run
    )


#: entry point of the console script
main = app_main(cli)


STUDY = StudyApp(
    name="timeseries",
    cli=cli,
    configs=CONFIGS,
    block_argument="--model.network.init_args.ffn",
    metric="test/mse",
    higher_is_better=False,
    study_config="study.yaml",
    run_dir="timeseries",
    slots=(
        Slot(
            "model.network",
            (
                "ffn_timeseries.models.TSMixer",
                "ffn_timeseries.models.PatchTSMixer",
                "ffn_timeseries.models.FreTS",
            ),
        ),
    ),
)


if __name__ == "__main__":
    main()
