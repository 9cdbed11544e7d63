"""Separation of inputs of any length: overlapping chunks, aligned and cross-faded (overlap-add).

Long inputs are cut into chunks of ``chunk`` samples overlapping by ``overlap``; each chunk's sources are
put in the order that best continues the previous chunks on their overlap (highest correlation, as
Asteroid's ``LambdaOverlapAdd`` reorders them), then cross-faded. Only the order is aligned, never the
scale: the separators mask the mixture, so their scale follows the input's, while a gain fitted on each
overlap compounds from chunk to chunk (a least-squares gain of an estimate with noise is below 1, so a
noisy separator's output faded geometrically: 40× quieter after 5 chunks). Used by ``ffn-speech
separate`` and by `SpeechSeparation`'s chunked test scores.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch

__all__ = ["separate_long"]


def _crossfade(length: int, overlap: int, first: bool, last: bool) -> torch.Tensor:
    weight = torch.ones(length)
    if overlap > 0:
        ramp = torch.linspace(0, 1, overlap + 2)[1:-1]
        if not first:
            weight[:overlap] = ramp
        if not last:
            weight[-overlap:] = ramp.flip(0)
    return weight


@torch.no_grad()
def separate_long(
    network: Callable[[torch.Tensor], torch.Tensor], mixture: torch.Tensor, chunk: int, overlap: int
) -> torch.Tensor:
    """Split a 1-D ``mixture`` into ``(S, L)`` in chunks of ``chunk`` samples overlapping by ``overlap``."""
    length = mixture.shape[-1]
    if length <= chunk:
        return network(mixture[None])[0]
    if not 0 <= overlap < chunk:
        raise ValueError(f"separate_long: overlap={overlap} must be in [0, chunk={chunk})")
    hop = chunk - overlap
    starts = list(range(0, length - chunk + 1, hop))
    if starts[-1] + chunk < length:
        starts.append(length - chunk)
    out, norm = None, None  # on the device (and dtype) of the network's estimates
    for i, start in enumerate(starts):
        estimate = network(mixture[None, start : start + chunk])[0]  # (S, chunk)
        if out is None:
            out = estimate.new_zeros(estimate.shape[0], length)
            norm = estimate.new_zeros(length)
        else:  # continue the previous chunks: the speaker order that matches them best on the overlap
            shared = min(start + chunk, starts[i - 1] + chunk) - start
            previous = out[:, start : start + shared] / norm[start : start + shared].clamp_min(1e-8)
            estimate = _align(estimate, previous, shared)
        weight = _crossfade(chunk, min(overlap, chunk), i == 0, i == len(starts) - 1).to(estimate)
        out[:, start : start + chunk] += estimate * weight
        norm[start : start + chunk] += weight
    return out / norm.clamp_min(1e-8)


def _align(estimate: torch.Tensor, previous: torch.Tensor, shared: int) -> torch.Tensor:
    """``estimate``'s sources in the order whose first ``shared`` samples correlate best with
    ``previous``'s."""
    head = estimate[:, :shared]
    orders = [list(order) for order in itertools.permutations(range(estimate.shape[0]))]
    scores = [float((head[order] * previous).sum()) for order in orders]
    return estimate[orders[max(range(len(orders)), key=scores.__getitem__)]]
