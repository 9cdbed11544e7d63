"""`ffn-speech`: Lightning's CLI for separation training, plus ``separate`` and ``bench``.

ffn-speech fit --config apps/speech/configs/default.yaml
ffn-speech fit --config apps/speech/configs/default.yaml --model.network.ffn MLP
ffn-speech separate --ckpt last.ckpt --input mix.wav --out-dir separated/
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lightning.pytorch.cli import LightningArgumentParser

from ffn_lightning import FFNLightningCLI

from .data import FSDDMixtureDataModule
from .module import SpeechSeparation

__all__ = ["SpeechCLI", "main"]


class SpeechCLI(FFNLightningCLI):
    """Links the data's speaker count and sample rate into the model."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_speakers", "model.num_speakers", apply_on="instantiate")
        parser.link_arguments("data.sample_rate", "model.sample_rate", apply_on="instantiate")


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of ``ffn-speech``."""
    argv = list(sys.argv[1:] if args is None else args)
    if argv[:1] == ["separate"]:
        from .separate import main as separate_main

        separate_main(argv[1:])
        return
    if argv[:1] == ["bench"]:
        from .benchmark import main as bench_main

        bench_main(argv[1:])
        return
    SpeechCLI(SpeechSeparation, FSDDMixtureDataModule, app_name="speech", args=argv)


if __name__ == "__main__":
    main()
