"""`ffn-speech`: Lightning's CLI for separation training, plus ``separate`` and ``bench``.

ffn-speech fit --config default.yaml
ffn-speech fit --config default.yaml --model.network.ffn MLP
ffn-speech separate --ckpt last.ckpt --input mix.wav --out-dir separated/
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from ffn_lightning import FFNLightningCLI, Slot, StudyApp, app_main, cli_arguments

from .data import SeparationDataModule
from .module import SpeechSeparation

__all__ = ["STUDY", "SpeechCLI", "cli", "main"]

#: the configs shipped inside the package (``--config NAME`` finds them from any directory)
CONFIGS = Path(__file__).resolve().parent / "configs"


class SpeechCLI(FFNLightningCLI):
    """Links the data's speaker count and sample rate into the model; FSDD mixtures by default, any
    `SeparationDataModule` with ``--data`` (e.g. ``SeparationCorpusDataModule`` for Libri2Mix)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        if self.subclass_mode_data:
            parser.set_defaults({"data": {"class_path": "ffn_speech.data.FSDDMixtureDataModule"}})
        parser.link_arguments("data.num_speakers", "model.num_speakers", apply_on="instantiate")
        parser.link_arguments("data.sample_rate", "model.sample_rate", apply_on="instantiate")


#: ``ffn-speech <command>``: entry points imported only when their command runs
COMMANDS = {
    "separate": "ffn_speech.separate:main",
    "bench": "ffn_speech.bench.separation:main",
    "bench-official": "ffn_speech.bench.official:main",
}


def cli(args: Sequence[str] | None = None, *, run: bool = True) -> LightningCLI | None:
    """``ffn-speech`` as a function; returns the CLI (``run=False``: built, not run)."""
    argv = cli_arguments(args, COMMANDS)
    if argv is None:
        return None
    return SpeechCLI(
        SpeechSeparation,
        SeparationDataModule,
        subclass_mode_data=True,
        app_name="speech",
        config_dir=CONFIGS,
        args=argv,
        run=run,
    )


#: entry point of the console script
main = app_main(cli)


STUDY = StudyApp(
    name="speech",
    cli=cli,
    configs=CONFIGS,
    block_argument="--model.network.init_args.ffn",
    block_init_args={"norm": "ffn_speech.models.separator.ScaleNorm"},  # FFConvM's input norm
    metric="test/si_snri",
    higher_is_better=True,
    study_config="study.yaml",
    run_dir="speech",
    slots=(
        Slot("model.network", ("ffn_speech.models.MossFormer2Separator", "ffn_speech.models.ConvTasNet")),
        Slot(
            "data",
            (
                "ffn_speech.data.FSDDMixtureDataModule",
                "ffn_speech.data.SeparationCorpusDataModule",
                "ffn_speech.data.UtteranceMixtureDataModule",
            ),
        ),
    ),
)


if __name__ == "__main__":
    main()
