"""The fields app on a user's own files, end to end through ``ffn-fields``: an image file (PNG) fitted
for whole epochs, and a blender-format scene folder for radiance fields (``ns-train`` on the same
layout is in test_nerfstudio_method.py)."""

import csv

import numpy as np
from PIL import Image

from ffn_fields.cli import main


def _validated(path):
    with open(path) as file:
        return [row for row in csv.DictReader(file) if row.get("val/psnr")]


def test_a_png_image_is_fitted_for_whole_epochs(configs, in_tmp_dir):
    y, x = np.mgrid[0:40, 0:48]
    pixels = np.stack([x * 5, y * 6, (x + y) * 3], -1).astype(np.uint8)  # 48 x 40, not square
    Image.fromarray(pixels).save(in_tmp_dir / "photo.png")
    args = [
        "image",
        "fit",
        "--config",
        str(configs / "tiny.yaml"),
        "--data.image",
        str(in_tmp_dir / "photo.png"),
    ]
    main([*args, "--data.size", "40", "--trainer.max_steps", "-1", "--trainer.max_epochs", "2"])
    rows = _validated(in_tmp_dir / "runs/fields-image/csv/version_0/metrics.csv")
    assert [row["epoch"] for row in rows] == ["0", "1"] and all(float(row["val/psnr"]) > 0 for row in rows)


def test_a_blender_scene_folder_trains_a_radiance_field(configs, in_tmp_dir, scene):
    args = ["radiance", "fit", "--config", str(configs / "radiance_tiny.yaml"), "--data.path", str(scene)]
    main([*args, "--trainer.max_steps", "-1", "--trainer.max_epochs", "2"])
    rows = _validated(in_tmp_dir / "runs/fields-radiance/csv/version_0/metrics.csv")
    assert [row["epoch"] for row in rows] == ["0", "1"]
