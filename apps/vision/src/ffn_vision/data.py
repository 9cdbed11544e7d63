"""Image classification data: scikit-learn's bundled digits (offline default), CIFAR-10/100, any ImageFolder.

Each DataModule exposes ``num_classes``, ``num_channels`` and ``image_size`` right after construction,
so the CLI links them into the model (``apply_on="instantiate"``) before any data is read.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from PIL import Image, ImageOps, UnidentifiedImageError
from timm.data import create_transform
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset
from torchvision import datasets

from ffn_data import cache_root
from ffn_lightning import ResumableDataLoader

__all__ = [
    "CIFARDataModule",
    "DigitsDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "load_rgb",
    "posterize",
    "random_affine",
    "training_transform",
]

CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


class ImageDataModule(LightningDataModule):
    """Shared loaders and the three properties the model is built from.

    Args:
        batch_size: samples per training batch (evaluation uses the same).
        num_workers: DataLoader worker processes.
    """

    num_classes: int
    num_channels: int
    image_size: int

    def __init__(self, batch_size: int = 128, num_workers: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size={batch_size} must be a positive integer")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def _loader(self, dataset: Dataset | None, *, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call setup() before asking for a dataloader")
        return ResumableDataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)


def random_affine(
    images: torch.Tensor, *, degrees: float, translate: float, scale: float, fill: float
) -> torch.Tensor:
    """Jitter a batch ``(B, C, H, W)`` with one random rotation, shift and zoom per image (vectorized)."""
    b = images.shape[0]
    rand = torch.rand(b, 4, device=images.device) * 2 - 1
    angle = rand[:, 0] * degrees * torch.pi / 180
    zoom = 1 + rand[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos, -sin, rand[:, 2] * 2 * translate], -1),
            torch.stack([sin, cos, rand[:, 3] * 2 * translate], -1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    shifted = F.grid_sample(images - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return shifted + fill


class DigitsDataModule(ImageDataModule):
    """scikit-learn's bundled handwritten digits (1,797 8×8 grey images, 10 classes), upsampled.

    The offline default of the demo and tests: no download, no path. A stratified split with a fixed
    seed (70 / 10 / 20 % by default: 1,257 / 180 / 360 images); pixels z-scored with the training mean
    and standard deviation; images resized once with bilinear interpolation; training images get small
    random affine jitter (rotation ±10°, shift ±10 %, zoom ±10 %) when ``augment``, applied per batch
    after transfer (vectorized, so it costs nothing next to the model).

    Args:
        image_size: side of the upsampled images.
        batch_size: samples per batch.
        val_fraction: share of all images held out for validation.
        test_fraction: share of all images held out for testing.
        augment: random affine jitter on training images.
        seed: seed of the split.
        num_workers: DataLoader workers.
    """

    num_classes = 10
    num_channels = 1

    def __init__(
        self,
        image_size: int = 32,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        augment: bool = True,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
            raise ValueError(
                f"DigitsDataModule: val_fraction={val_fraction} and test_fraction={test_fraction} must be in "
                "(0, 1) and sum to less than 1"
            )
        self.image_size = image_size
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.augment, self.seed = augment, seed

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
        labels = torch.tensor(digits.target, dtype=torch.long)
        indices = torch.arange(len(labels)).numpy()
        held_out = self.val_fraction + self.test_fraction
        train_idx, rest_idx = train_test_split(
            indices, test_size=held_out, stratify=labels.numpy(), random_state=self.seed
        )
        val_idx, test_idx = train_test_split(
            rest_idx,
            test_size=self.test_fraction / held_out,
            stratify=labels[rest_idx].numpy(),
            random_state=self.seed,
        )
        train_pixels = images[train_idx]
        mean, std = train_pixels.mean(), train_pixels.std()
        resized = F.interpolate(
            (images - mean) / std, size=self.image_size, mode="bilinear", align_corners=False
        )
        self.split_indices = {"train": train_idx, "val": val_idx, "test": test_idx}
        self.normalization = (float(mean), float(std))
        self.background = float(-mean / std)
        self.train_set = TensorDataset(resized[train_idx], labels[train_idx])
        self.val_set = TensorDataset(resized[val_idx], labels[val_idx])
        self.test_set = TensorDataset(resized[test_idx], labels[test_idx])

    def on_after_batch_transfer(self, batch: tuple[torch.Tensor, torch.Tensor], dataloader_idx: int) -> Any:
        if self.augment and self.trainer is not None and self.trainer.training:
            images, labels = batch
            images = random_affine(images, degrees=10.0, translate=0.1, scale=0.1, fill=self.background)
            return images, labels
        return batch


class _FilesPresent:
    """CIFAR read from the user's own copy of the python-version files: present, not md5-checked
    (torchvision checks the md5 of the official files; a subset or a re-pickled copy reads too)."""

    root: str
    base_folder: str
    train_list: list[list[str]]
    test_list: list[list[str]]

    meta: dict[str, str]

    def _check_integrity(self) -> bool:
        folder = Path(self.root) / self.base_folder
        return all((folder / name).is_file() for name, _ in (*self.train_list, *self.test_list))

    def _load_meta(self) -> None:
        path = Path(self.root) / self.base_folder / self.meta["filename"]
        if not path.is_file():
            raise FileNotFoundError(f"{path}: CIFAR's class names are missing")
        with open(path, "rb") as file:
            self.classes = pickle.load(file, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


class _LocalCIFAR10(_FilesPresent, datasets.CIFAR10):
    pass


class _LocalCIFAR100(_FilesPresent, datasets.CIFAR100):
    pass


class CIFARDataModule(ImageDataModule):
    """CIFAR-10 or CIFAR-100 through torchvision's loaders, downloaded by torchvision (md5-checked).

    ``root`` holds the extracted ``cifar-10-batches-py/`` (or ``cifar-100-python/``) folder of the
    official "python version" archive; ``prepare_data`` downloads and extracts it there when it is
    missing and ``download`` is on. The last ``val_size`` images of a seeded permutation of the
    training set form the validation split; the official test set is the test split. Training images go
    through timm's `create_transform` (random resized crop, flip, RandAugment, random erasing).

    Args:
        root: folder holding the extracted archive (default: ``cifar/`` in the data cache,
            ``$FFN_STUDY_DATA`` or the user cache folder).
        variant: ``"cifar10"`` or ``"cifar100"``.
        download: fetch the archive from its upstream when the folder is missing, and md5-check the
            files; off, the files under ``root`` are read as they are (a subset works too).
        image_size: side fed to the model (32 native; larger upsamples).
        batch_size: samples per batch.
        val_size: training images held out for validation.
        auto_augment: timm auto-augment policy string (None disables).
        random_erasing: probability of timm's random erasing.
        seed: seed of the validation split.
        num_workers: DataLoader workers.
    """

    num_channels = 3

    def __init__(
        self,
        root: str | None = None,
        variant: Literal["cifar10", "cifar100"] = "cifar10",
        download: bool = True,
        image_size: int = 32,
        batch_size: int = 128,
        val_size: int = 5000,
        auto_augment: str | None = "rand-m9-mstd0.5-inc1",
        random_erasing: float = 0.25,
        seed: int = 0,
        num_workers: int = 2,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        root = str(cache_root() / "cifar") if root is None else root
        folder = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}[variant]
        if not download and not (Path(root) / folder).is_dir():
            raise FileNotFoundError(
                f"CIFARDataModule: {Path(root) / folder} not found; extract the official python-version "
                f"archive ({variant}) so that this folder exists under root={root}, or set download=true"
            )
        self.root, self.variant, self.download = root, variant, download
        self.num_classes = 10 if variant == "cifar10" else 100
        self.image_size = image_size
        self.val_size, self.auto_augment, self.random_erasing, self.seed = (
            val_size,
            auto_augment,
            random_erasing,
            seed,
        )

    def prepare_data(self) -> None:
        if self.download:  # torchvision checks what is there (md5) and fetches only what is missing
            for train in (True, False):
                self._dataset_class(self.root, train=train, download=True)

    @property
    def _dataset_class(self) -> type[datasets.CIFAR10]:
        if self.download:  # torchvision's own: downloads and md5-checks the official files
            return datasets.CIFAR10 if self.variant == "cifar10" else datasets.CIFAR100
        return _LocalCIFAR10 if self.variant == "cifar10" else _LocalCIFAR100

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        mean, std = CIFAR_STATS[self.variant]
        common = {"input_size": self.image_size, "mean": mean, "std": std}
        augment = {"auto_augment": self.auto_augment, "re_prob": self.random_erasing, "scale": (0.35, 1.0)}
        train_tf = training_transform(**augment, **common)
        eval_tf = create_transform(is_training=False, crop_pct=1.0, **common)
        cls = self._dataset_class
        train_full = cls(self.root, train=True, transform=train_tf, download=False)
        eval_full = cls(self.root, train=True, transform=eval_tf, download=False)
        order = torch.randperm(len(train_full), generator=torch.Generator().manual_seed(self.seed)).tolist()
        self.train_set = Subset(train_full, order[: -self.val_size])
        self.val_set = Subset(eval_full, order[-self.val_size :])
        self.test_set = cls(self.root, train=False, transform=eval_tf, download=False)


def posterize(img: Image.Image, bits_to_keep: int, **_: object) -> Image.Image:
    """timm's posterize op, with its full-magnitude level defined again: 0 bits kept is a black image.

    RandAugment's increasing posterize (``inc1`` policies, from Google's UDA/TF code) keeps ``4 - ⌊4m/10⌋``
    bits, so a magnitude drawn at 10 (``m9`` with ``mstd0.5``: about 2 % of draws) keeps 0, which TF and
    Pillow < 13 turned into black. Pillow 13 rejects 0 bits (``ValueError``) and the loader died.
    """
    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)


def training_transform(**options: Any) -> Any:
    """timm's `create_transform` for training, its auto-augment posterize ops given `posterize`."""
    transform = create_transform(is_training=True, **options)
    for stage in getattr(transform, "transforms", ()):
        for op in getattr(stage, "ops", ()):  # RandAugment / AutoAugment / AugMix ops
            if getattr(op, "name", "").startswith("Posterize"):
                op.aug_fn = posterize
    return transform


