"""`SeededSplits`: train/val/test items generated from a seed, served by resumable loaders.

The base of the generated-instance DataModules (`floyd.APSPData`, `tsp.TSPData`): a subclass defines
how one item is drawn (`make_one`) and how a batch of them is collated (``collate_fn``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset

from ffn_lightning import ResumableDataLoader

__all__ = ["SPLITS", "EpochDraws", "SeededSplits"]

SPLITS = ("train", "val", "test")


class EpochDraws(Dataset):
    """``count`` items drawn on access: item ``i`` of epoch ``e`` comes from
    ``default_rng([*key, e, i])``, so every epoch sees new items and any epoch can be replayed exactly.

    `ResumableDataLoader` calls `set_epoch` before each epoch's iteration (and before worker processes
    start, so workers see it too).

    Args:
        count: items per epoch.
        draw: ``(index, rng)`` → item.
        key: seed words that identify the stream (e.g. ``(seed, split index)``).
    """

    def __init__(
        self, count: int, draw: Callable[[int, np.random.Generator], Any], key: Sequence[int]
    ) -> None:
        self.count, self.draw, self.key, self.epoch = count, draw, tuple(key), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < self.count:
            raise IndexError(f"EpochDraws: index {index} out of range for {self.count} items")
        return self.draw(index, np.random.default_rng([*self.key, self.epoch, index]))


class SeededSplits(LightningDataModule):
    """Items of each split; split ``s`` (index in `SPLITS`) is drawn once from ``default_rng([seed, s])``,
    or, for training with ``fresh_train``, anew every epoch (`EpochDraws` keyed ``(seed, 0)``).

    Args:
        counts: items per split (per epoch, for a fresh training split).
        batch_size: items per batch.
        seed: generator seed.
        fresh_train: draw new training items every epoch instead of reusing one fixed list: the same
            steps then see ``epochs``× as many distinct items (validation and test stay fixed).
    """

    collate_fn: Callable[[Sequence[Any]], Any]

    def __init__(self, counts: dict[str, int], batch_size: int, seed: int, fresh_train: bool = False) -> None:
        super().__init__()
        self.counts, self.batch_size, self.seed, self.fresh_train = counts, batch_size, seed, fresh_train
        self.splits: dict[str, Sequence[Any]] = {}

    def make_one(self, split: str, index: int, rng: np.random.Generator) -> Any:
        """Item ``index`` of ``split``, drawn from ``rng``."""
        raise NotImplementedError

    def make(self, split: str, rng: np.random.Generator) -> list[Any]:
        """The items of ``split``, drawn in turn from one ``rng``."""
        return [self.make_one(split, index, rng) for index in range(self.counts[split])]

    def setup(self, stage: str | None = None) -> None:
        for index, split in enumerate(SPLITS):
            if split in self.splits:
                continue
            if split == "train" and self.fresh_train:
                draw = partial(self.make_one, "train")
                self.splits[split] = EpochDraws(self.counts[split], draw, (self.seed, index))
            else:
                self.splits[split] = self.make(split, np.random.default_rng([self.seed, index]))

    def _loader(self, split: str, shuffle: bool) -> ResumableDataLoader:
        return ResumableDataLoader(
            self.splits[split], batch_size=self.batch_size, shuffle=shuffle, collate_fn=type(self).collate_fn
        )

    def train_dataloader(self) -> ResumableDataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> ResumableDataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> ResumableDataLoader:
        return self._loader("test", False)
