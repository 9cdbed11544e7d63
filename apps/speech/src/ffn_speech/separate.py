"""``ffn-speech separate``: one WAV per speaker for a file of any length, chunked with overlap-add.

Long inputs are cut into overlapping chunks; each chunk's sources are put in the order (and at the
scale) that best continues the previous chunk on their overlap, then cross-faded. Stereo input is
downmixed and other sample rates are resampled to the model's (with a notice); outputs are written at
the input's rate. Existing outputs are kept unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import soundfile as sf
import torch
import torchaudio

from .data import read_audio
from .module import SpeechSeparation

__all__ = ["main", "separate_long"]


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
    out, norm = None, torch.zeros(length)
    for i, start in enumerate(starts):
        estimate = network(mixture[None, start : start + chunk])[0]  # (S, chunk)
        if out is None:
            out = torch.zeros(estimate.shape[0], length)
        else:  # continue the previous chunks: best permutation and scale on the overlap
            shared = min(start + chunk, starts[i - 1] + chunk) - start
            previous = out[:, start : start + shared] / norm[start : start + shared].clamp_min(1e-8)
            estimate = _align(estimate, previous, shared)
        weight = _crossfade(chunk, min(overlap, chunk), i == 0, i == len(starts) - 1)
        out[:, start : start + chunk] += estimate * weight
        norm[start : start + chunk] += weight
    return out / norm.clamp_min(1e-8)


def _align(estimate: torch.Tensor, previous: torch.Tensor, shared: int) -> torch.Tensor:
    head = estimate[:, :shared]
    best, best_score = None, -float("inf")
    for order in itertools.permutations(range(estimate.shape[0])):
        candidate = head[list(order)]
        score = float((candidate * previous).sum() / (candidate.norm() * previous.norm() + 1e-8))
        if score > best_score:
            best, best_score = list(order), score
    estimate = estimate[best]
    gains = (estimate[:, :shared] * previous).sum(-1) / estimate[:, :shared].square().sum(-1).clamp_min(1e-8)
    return estimate * gains[:, None]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-speech separate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a SpeechSeparation checkpoint")
    parser.add_argument("--input", required=True, help="the mixture (any rate, mono or stereo)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--chunk-seconds", type=float, default=4.0)
    parser.add_argument("--overlap-seconds", type=float, default=1.0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        _run(args)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        parser.error(str(error))


def _run(args: argparse.Namespace) -> None:
    source = Path(args.input)
    samples, rate = read_audio(source)  # validates the file first
    channels = sf.info(source).channels
    if channels > 1:
        print(f"{source}: {channels} channels, downmixed to mono")
    module = SpeechSeparation.load_from_checkpoint(args.ckpt, map_location="cpu").eval()
    model_rate = module.hparams.sample_rate
    mixture = torch.from_numpy(samples)
    if rate != model_rate:
        print(f"{source}: {rate} Hz, resampled to the model's {model_rate} Hz")
        mixture = torchaudio.functional.resample(mixture, rate, model_rate)
    out_dir = Path(args.out_dir)
    targets = [out_dir / f"{source.stem}_speaker{s + 1}.wav" for s in range(module.hparams.num_speakers)]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass --overwrite to replace it")
    chunk = int(args.chunk_seconds * model_rate)
    separated = separate_long(module, mixture, chunk, int(args.overlap_seconds * model_rate))
    if rate != model_rate:
        separated = torchaudio.functional.resample(separated, model_rate, rate)
    out_dir.mkdir(parents=True, exist_ok=True)
    peak = separated.abs().max().clamp_min(1e-8)
    for target, wave in zip(targets, separated, strict=True):
        sf.write(target, (0.9 * wave / peak).numpy(), rate)
        print(f"wrote {target}")
