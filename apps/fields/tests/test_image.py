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


def test_cam_paper_preset_is_the_papers_image_network():
    """`cam_paper.yaml` as maincold2/CAM's `CAM_image.py` builds it: RFF 256 × σ 10 → 3 modulated linear
    layers of 256 → sigmoid; 269,827 parameters (512·256 + 2·256² + 256·3 weights and biases, and three
    32×32 grids of one γ and one β)."""
    import yaml

    from ffn_fields.cli import CONFIGS

    config = yaml.safe_load((CONFIGS / "cam_paper.yaml").read_text())
    init = dict(config["model"]["field"]["init_args"])
    init["ffn"], init["output_act"] = torch.nn.Linear, torch.nn.Sigmoid
    field = CAMField(2, 3, **init)
    assert sum(p.numel() for p in field.parameters()) == (
        512 * 256 + 256 + 2 * (256 * 256 + 256) + 256 * 3 + 3 + 3 * 2 * 32 * 32
    )
    grids = field.grid_parameters()
    assert [tuple(g.shape) for g in grids] == [(1, 2, 32, 32)] * 3  # every layer, one γ/β channel each
    coords = torch.rand(5, 2) * 2 - 1
    encoded = field.encode(coords)
    b = field.encoding.b_matrix  # sin(2π ((c+1)/2) B), cos(...): the reference's [0, 1] coordinates
    torch.testing.assert_close(encoded[:, :256], torch.sin(2 * torch.pi * (coords + 1) / 2 @ b))
    assert 8.5 < b.std().item() < 11.5 and encoded.shape == (5, 512)
    out = field(coords)
    assert out.shape == (5, 3) and 0 < out.min() and out.max() < 1
    # the input layer's features are modulated: moving its grid moves the output
    before = field(coords)
    with torch.no_grad():
        field.input_modulation[1].grid[:, 1] += 1.0  # β of the first layer
    assert not torch.allclose(field(coords), before)
    assert config["data"]["train_stride"] == 2 and config["data"]["batch_size"] is None


def test_train_stride_trains_on_a_quarter_and_scores_the_whole_image():
    data = ImageData("camera", size=32, batch_size=None, steps_per_epoch=3, train_stride=2)
    train = data.train_dataloader()
    batches = list(train)
    assert len(batches) == 3 and batches[0][0].shape == (16 * 16, 2)
    assert torch.equal(batches[0][0], pixel_coordinates(32, 32)[::2, ::2].reshape(-1, 2))
    ((coords, colors),) = list(data.val_dataloader())
    assert coords.shape == (32 * 32, 2) and colors.shape == (32 * 32, 3)
    with pytest.raises(ValueError, match="train_stride=0 must be >= 1"):
        ImageData("camera", size=32, train_stride=0)


def test_lr_scheduler_steps_every_training_step():
    from functools import partial

    data = ImageData("camera", size=16, batch_size=64, steps_per_epoch=4)
    model = ImageFitting(
        field=lambda d, o: CAMField(d, o, width=8, depth=1, num_frequencies=2, resolution=4),
        image_shape=data.image_shape,
        lr_scheduler=partial(torch.optim.lr_scheduler.MultiStepLR, milestones=[3], gamma=0.1),
    )
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, data)
    rates = [group["lr"] for group in trainer.optimizers[0].param_groups]
    assert rates == pytest.approx([1e-4, 1e-3])  # after 4 steps: cut once at step 3; grids at 10×
