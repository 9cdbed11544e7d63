"""``ffn-fields bench``: PE-MLP, SIREN, grid+MLP and CAM fitting photographs at equal parameter count
and equal steps, and PE vs CAM radiance fields on the analytic scene (held-out views).

Each field's width is chosen so its parameter count is as close as possible to the same budget
(``--params``); every run trains through the app's own `ImageFitting` on `ImageData` (or
`RadianceFitting` on `BlenderData`), as ``ffn-fields image fit`` does, with the same pixel batches,
steps and Adam (SIREN at 1e-4, the others at 1e-3, grids at 10× as CAM trains them). Finished runs
are kept in ``--results`` (a `RunStore`), so an interrupted bench resumes and the tables regenerate
without retraining.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from functools import partial
from tempfile import TemporaryDirectory
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from rich.console import Console
from rich.progress import track

from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    fit_timed,
    markdown_table,
    parameter_count,
    provenance,
    section_template,
    size_for_parameters,
    update_markdown_section,
)

from ..fields import CAMField, CAMGridField, Field, GridField, PEField, SirenField
from ..image import ImageData, ImageFitting
from ..radiance import BlenderData, RadianceFitting, RadianceRenderer

__all__ = ["main"]

IMAGES = ("astronaut", "camera", "coffee", "chelsea")
PUBLISHED = "CAM paper (Natural images, 266 K params): CAM 32.21 dB, Fourier-feature MLP 30.30 dB"


def _grouped(field: Callable[..., Field], channels: int | None, **options: Any) -> Callable[[int], Field]:
    """``field(**options)`` with ``channels`` γ/β groups (None: one per feature); the size searched is
    the width in multiples of ``channels`` (which must divide it)."""
    step = channels or 1
    return lambda k: field(width=k * step, modulation_channels=channels, **options)


def _cam(
    frequencies: int, resolution: int, channels: int | None, blocks: int | None
) -> Callable[[int], Field]:
    """CAM at ``resolution``² with ``channels`` γ/β groups on the first ``blocks`` of the PE-MLP."""
    return _grouped(
        CAMField,
        channels,
        depth=3,
        num_frequencies=frequencies,
        resolution=resolution,
        modulated_blocks=blocks,
    )


def _grid(resolution: int, features: int, normalize: bool = False) -> Callable[[int], Field]:
    return lambda w: GridField(
        width=w, depth=2, resolution=resolution, features=features, normalize=normalize
    )


def _cam_grid(
    resolution: int, features: int, modulation: int, channels: int | None, blocks: int | None
) -> Callable[[int], Field]:
    """CAM (``modulation``², ``channels`` γ/β groups, first ``blocks``) on `GridField`'s MLP."""
    return _grouped(
        CAMGridField,
        channels,
        depth=2,
        resolution=resolution,
        features=features,
        modulation_resolution=modulation,
        modulated_blocks=blocks,
    )


def _sweep(frequencies: int) -> dict[str, tuple[str, Callable[[int], Field], float]]:
    """Grid settings tried on the first image at the same budget and steps: name → (family, build, lr).

    Each family's best entry on that image is the one the main table runs on every image.
    """
    return {
        "CAM 32², per-feature γ/β, first block": ("CAM", _cam(frequencies, 32, None, 1), 1e-3),
        "CAM 32², one shared γ/β, every block (paper's image code)": (
            "CAM",
            _cam(frequencies, 32, 1, None),
            1e-3,
        ),
        "CAM 64², per-feature γ/β, first block": ("CAM", _cam(frequencies, 64, None, 1), 1e-3),
        "CAM 64², 8 γ/β groups, first block": ("CAM", _cam(frequencies, 64, 8, 1), 1e-3),
        "CAM 64², 16 γ/β groups, first block": ("CAM", _cam(frequencies, 64, 16, 1), 1e-3),
        "CAM 96², 8 γ/β groups, first block": ("CAM", _cam(frequencies, 96, 8, 1), 1e-3),
        "grid 64² × 16 + MLP": ("grid+MLP", _grid(64, 16), 1e-3),
        "grid 96² × 8 + MLP": ("grid+MLP", _grid(96, 8), 1e-3),
        "grid 96² × 16 + MLP": ("grid+MLP", _grid(96, 16), 1e-3),
        "grid 96² × 16 + MLP, LayerNorm after each block": ("grid+MLP", _grid(96, 16, True), 1e-3),
        "CAM 32², 8 γ/β groups, first block, on grid 96² × 16 + MLP": (
            "CAM",
            _cam_grid(96, 16, 32, 8, 1),
            1e-3,
        ),
        "CAM 32², 4 γ/β groups, first block, on grid 96² × 16 + MLP": (
            "CAM",
            _cam_grid(96, 16, 32, 4, 1),
            1e-3,
        ),
        "CAM 32², 8 γ/β groups, every block, on grid 96² × 16 + MLP": (
            "CAM",
            _cam_grid(96, 16, 32, 8, None),
            1e-3,
        ),
        "CAM 32², one shared γ/β, every block, on grid 96² × 16 + MLP": (
            "CAM",
            _cam_grid(96, 16, 32, 1, None),
            1e-3,
        ),
    }


