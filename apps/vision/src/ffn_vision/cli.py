"""`ffn-vision`: Lightning's CLI (fit/validate/test/predict) plus ``reparameterize``, ``demo``, ``bench``.

ffn-vision fit --config default.yaml --model.ffn SwiGLU
ffn-vision reparameterize --ckpt runs/vision/.../last.ckpt --out merged.ckpt
ffn-vision test --config default.yaml --ckpt_path merged.ckpt
ffn-vision demo
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from ffn_lightning import FFNLightningCLI, Slot, StudyApp, app_main, cli_arguments

from .data import ImageDataModule
from .module import ImageClassifier

__all__ = ["STUDY", "VisionCLI", "cli", "main"]

#: the configs shipped inside the package (``--config NAME`` finds them from any directory)
CONFIGS = Path(__file__).resolve().parent / "configs"


class VisionCLI(FFNLightningCLI):
    """Links the DataModule's classes, channels and image size into the model; digits by default."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.num_channels", "model.in_chans", apply_on="instantiate")
        parser.link_arguments("data.image_size", "model.img_size", apply_on="instantiate")
        parser.set_defaults({"data": {"class_path": "ffn_vision.data.DigitsDataModule"}})


#: ``ffn-vision <command>``: entry points imported only when their command runs
COMMANDS = {
    "reparameterize": "ffn_vision.export:main",
    "bench": "ffn_vision.bench.models:main",
    "demo": "ffn_vision.bench.demo:main",
}


def cli(args: Sequence[str] | None = None, *, run: bool = True) -> LightningCLI | None:
    """``ffn-vision`` as a function; returns the CLI (``run=False``: built, not run)."""
    argv = cli_arguments(args, COMMANDS)
    if argv is None:
        return None
    return VisionCLI(
        ImageClassifier,
        ImageDataModule,
        subclass_mode_data=True,
        app_name="vision",
        config_dir=CONFIGS,
        args=argv,
        run=run,
    )


#: entry point of the console script
main = app_main(cli)


STUDY = StudyApp(
    name="vision",
    cli=cli,
    configs=CONFIGS,
    block_argument="--model.ffn",
    metric="test/acc1",
    higher_is_better=True,
    study_config="study.yaml",
    run_dir="vision",
    slots=(
        Slot(
            "data",
            (
                "ffn_vision.data.DigitsDataModule",
                "ffn_vision.data.CIFARDataModule",
                "ffn_vision.data.ImageFolderDataModule",
            ),
        ),
    ),
)


if __name__ == "__main__":
    main()
