"""Let checkpoints whose hyperparameters hold factories load with torch's ``weights_only=True``.

A LightningModule built in Python keeps its factory arguments (``ffn=MLP``,
``optimizer=partial(Adam, lr=1e-3)``) in its hyperparameters, and Lightning loads ``ckpt_path`` with
torch's safe unpickler, which refuses any class it has not been told about. `register_safe_globals`
allow-lists exactly the classes such hyperparameters name: `functools.partial`, every module and
optimizer class of torch and of this project's packages (``ffn_*``), and the schedules. Arbitrary
callables stay refused: a partial can only wrap allow-listed classes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["register_safe_globals"]

_TRUSTED_PREFIXES = ("torch.", "ffn_")


def _subclasses(root: type) -> set[type]:
    found, stack = set(), [root]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def register_safe_globals(extra: Iterable[type] = ()) -> int:
    """Allow-list the project's and torch's module, optimizer and scheduler classes; returns how many.

    Call it after the classes a checkpoint may name are imported (the apps do, at import).
    """
    classes = {functools.partial, *extra}
    for root in (nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler):
        classes |= {c for c in _subclasses(root) if c.__module__.startswith(_TRUSTED_PREFIXES)}
    torch.serialization.add_safe_globals(sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}"))
    return len(classes)
