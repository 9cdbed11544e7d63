"""``ffn-speech separate``: one WAV per speaker for a file of any length, chunked with overlap-add.

Long inputs are cut into overlapping chunks (`ffn_speech.chunking.separate_long`). Stereo input is
downmixed and other sample rates are resampled to the model's (with a notice); outputs are written at
the input's rate. Existing outputs are kept unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import soundfile as sf
import torch
import torchaudio

from .chunking import separate_long
from .data import read_audio
from .module import SpeechSeparation

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-speech separate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a SpeechSeparation checkpoint")
    parser.add_argument("--input", required=True, help="the mixture (any rate, mono or stereo)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--chunk-seconds", type=float, default=4.0)
    parser.add_argument("--overlap-seconds", type=float, default=1.0)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--device", default="cpu", help="where the model runs (cpu, cuda, cuda:1, ...)")
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
    module = SpeechSeparation.load_from_checkpoint(args.ckpt, map_location=args.device).eval()
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
    separated = separate_long(module, mixture.to(args.device), chunk, int(args.overlap_seconds * model_rate))
    separated = separated.cpu()
    if rate != model_rate:
        separated = torchaudio.functional.resample(separated, model_rate, rate)
    out_dir.mkdir(parents=True, exist_ok=True)
    peak = separated.abs().max().clamp_min(1e-8)
    for target, wave in zip(targets, separated, strict=True):
        sf.write(target, (0.9 * wave / peak).numpy(), rate)
        print(f"wrote {target}")