def _fixed_fields(frequencies: int) -> dict[str, tuple[Callable[[int], Field], float]]:
    """The families without a grid to tune: name → (width → field, learning rate)."""
    return {
        "PE-MLP": (lambda w: PEField(width=w, depth=3, num_frequencies=frequencies), 1e-3),
        "SIREN": (lambda w: SirenField(width=w, depth=3), 1e-4),
    }


def _fit(module: LightningModule, data: LightningDataModule) -> tuple[dict[str, float], float]:
    """One epoch of ``data``'s training steps through Lightning, then its test; the test metrics and the
    training steps per second."""
    with TemporaryDirectory() as root:  # anything a module writes beside its logs (novel views)
        options = {"default_root_dir": root, "limit_val_batches": 0, "num_sanity_val_steps": 0}
        trainer, seconds = fit_timed(module, data, epochs=1, **options)
        metrics = trainer.test(module, data, verbose=False)[0]
    return metrics, trainer.global_step / seconds


def _fit_image(field: Field, lr: float, image: str, args: argparse.Namespace) -> dict[str, float]:
    """`ImageFitting` on `ImageData`, as ``ffn-fields image fit`` trains: ``args.steps`` batches of
    ``args.batch`` random pixels; PSNR and SSIM of the full reconstruction."""
    data = ImageData(image, size=args.size, batch_size=args.batch, steps_per_epoch=args.steps)
    optimizer = partial(torch.optim.Adam, lr=lr)
    module = ImageFitting(lambda *_: field, optimizer, grid_lr_scale=10.0, image_shape=data.image_shape)
    metrics, steps_s = _fit(module, data)
    return {"psnr": metrics["test/psnr"], "ssim": metrics["test/ssim"], "steps_s": steps_s}


def _fit_radiance(name: str, width_params: int, steps: int, rays: int) -> dict[str, float]:
    """`RadianceFitting` on `BlenderData`'s analytic scene, as ``ffn-fields radiance fit`` trains;
    PSNR over the held-out views."""
    builders = {
        "PE-MLP": lambda w: PEField(3, 4, width=w, depth=2, num_frequencies=6),
        "CAM": lambda w: CAMField(
            3,
            4,
            width=w,
            depth=2,
            num_frequencies=6,
            resolution=8,
            modulated_blocks=1,
            modulation_channels=None,
        ),
    }
    build = builders[name]
    width = size_for_parameters(build, width_params, low=4)
    torch.manual_seed(0)  # after the size search, so the initialization does not depend on it
    renderer = RadianceRenderer(lambda d, o: build(width), num_samples=32, num_importance_samples=32)
    module = RadianceFitting(renderer, partial(torch.optim.Adam, lr=5e-3), grid_lr_scale=10.0)
    metrics, steps_s = _fit(module, BlenderData(rays_per_batch=rays, steps_per_epoch=steps))
    return {"psnr": metrics["test/psnr"], "params": parameter_count(renderer), "steps_s": steps_s}


def _key(first: str, second: str, args: argparse.Namespace) -> str:
    """Cache key of one run: only the settings that run depends on."""
    if first == "radiance":
        return f"radiance/{second}/{args.radiance_steps}/{args.radiance_params}"
    return f"{first}/{second}/{args.size}/{args.steps}/{args.batch}/{args.params}/{args.frequencies}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-fields bench", description=__doc__)
    parser.add_argument("--size", type=int, default=128, help="shorter image side in pixels")
    parser.add_argument("--steps", type=int, default=600, help="training steps per image fit")
    parser.add_argument("--batch", type=int, default=4096, help="pixels per step")
    parser.add_argument("--params", type=int, default=200_000, help="parameter budget per image field")
    parser.add_argument("--frequencies", type=int, default=6, help="Fourier octaves of PE and CAM")
    parser.add_argument("--radiance-steps", type=int, default=600)
    parser.add_argument("--radiance-params", type=int, default=60_000)
    parser.add_argument("--results", default=str(RESULTS_DIR / "fields.json"), help="store of finished runs")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    return parser


