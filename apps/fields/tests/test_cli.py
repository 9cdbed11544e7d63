"""ffn-fields: fast_dev_run of both tasks, the block switch, and a novel-view PNG from `test`."""

from ffn_blocks import SwiGLU
from ffn_data.testing import error_line
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


def test_missing_scene_folder_is_a_one_line_error(configs, in_tmp_dir):
    args = ["radiance", "fit", "--config", str(configs / "radiance_tiny.yaml"), "--data.path", "nowhere"]
    assert error_line(main, args) == "error: nowhere: not a blender-format scene (no transforms_train.json)"


def test_an_unreadable_image_is_one_error_line(configs, in_tmp_dir):
    (in_tmp_dir / "photo.png").write_text("not an image")
    args = [
        "image",
        "fit",
        "--config",
        str(configs / "tiny.yaml"),
        "--data.image",
        str(in_tmp_dir / "photo.png"),
    ]
    assert (
        error_line(main, [*args, "--trainer.fast_dev_run", "true"])
        == f"error: {in_tmp_dir / 'photo.png'}: not an image file"
    )
