"""`Dropout`: ``nn.Dropout`` whose CPU mask takes one generator call per four elements; in every block.

On CPU, PyTorch's dropout draws its mask with ``bernoulli_``, one Mersenne-Twister number (and a
float comparison) per element: in TSMixer's training step (ETTh1, batch 32) that alone was half of
the step. `Dropout` draws 64-bit random words instead and reads each as four 16-bit numbers, so one
generator call serves four elements, then keeps an element when its number falls below
``round((1 - p) * 2**16)``. The kept fraction is that count over 2¹⁶ (p = 0.9 drops 0.899994), and
the scale is the exact inverse of it, so the output is unbiased (``E[out] = x``) as with
``nn.Dropout``. The mask comes from the default CPU generator, so ``torch.manual_seed`` makes it
reproducible (independent of the thread count); it differs from ``nn.Dropout``'s draw, so runs match
``nn.Dropout`` runs in distribution, not bit for bit (BENCHMARKS.md, "CPU training step").

On other devices (CUDA's dropout is one fused kernel) and for ``p`` of 0 or 1 it is ``F.dropout``.
Same arguments and (empty) ``state_dict`` as ``nn.Dropout``, so checkpoints load either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Dropout", "dropout", "dropout_mask"]

_LEVELS = 1 << 16  # resolution of the keep probability


def dropout_mask(like: torch.Tensor, p: float) -> torch.Tensor:
    """A mask shaped and typed like ``like``: 0 where dropped, ``1 / keep`` where kept (CPU draw above).

    ``p`` is rounded to a multiple of 2⁻¹⁶; the scale uses the rounded keep probability.
    """
    keep = round((1.0 - p) * _LEVELS)
    if keep in (0, _LEVELS):
        return torch.full_like(like, float(keep > 0))
    numel = like.numel()
    words = torch.empty((numel + 3) // 4, dtype=torch.int64, device=like.device)
    words.random_(-(1 << 63), None)  # the full 64-bit range: every 16-bit quarter uniform
    numbers = words.view(torch.int16)[:numel].view(like.shape)
    return (numbers < keep - _LEVELS // 2).to(like.dtype).mul_(_LEVELS / keep)


def dropout(x: torch.Tensor, p: float, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """``F.dropout`` with `dropout_mask`'s CPU draw (``F.dropout`` itself elsewhere and for p of 0 or 1)."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p == 1.0:
        return F.dropout(x, p, True, inplace)
    mask = dropout_mask(x, p)
    return x.mul_(mask) if inplace else x * mask


class Dropout(nn.Dropout):
    """Drop-in ``nn.Dropout`` whose CPU mask is drawn 16 bits at a time (module docstring).

    Args:
        p: probability of an element being zeroed (rounded to a multiple of 2⁻¹⁶ on CPU).
        inplace: scale the input in place.

    Shape:
        - Input: any
        - Output: same as the input
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training, self.inplace)
