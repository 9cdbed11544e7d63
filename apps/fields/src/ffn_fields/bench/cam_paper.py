"""``ffn-fields bench-cam-paper``: the CAM paper's image protocol, four fields, four photographs.

Every run is ``ffn-fields image fit`` then ``test`` on the shipped ``cam_paper.yaml`` (the protocol of
maincold2/CAM's ``CAM_image.py``: train on every second pixel, full-batch Adam 2000 steps, the rate cut
at 1000 and 1500, PSNR of the full image), with only the field replaced:

- ``CAM (paper)``: the config's own field;
- ``FFN (paper)``: the paper's baseline, the same random-Fourier-feature network without CAM;
- ``CAM (tuned)``: ``grid_cam.yaml``'s field (8 γ/β groups on the first block of a grid + MLP);
- ``PE-MLP``: octave positional encoding into three `MLP` blocks of width 96, its highest octave at half
  the Nyquist frequency of the training pixels (`pe_octaves`).

Runs are kept in ``docs/bench-results/fields-cam-paper.json``; the section is rebuilt from the store.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    RunStore,
    markdown_table,
    mean_std,
    parameter_count,
    provenance,
    section_template,
    update_markdown_section,
)

IMAGES = ("astronaut", "camera", "coffee", "chelsea")
RFF = {"encoding": "random", "num_frequencies": 256, "rff_sigma": 10.0, "output_act": "torch.nn.Sigmoid"}
FIELDS = {
    "CAM (paper)": None,
    "FFN (paper)": {
        "class_path": "ffn_fields.fields.PEField",
        "init_args": {"width": 256, "depth": 2, "ffn": "torch.nn.Linear", **RFF},
    },
    "CAM (tuned)": {
        "class_path": "ffn_fields.fields.CAMGridField",
        "init_args": {
            "width": 48,
            "depth": 2,
            "resolution": 96,
            "features": 16,
            "modulation_resolution": 32,
            "modulated_blocks": 1,
            "modulation_channels": 8,
            "ffn": "ffn_blocks.MLP",
        },
    },
    "PE-MLP": {
        "class_path": "ffn_fields.fields.PEField",
        "init_args": {
            "width": 96,
            "depth": 3,
            "ffn": "ffn_blocks.MLP",
            "encoding": "octave",
            "output_act": "torch.nn.Identity",
        },
    },
}
SECTION = "fields-cam-paper"


def pe_octaves(size: int) -> int:
    """Octaves of the PE-MLP at ``size`` px: its highest, 2^(n-1) cycles per unit of the [-1, 1] image
    coordinates, at most half the Nyquist frequency of the pixels it trains on (every second one:
    ``size / 2`` over 2 units, Nyquist ``size / 8``). Finer octaves alias on that grid: the network fits
    the training pixels and fills the others with the aliases (10 octaves at 128 px: 13.1 dB)."""
    return max(1, int(math.log2(size / 16)) + 1)


def run_one(image: str, field: str, size: int, steps: int, seed: int) -> dict[str, float]:
    """Fit and test one field on one image through the app's CLI; PSNR, SSIM, parameters, seconds."""
    from ffn_fields.cli import cli

    overrides = [f"--data.image={image}", f"--data.size={size}", f"--seed_everything={seed}"]
    overrides += [
        f"--trainer.max_steps={steps}",
        "--trainer.max_epochs=-1",
        "--trainer.enable_progress_bar=false",
    ]
    spec = FIELDS[field]
    if field == "PE-MLP":
        spec = {**spec, "init_args": {**spec["init_args"], "num_frequencies": pe_octaves(size)}}
    if spec is not None:
        overrides.append(f"--model.field={json.dumps(spec)}")
    with TemporaryDirectory() as root:
        built = cli(["--config", "cam_paper", f"--trainer.default_root_dir={root}", *overrides], run=False)
        start = time.perf_counter()
        built.trainer.fit(built.model, built.datamodule)
        seconds = time.perf_counter() - start
        metrics = built.trainer.test(built.model, built.datamodule, verbose=False)[0]
    params = parameter_count(built.model.field)
    return {"psnr": metrics["test/psnr"], "ssim": metrics["test/ssim"], "params": params, "seconds": seconds}


def section(store: RunStore, args: argparse.Namespace) -> tuple[str, str]:
    """The section's text from the runs stored for ``args``' size and steps, and its date."""
    header = ["field", "params", *IMAGES, "mean PSNR", "mean SSIM", "s / run"]
    rows, shown = [], []
    for field in FIELDS:
        setting = {"field": field, "size": args.size, "steps": args.steps}
        found = {image: store.select(image=image, **setting) for image in IMAGES}
        if not all(found.values()):
            continue
        every = [r for image in IMAGES for r in found[image]]
        shown += every
        per_image = [mean_std([r["psnr"] for r in found[image]], 2) for image in IMAGES]
        rows.append(
            [
                field,
                f"{every[0]['params']:,}",
                *per_image,
                f"{sum(r['psnr'] for r in every) / len(every):.2f}",
                f"{sum(r['ssim'] for r in every) / len(every):.3f}",
                f"{sum(r['seconds'] for r in every) / len(every):.0f}",
            ]
        )
    machine, updated = provenance(shown)
    body = section_template(
        __file__,
        "cam_paper",
        size=args.size,
        steps=args.steps,
        seeds=args.seeds,
        machine=machine,
        octaves=pe_octaves(args.size),
        table=markdown_table(header, rows),
    )
    return body, updated


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ffn-fields bench-cam-paper", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="shorter image side in pixels")
    parser.add_argument("--steps", type=int, default=2000, help="training steps (the paper: 2000)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--fields", nargs="+", default=list(FIELDS), choices=list(FIELDS))
    parser.add_argument("--images", nargs="+", default=list(IMAGES), choices=list(IMAGES))
    parser.add_argument("--results", default=str(RESULTS_DIR / "fields-cam-paper.json"))
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    args = parser.parse_args(argv)
    store = RunStore(args.results, fields=("image", "field", "size", "steps", "seed"))
    grid = [
        {"image": image, "field": field, "size": args.size, "steps": args.steps, "seed": seed}
        for seed in range(args.seeds)
        for image in args.images
        for field in args.fields
    ]
    for point in store.missing(grid):
        torch.manual_seed(point["seed"])
        store.put(point | run_one(point["image"], point["field"], args.size, args.steps, point["seed"]))
        print(store.key(point), store[store.key(point)], flush=True)
    body, updated = section(store, args)
    update_markdown_section(Path(args.markdown), SECTION, body, updated)
    print(body)
