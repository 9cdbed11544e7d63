"""DataModules: the digits split and its statistics, batch augmentation, ImageFolder, clear path errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from ffn_vision.data import CIFARDataModule, DigitsDataModule, ImageFolderDataModule, random_affine


def test_digits_split_is_stratified_disjoint_and_seeded():
    data = DigitsDataModule(augment=False)
    data.setup()
    sizes = {k: len(v) for k, v in data.split_indices.items()}
    assert sizes == {"train": 1257, "val": 180, "test": 360}
    sets = [set(v.tolist()) for v in data.split_indices.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    labels = data.test_set.tensors[1]
    assert torch.bincount(labels).min() >= 30  # every digit is in the test split
    again = DigitsDataModule(augment=False)
    again.setup()
    assert np.array_equal(again.split_indices["test"], data.split_indices["test"])


def test_digits_normalization_uses_training_images_only():
    data = DigitsDataModule(image_size=8, augment=False)
    data.setup()
    train = data.train_set.tensors[0]
    assert abs(train.mean().item()) < 1e-5 and abs(train.std().item() - 1) < 1e-3
    assert data.test_set.tensors[0].shape[1:] == (1, 8, 8)
    assert (data.num_classes, data.num_channels, data.image_size) == (10, 1, 8)


def test_random_affine_is_identity_without_jitter_and_changes_images_with_it():
    images = torch.randn(4, 1, 16, 16)
    same = random_affine(images, degrees=0, translate=0, scale=0, fill=0.0)
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)
    moved = random_affine(images, degrees=10, translate=0.1, scale=0.1, fill=0.0)
    assert moved.shape == images.shape and not torch.allclose(moved, images)


def test_bad_fractions():
    with pytest.raises(ValueError, match=r"val_fraction=0\.6 and test_fraction=0\.5"):
        DigitsDataModule(val_fraction=0.6, test_fraction=0.5)


def test_cifar_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="cifar-10-batches-py not found; extract the official"
    ) as info:
        CIFARDataModule(root=str(tmp_path), download=False)
    assert "\n" not in str(info.value)


def test_image_folder(tmp_path):
    for split in ("train", "val"):
        for name in ("cat", "dog"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((20, 24, 3), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    data = ImageFolderDataModule(str(tmp_path), image_size=32, batch_size=2, auto_augment=None, num_workers=0)
    assert data.num_classes == 2 and data.classes == ["cat", "dog"]
    data.setup()
    images, labels = next(iter(data.val_dataloader()))
    assert images.shape == (2, 3, 32, 32) and labels.tolist() == [0, 0]
    assert len(data.test_set) == 6  # no test/ folder: val is the test split


def test_image_folder_without_val_is_a_one_line_error(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"val not found; expected root/train/<class>/\*"):
        ImageFolderDataModule(str(tmp_path))
