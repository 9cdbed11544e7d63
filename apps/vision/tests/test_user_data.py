"""The user-data paths of the vision app, end to end through ``ffn-vision fit`` with the default
transforms (RandAugment with increasing posterize, random erasing): an ImageFolder tree of PNG files and
CIFAR-10 in its python-pickle layout, each written by the test, trained for whole epochs."""

import csv
import pickle
import random

import numpy as np
import torch
from PIL import Image, ImageOps

from ffn_vision.cli import main
from ffn_vision.data import posterize, training_transform


def _images(count, seed, size=24):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def test_posterize_keeps_its_full_magnitude_as_a_black_image():
    image = Image.fromarray(_images(1, 0)[0])
    assert np.asarray(posterize(image, 0)).max() == 0  # TF's and older Pillow's meaning of 0 bits
    assert np.array_equal(np.asarray(posterize(image, 3)), np.asarray(ImageOps.posterize(image, 3)))
    assert posterize(image, 8) is image


def test_the_default_policy_never_asks_pillow_for_zero_bits():
    # m9 with mstd0.5 draws magnitude 10 (0 bits kept) in about 2 % of posterize draws
    transform = training_transform(input_size=24, auto_augment="rand-m9-mstd0.5-inc1")
    image = Image.fromarray(_images(1, 1)[0])
    random.seed(0)
    for _ in range(3000):
        transform(image)


def test_image_folder_trains_two_epochs_through_the_cli(configs, in_tmp_dir):
    root = in_tmp_dir / "images"
    for split, count in (("train", 40), ("val", 8)):
        for label, name in enumerate(("cat", "dog")):
            (root / split / name).mkdir(parents=True)
            for i, pixels in enumerate(_images(count, 10 * label + (split == "val"))):
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    main(
        [
            "fit",
            "--config",
            str(configs / "default.yaml"),
            "--data",
            "ImageFolderDataModule",
            "--data.root",
            str(root),
            "--data.image_size",
            "32",
            "--trainer.max_epochs",
            "2",
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    checkpoints = {p.name for p in in_tmp_dir.glob("runs/vision/tensorboard/version_0/checkpoints/*.ckpt")}
    assert "last.ckpt" in checkpoints and any(name.startswith("best-") for name in checkpoints)
    last = torch.load(
        in_tmp_dir / "runs/vision/tensorboard/version_0/checkpoints/last.ckpt", weights_only=False
    )
    assert last["epoch"] == 1  # the latest epoch, whether or not it was the best
    with open(in_tmp_dir / "runs/vision/csv/version_0/metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows if row["val/acc1"]] == ["0", "1"]  # two whole epochs validated


def _write_cifar(folder, train_per_batch, test):
    folder.mkdir(parents=True)
    for name, count, seed in [
        *((f"data_batch_{i}", train_per_batch, i) for i in range(1, 6)),
        ("test_batch", test, 9),
    ]:
        pixels = _images(count, seed, size=32).transpose(0, 3, 1, 2).reshape(count, -1)
        labels = [int(v) for v in np.random.default_rng(seed).integers(0, 10, count)]
        with open(folder / name, "wb") as file:
            pickle.dump({"data": pixels, "labels": labels}, file)
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, file)


def test_cifar10_in_its_pickle_layout_trains_an_epoch_through_the_cli(configs, in_tmp_dir):
    _write_cifar(in_tmp_dir / "cifar" / "cifar-10-batches-py", train_per_batch=24, test=16)
    args = ["fit", "--config", str(configs / "tiny.yaml"), "--data", "CIFARDataModule"]
    args += ["--data.root", str(in_tmp_dir / "cifar"), "--data.download", "false", "--data.val_size", "24"]
    args += ["--data.batch_size", "32", "--data.num_workers", "0", "--trainer.max_epochs", "1"]
    main(args)
    with open(in_tmp_dir / "runs/vision/csv/version_0/metrics.csv") as file:
        assert [row["epoch"] for row in csv.DictReader(file) if row["val/acc1"]] == ["0"]
    main(["test", *args[1:], "--ckpt_path", str(next(in_tmp_dir.glob("runs/vision/**/checkpoints/*.ckpt")))])
