"""ffn-fields: fast_dev_run of both tasks, the block switch, and a novel-view PNG from `test`."""

import pytest

from ffn_blocks import SwiGLU
from ffn_fields.cli import ImageCLI, main
from ffn_fields.image import ImageData, ImageFitting


def test_image_fast_dev_run(configs, in_tmp_dir):
    main(["image", "fit", "--config", str(configs / "tiny.yaml"), "--trainer.fast_dev_run", "true"])


def test_block_switch_reaches_the_field(configs, in_tmp_dir):
    args = ["--config", str(configs / "tiny.yaml"), "--model.field.ffn", "SwiGLU"]
    cli = ImageCLI(ImageFitting, ImageData, app_name="fields-image", run=False, args=args)
    assert all(isinstance(block, SwiGLU) for block in cli.model.field.blocks)


def test_radiance_fit_and_test_write_a_novel_view(configs, in_tmp_dir, scene):
    args = ["--config", str(configs / "radiance_tiny.yaml"), "--data.path", str(scene)]
    main(["radiance", "fit", *args, "--trainer.max_steps", "2"])
    checkpoint = next(in_tmp_dir.glob("runs/fields-radiance/**/checkpoints/*.ckpt"))
    main(["radiance", "test", *args, "--ckpt_path", str(checkpoint)])
    views = list(in_tmp_dir.glob("runs/fields-radiance/**/novel_view.png"))
    assert views and views[0].stat().st_size > 0


def test_missing_scene_folder_is_a_one_line_error(configs, in_tmp_dir, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["radiance", "fit", "--config", str(configs / "radiance_tiny.yaml"), "--data.path", "nowhere"])
    assert exit.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == "error: nowhere: not a blender-format scene (no transforms_train.json)"
