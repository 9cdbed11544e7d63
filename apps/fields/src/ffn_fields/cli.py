"""`ffn-fields`: Lightning's CLI for two neural-field tasks, chosen by the first argument.

    ffn-fields image fit --config default.yaml --data.image coffee
    ffn-fields image fit --config default.yaml --model.field.ffn SwiGLU
    ffn-fields radiance fit --config radiance.yaml
    ffn-fields bench
    ffn-fields bench-cam-paper

Without a task name, ``image`` is assumed. The data's coordinate/output sizes (and the image shape) are
linked into the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from ffn_lightning import FFNLightningCLI, Slot, StudyApp, app_main, task_cli

from .image import ImageData, ImageFitting
from .radiance import BlenderData, RadianceFitting

__all__ = ["STUDY", "ImageCLI", "cli", "main"]

#: the configs shipped inside the package (``--config NAME`` finds them from any directory)
CONFIGS = Path(__file__).resolve().parent / "configs"


class ImageCLI(FFNLightningCLI):
    """2-D image fitting."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.image_shape", "model.image_shape", apply_on="instantiate")


TASKS = {
    "image": (ImageCLI, ImageFitting, ImageData),
    "radiance": (FFNLightningCLI, RadianceFitting, BlenderData),
}


#: ``ffn-fields <command>``: entry points imported only when their command runs
COMMANDS = {
    "bench-cam-paper": "ffn_fields.bench.cam_paper:main",
    "bench": "ffn_fields.bench.fields:main",
}


def cli(args: Sequence[str] | None = None, *, run: bool = True) -> LightningCLI | None:
    """``ffn-fields`` as a function; returns the CLI (``run=False``: built, not run)."""
    return task_cli(
        args,
        script="ffn-fields",
        tasks=TASKS,
        default="image",
        commands=COMMANDS,
        config_dir=CONFIGS,
        run=run,
    )


#: entry point of the console script
main = app_main(cli)


#: the fields a config may choose (image fitting's ``model.field``, a radiance renderer's ``field``)
FIELDS = tuple(
    f"ffn_fields.fields.{name}" for name in ("PEField", "CAMField", "SirenField", "GridField", "CAMGridField")
)
STUDY = StudyApp(
    name="fields",
    cli=cli,
    configs=CONFIGS,
    task=("image",),
    block_argument="--model.field.init_args.ffn",
    metric="test/psnr",
    higher_is_better=True,
    config_tasks={"radiance": ("radiance",)},
    study_config="study.yaml",
    run_dir="fields-image",
    slots=(
        Slot("model.field", FIELDS),
        Slot("model.renderer.init_args.field", FIELDS, config="radiance_tiny.yaml"),
        Slot("model.renderer", ("ffn_fields.radiance.RadianceRenderer",), config="radiance_tiny.yaml"),
    ),
)


if __name__ == "__main__":
    main()
