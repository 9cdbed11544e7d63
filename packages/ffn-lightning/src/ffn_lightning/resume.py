"""Exact resumption: a training run stopped mid-epoch and resumed from its last checkpoint reproduces
the uninterrupted run's weights and losses bit for bit (on the same hardware).

Two things are not in a Lightning checkpoint by default, and both are needed:

- **where the data stream was**: each epoch of a `ResumableDataLoader` draws its order and worker
  seeds from its own generator seeded by ``(seed, epoch)``; on resume `ExactResume` tells it the
  epoch and how many batches Lightning's restored loop had completed, and it replays and drops those
  (so random augmentations replay too);
- **the global random state** (dropout, stochastic depth, samplers inside models): `ExactResume`
  saves the torch / CUDA / numpy / Python generators with every checkpoint and puts them back right
  before the first training batch after a resume, after sanity validation has run.

`FFNLightningCLI` adds `ExactResume` to every trainer; the apps' training loaders are
`ResumableDataLoader`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch.utils.data import DataLoader

__all__ = ["ExactResume", "ResumableDataLoader"]


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` that can start an epoch part-way, replaying exactly the order it had.

    Accepts every ``DataLoader`` argument except ``generator`` (it owns one). Epoch ``e`` draws its
    shuffle order and worker seeds from a generator seeded with ``seed + e``, and a dataset with a
    ``set_epoch(e)`` method is told the epoch before iteration (for datasets that sample per item).
    `ExactResume` sets the position from Lightning's restored loop progress before the epoch's first
    batch; the loader's ``state_dict`` is what makes Lightning treat it as resumable.

    Args:
        *args: as for ``torch.utils.data.DataLoader``.
        seed: base seed of the per-epoch generator.
        **kwargs: as for ``torch.utils.data.DataLoader``.
    """

    def __init__(self, *args: Any, seed: int = 0, **kwargs: Any) -> None:
        if "generator" in kwargs:
            raise ValueError("ResumableDataLoader: pass seed=..., not generator= (it seeds one per epoch)")
        self._epoch_generator = torch.Generator()
        super().__init__(*args, generator=self._epoch_generator, **kwargs)
        self.seed, self.epoch, self.skip, self.batches_done = seed, 0, 0, 0
        self.before_next: Callable[[], None] | None = None  # called once, before the next real batch

    def set_position(self, epoch: int, skip: int = 0) -> None:
        """The next iteration is epoch ``epoch``, without its first ``skip`` batches."""
        self.epoch, self.skip = epoch, skip

    def __iter__(self) -> Iterator[Any]:
        # a generator: the body (and so the position it reads) runs at the first batch request, which
        # Lightning makes after ``on_train_start`` / ``on_train_epoch_start``
        epoch, skip, before_next = self.epoch, self.skip, self.before_next
        self.epoch, self.skip, self.before_next = epoch + 1, 0, None
        self._epoch_generator.manual_seed(self.seed + epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        iterator = super().__iter__()
        for self.batches_done in range(skip):  # replayed, so per-batch randomness replays too
            next(iterator, None)
        self.batches_done = skip
        if before_next is not None:
            before_next()
        for batch in iterator:
            self.batches_done += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Informational position (the epoch after the one last started, batches handed out)."""
        return {"next_epoch": self.epoch, "batches_done": self.batches_done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Nothing to do: `ExactResume` positions the loader from Lightning's own loop state."""


def _random_state() -> dict[str, Any]:
    """The global generators, as tensors and plain Python values (loadable with ``weights_only=True``)."""
    name, keys, position, has_gauss, cached = np.random.get_state()  # noqa: NPY002 -- the global stream
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "rest": [position, has_gauss, cached],
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    keys = numpy_state["keys"].numpy().astype(np.uint32)
    np.random.set_state((numpy_state["name"], keys, *numpy_state["rest"]))  # noqa: NPY002
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _resumable_loaders(trainer: Trainer) -> list[ResumableDataLoader]:
    loaders = trainer.train_dataloader
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    loaders = loaders if isinstance(loaders, list | tuple) else [loaders]
    return [loader for loader in loaders if isinstance(loader, ResumableDataLoader)]


class ExactResume(Callback):
    """Make a resumed run continue exactly where its checkpoint stopped.

    - Saves the global random generators (torch, CUDA, numpy, Python) with every checkpoint and puts
      them back after a resume right before the first new training batch is fetched (after sanity
      validation and after the replayed batches).
    - Positions every training `ResumableDataLoader` at Lightning's epoch at each epoch start and, when
      a run resumes mid-epoch, past the batches Lightning's restored progress says were done.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None
        self._resumed_epoch: int | None = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # A run resumed mid-epoch gets no on_train_epoch_start for that epoch: position it here, past the
        # batches Lightning's restored progress says were processed (0 in a fresh run). A checkpoint
        # written in on_train_batch_end counts its batch as processed but not yet completed.
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        skip = done if done < trainer.num_training_batches else 0
        loaders = _resumable_loaders(trainer)
        for loader in loaders:
            loader.set_position(trainer.current_epoch, skip)
        self._resumed_epoch = trainer.current_epoch if skip else None
        if self._pending is not None and loaders:
            # after the replayed batches (whose augmentations draw from the global stream), right
            # before the first new batch is fetched: where the checkpoint was taken
            loaders[0].before_next = self._restore

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._resumed_epoch == trainer.current_epoch:  # positioned by on_train_start already
            self._resumed_epoch = None
            return
        for loader in _resumable_loaders(trainer):
            loader.set_position(trainer.current_epoch, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"random_state": _random_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("random_state")

    def _restore(self) -> None:
        if self._pending is not None:
            _set_random_state(self._pending)
            self._pending = None

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._restore()  # no ResumableDataLoader: the latest possible moment