def load_rgb(path: str) -> Image.Image:
    """torchvision's PIL loader, with a one-line error naming the file when it is not an image."""
    try:
        with open(path, "rb") as file:
            return Image.open(file).convert("RGB")
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file") from None


class ImageFolderDataModule(ImageDataModule):
    """Any ``root/{train,val[,test]}/<class>/<image>`` tree through torchvision's `ImageFolder`.

    Args:
        root: folder with ``train/`` and ``val/`` (and optionally ``test/``; else ``val/`` is the test split).
        image_size: side fed to the model.
        batch_size: samples per batch.
        auto_augment: timm auto-augment policy string (None disables).
        random_erasing: probability of timm's random erasing.
        num_workers: DataLoader workers.
    """

    num_channels = 3

    def __init__(
        self,
        root: str,
        image_size: int = 224,
        batch_size: int = 64,
        auto_augment: str | None = "rand-m9-mstd0.5-inc1",
        random_erasing: float = 0.25,
        num_workers: int = 2,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        for split in ("train", "val"):
            if not (Path(root) / split).is_dir():
                raise FileNotFoundError(
                    f"ImageFolderDataModule: {Path(root) / split} not found; expected root/train/<class>/* "
                    "and root/val/<class>/*"
                )
        classes = sorted(p.name for p in (Path(root) / "train").iterdir() if p.is_dir())
        if not classes:
            raise FileNotFoundError(f"ImageFolderDataModule: no class folders under {Path(root) / 'train'}")
        self.root, self.classes = root, classes
        self.num_classes = len(classes)
        self.image_size = image_size
        self.auto_augment, self.random_erasing = auto_augment, random_erasing

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train_tf = training_transform(
            input_size=self.image_size, auto_augment=self.auto_augment, re_prob=self.random_erasing
        )
        eval_tf = create_transform(self.image_size, is_training=False)
        root = Path(self.root)
        self.train_set = datasets.ImageFolder(root / "train", transform=train_tf, loader=load_rgb)
        self.val_set = datasets.ImageFolder(root / "val", transform=eval_tf, loader=load_rgb)
        test = root / "test" if (root / "test").is_dir() else root / "val"
        self.test_set = datasets.ImageFolder(test, transform=eval_tf, loader=load_rgb)
