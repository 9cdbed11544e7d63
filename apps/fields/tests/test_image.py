"""Image fitting: scikit-image photographs load offline, a CAM field learns one, bad paths are clear."""

import pytest
import torch
from lightning import Trainer

from ffn_fields.fields import CAMField
from ffn_fields.image import SKIMAGE_IMAGES, ImageData, ImageFitting, load_image, pixel_coordinates


@pytest.mark.parametrize("name", ["astronaut", "camera", "coffee", "chelsea"])
def test_skimage_photographs_load_offline_as_rgb(name):
    image = load_image(name, size=64)
    assert image.shape[2] == 3 and min(image.shape[:2]) == 64
    assert 0 <= image.min() and image.max() <= 1 and image.std() > 0.05


def test_pixel_coordinates_are_centres_in_the_unit_square():
    coords = pixel_coordinates(2, 4)
    assert coords.shape == (2, 4, 2)
    assert torch.allclose(coords[0, 0], torch.tensor([-0.75, -0.5])) and coords[1, 3, 0] == 0.75


def test_bad_image_paths_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.png: no such image file"):
        load_image(str(tmp_path / "nope.png"))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match=r"notes\.png: not an image file"):
        load_image(str(text))
    assert "camera" in SKIMAGE_IMAGES


def test_cam_field_learns_a_real_photograph():
    torch.manual_seed(0)
    data = ImageData("camera", size=48, batch_size=1024, steps_per_epoch=150)
    model = ImageFitting(
        field=lambda d, o: CAMField(d, o, width=32, depth=2, num_frequencies=5, resolution=8),
        image_shape=data.image_shape,
    )
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    before = trainer.validate(model, data, verbose=False)[0]["val/psnr"]
    trainer.fit(model, data)
    after = trainer.validate(model, data, verbose=False)[0]["val/psnr"]
    assert after > before + 8 and after > 20, (before, after)
