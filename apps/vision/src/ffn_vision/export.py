"""``ffn-vision reparameterize``: turn a training checkpoint into a merged, inference-only checkpoint.

The output loads everywhere the input did: ``ImageClassifier.load_from_checkpoint`` and
``ffn-vision test/predict --ckpt_path`` (the module merges its structure before loading the weights).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import lightning
import torch

from .module import _MERGED_KEY, ImageClassifier

__all__ = ["main", "reparameterize_checkpoint"]


def reparameterize_checkpoint(
    ckpt: str | Path, out: str | Path, *, overwrite: bool = False
) -> ImageClassifier:
    """Load ``ckpt``, merge every reparameterizable block, save to ``out``; returns the merged module."""
    ckpt, out = Path(ckpt), Path(out)
    if not ckpt.is_file():
        raise FileNotFoundError(f"reparameterize: checkpoint {ckpt} does not exist")
    if out.exists() and not overwrite:
        raise FileExistsError(f"reparameterize: {out} exists; pass --overwrite to replace it")
    # our own checkpoint: its hyperparameters may hold a functools.partial (see README, "Trusted checkpoints")
    raw = torch.load(ckpt, map_location="cpu", weights_only=False)
    module = ImageClassifier.load_from_checkpoint(ckpt, map_location="cpu", weights_only=False)
    module.merge()
    # the hyperparameters as stored (plain dicts when written by the CLI), not as re-instantiated
    hparams = {**raw.get("hyper_parameters", {}), "merged": True}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": hparams,
            "pytorch-lightning_version": lightning.__version__,
            _MERGED_KEY: True,
        },
        out,
    )
    return module


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-vision reparameterize", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="training checkpoint (.ckpt)")
    parser.add_argument("--out", required=True, help="where to write the merged checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    try:
        module = reparameterize_checkpoint(args.ckpt, args.out, overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError) as error:
        parser.error(str(error))
    params = sum(p.numel() for p in module.parameters())
    print(f"merged model ({params / 1e6:.2f} M parameters) written to {args.out}")
