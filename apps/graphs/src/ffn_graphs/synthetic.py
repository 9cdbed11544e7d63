"""`SeededSplits`: train/val/test lists generated once from a seed, served by resumable loaders.

The base of the generated-instance DataModules (`floyd.APSPData`, `tsp.TSPData`): a subclass defines
how one split's items are drawn (`make`) and how a batch of them is collated (``collate_fn``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from lightning.pytorch import LightningDataModule

from ffn_lightning import ResumableDataLoader

__all__ = ["SPLITS", "SeededSplits"]

SPLITS = ("train", "val", "test")


class SeededSplits(LightningDataModule):
    """Items of each split in ``splits``; split ``i`` is drawn from ``default_rng([seed, i])``.

    Args:
        counts: items per split.
        batch_size: items per batch.
        seed: generator seed.
    """

    collate_fn: Callable[[Sequence[Any]], Any]

    def __init__(self, counts: dict[str, int], batch_size: int, seed: int) -> None:
        super().__init__()
        self.counts, self.batch_size, self.seed = counts, batch_size, seed
        self.splits: dict[str, list[Any]] = {}

    def make(self, split: str, rng: np.random.Generator) -> list[Any]:
        """The items of ``split``, drawn from ``rng``."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        for index, split in enumerate(SPLITS):
            if split not in self.splits:
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