def _image_rows(table: dict[str, str], result: Callable[[str, str], dict[str, float]]) -> list[list[str]]:
    """One row per field family (``table``: family -> the setting it runs), over every image."""
    rows = []
    for name in table:
        runs = [result(name, image) for image in IMAGES]
        rows.append(
            [
                name if table[name] == name else f"{name} ({table[name]})",
                f"{runs[0]['params']:,}",
                *(f"{r['psnr']:.2f}" for r in runs),
                f"{statistics.fmean(r['psnr'] for r in runs):.2f}",
                f"{statistics.fmean(r['ssim'] for r in runs):.3f}",
                f"{statistics.fmean(r['steps_s'] for r in runs):.1f}",
            ]
        )
    return rows


def _run(
    name: str,
    image: str,
    *,
    store: RunStore,
    builds: dict[str, tuple[Callable[[int], Field], float]],
    args: argparse.Namespace,
    console: Console,
) -> dict[str, float]:
    """The stored result of field setting ``name`` on ``image`` (``radiance``: the radiance field named
    ``image``), trained first if the store lacks it."""
    key = _key(name, image, args)
    if key not in store:
        torch.manual_seed(0)
        if name == "radiance":
            result = _fit_radiance(image, args.radiance_params, args.radiance_steps, 512)
        else:
            build, lr = builds[name]
            size = size_for_parameters(build, args.params, low=1)
            torch.manual_seed(0)  # after the size search, so the initialization does not depend on it
            field = build(size)
            fit = _fit_image(field, lr, image, args)
            params = parameter_count(field)
            result = {**fit, "width": field.input.out_features, "params": params}
        store.put(key, result)
        console.print(f"{name} {image}: {result}")
    return store[key]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    console = Console()
    store = RunStore(args.results)
    sweep = _sweep(args.frequencies)
    builds = {name: (build, lr) for name, (_, build, lr) in sweep.items()} | _fixed_fields(args.frequencies)
    run = partial(_run, store=store, builds=builds, args=args, console=console)
    for name in track(sweep, description=f"grid settings on {IMAGES[0]}", console=console):
        run(name, IMAGES[0])
    family_settings = {
        family: [n for n, (f, _, _) in sweep.items() if f == family] for family in ("grid+MLP", "CAM")
    }
    best = {
        family: max(names, key=lambda n: run(n, IMAGES[0])["psnr"])
        for family, names in family_settings.items()
    }
    table = {"PE-MLP": "PE-MLP", "SIREN": "SIREN", "grid+MLP": best["grid+MLP"], "CAM": best["CAM"]}
    jobs = [(n, i) for i in IMAGES for n in table.values()] + [("radiance", f) for f in ("PE-MLP", "CAM")]
    for name, image in track(jobs, description="fields bench", console=console):
        run(name, image)

    def result(first: str, second: str) -> dict[str, float]:
        return store[_key(table.get(first, first), second, args)]

    shown = [run(name, image) for name, image in jobs] + [run(name, IMAGES[0]) for name in sweep]
    machine, updated = provenance(shown)

    header = ["field", "params", *IMAGES, "mean PSNR", "mean SSIM", "steps/s"]
    rows = _image_rows(table, result)
    cells = (("params", ","), ("psnr", ".2f"), ("steps_s", ".2f"))
    radiance = [[n, *(f"{result('radiance', n)[k]:{f}}" for k, f in cells)] for n in ("PE-MLP", "CAM")]
    sweep_rows = [[n, f"{run(n, IMAGES[0])['params']:,}", f"{run(n, IMAGES[0])['psnr']:.2f}"] for n in sweep]
    console.print(console_table("Image fitting (PSNR dB)", header, rows))
    command = (
        f"ffn-fields bench --size {args.size} --steps {args.steps} --batch {args.batch} "
        f"--params {args.params} --radiance-steps {args.radiance_steps} "
        f"--radiance-params {args.radiance_params}"
    )
    body = section_template(
        __file__,
        "fields",
        command=command,
        machine=machine,
        images=len(IMAGES),
        size=args.size,
        steps=args.steps,
        batch=args.batch,
        params=f"{args.params:,}",
        published=PUBLISHED,
        first=IMAGES[0],
        sweep_table=markdown_table(["setting", "params", f"PSNR on {IMAGES[0]}"], sweep_rows),
        image_table=markdown_table(header, rows),
        radiance_steps=args.radiance_steps,
        radiance_table=markdown_table(["field", "params", "PSNR", "steps/s"], radiance),
    )
    update_markdown_section(args.markdown, "fields", body, updated)
    console.print(f"wrote the fields section of {args.markdown}")


if __name__ == "__main__":
    main()
