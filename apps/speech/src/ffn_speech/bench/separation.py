"""``ffn-speech bench``: our separator against Conv-TasNet at matched size and equal training steps.

Both train on the same seeded FSDD mixtures for the same number of steps with the same optimizer, then
are tested on held-out speakers (SI-SNRi and SDRi) and on the 36 real Libri2Mix mixtures, beside
MossFormer2's own published outputs for those files. Real-time factor: seconds to separate 10 s of
8 kHz audio, divided by 10.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console
from torchmetrics.functional.audio import scale_invariant_signal_noise_ratio

from ffn_data import fetch
from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    interleaved_latency,
    markdown_table,
    mean_std,
    parameter_count,
    provenance,
    section_template,
    update_markdown_section,
)

from ..cli import CONFIGS, SpeechCLI
from ..data import FSDDMixtureDataModule, SeparationFolder, read_audio
from ..module import SpeechSeparation, pit_si_snr

__all__ = ["main", "published_libri2mix_si_snri"]


def published_libri2mix_si_snri(root: Path | None = None) -> float:
    """Mean PIT SI-SNRi of MossFormer2's shipped ``*hat.wav`` outputs (the paper's own separations), in
    ``root`` (default: the registered ``Libri2Mix-samples``)."""
    root = root if root is not None else fetch("Libri2Mix-samples")
    values = []
    for mix_path, *source_paths in SeparationFolder(root, "samples").items:
        stem = mix_path.name.split("_")[0]
        signals = [read_audio(p)[0] for p in (mix_path, *source_paths)]
        signals += [read_audio(root / f"{stem}_source{s}hat.wav")[0] for s in (1, 2)]
        length = min(len(x) for x in signals)
        mix, s1, s2, h1, h2 = (torch.from_numpy(x[:length]).double() for x in signals)
        references, estimates = torch.stack([s1, s2])[None], torch.stack([h1, h2])[None]
        best, _ = pit_si_snr(estimates, references)
        base = scale_invariant_signal_noise_ratio(mix.expand(2, length)[None], references).mean()
        values.append(float(best - base))
    return statistics.fmean(values)


def _train(name: str, preset: list[str], steps: int, root: Path, seed: int) -> dict[str, float]:
    args = [
        "--config",
        str(CONFIGS / "default.yaml"),
        *preset,
        f"--seed_everything={seed}",  # initialization and batch order; the mixtures stay the same
        f"--trainer.max_steps={steps}",
        f"--trainer.val_check_interval={steps}",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={root / name}",
    ]
    cli = SpeechCLI(
        SpeechSeparation, FSDDMixtureDataModule, app_name=f"speech-bench-{name}", run=False, args=args
    )
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    train_seconds = time.perf_counter() - start
    validation = float(cli.trainer.callback_metrics["val/si_snri"])  # the check at the last step
    fsdd = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    real = FSDDMixtureDataModule(test_dataset="Libri2Mix-samples", test_layout="samples")
    libri = cli.trainer.test(cli.model, datamodule=real, verbose=False)[0]
    model = cli.model.eval()
    ten_seconds = torch.randn(1, 80000)
    with torch.no_grad():
        model(ten_seconds)
        start = time.perf_counter()
        for _ in range(3):
            model(ten_seconds)
        rtf = (time.perf_counter() - start) / 3 / 10.0
    return {
        "params": parameter_count(model),
        "val_si_snri": validation,
        "fsdd_si_snri": fsdd["test/si_snri"],
        "fsdd_sdri": fsdd["test/sdri"],
        "libri_si_snri": libri["test/si_snri"],
        "libri_sdri": libri["test/sdri"],
        "libri_chunked_si_snri": libri["test/chunked_si_snri"],  # 1-s chunks, as the model trained
        "train_seconds": train_seconds,
        "rtf": rtf,
    }


MODELS = {
    "MossFormer2-style (ours)": [],
    "Conv-TasNet (torchaudio)": ["--config", str(CONFIGS / "presets/convtasnet.yaml")],
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-speech bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[200, 1000],
        help="training budgets; both models train once per budget and seed (runs are kept in --results)",
    )
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0…N-1 per model and budget")
    parser.add_argument(
        "--rounds",
        type=int,
        default=7,
        help="interleaved rounds of the step-time table (0: show the stored step times, measure nothing)",
    )
    parser.add_argument("--root", default="runs/speech-bench", help="checkpoints and logs")
    parser.add_argument("--results", default=str(RESULTS_DIR / "speech.json"), help="finished runs")
    parser.add_argument("--output", default="BENCHMARKS.md")
    return parser


def step_times(rounds: int, batch_size: int = 8) -> dict[str, float]:
    """Median seconds of one training step (forward, PIT SI-SNR loss, backward, Adam) of each model in
    `MODELS`, as their configs build them, on one batch of one-second mixtures; interleaved rounds."""
    cases = {}
    for name, preset in MODELS.items():
        args = ["--config", str(CONFIGS / "default.yaml"), *preset, f"--data.batch_size={batch_size}"]
        cli = SpeechCLI(
            SpeechSeparation, FSDDMixtureDataModule, app_name="speech-steps", run=False, args=args
        )
        cli.datamodule.setup("fit")
        mixture, sources = next(iter(cli.datamodule.train_dataloader()))
        model, optimizer = cli.model.train(), torch.optim.Adam(cli.model.parameters(), lr=1e-3)

        def step(model=model, optimizer=optimizer, mixture=mixture, sources=sources) -> None:
            optimizer.zero_grad(set_to_none=True)
            best, _ = pit_si_snr(model(mixture), sources)
            (-best.mean()).backward()
            optimizer.step()

        cases[name] = step
    return interleaved_latency(cases, rounds=rounds, warmup=1)


def _rows(results: dict[tuple[str, int], list[dict[str, float]]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the separation table, the published MossFormer2 outputs last."""

    def cell(runs: list[dict[str, float]], key: str, digits: int = 2) -> str:
        values = [r[key] for r in runs if key in r]
        return mean_std(values, digits) if values else "—"  # runs stored before a column existed

    scores = (
        "val_si_snri",
        "fsdd_si_snri",
        "fsdd_sdri",
        "libri_si_snri",
        "libri_sdri",
        "libri_chunked_si_snri",
    )
    header = ["Model", "Steps", "Seeds", "Params", "Val SI-SNRi, training speakers (dB)", "FSDD SI-SNRi (dB)"]
    header += ["FSDD SDRi (dB)", "Libri2Mix SI-SNRi (dB)", "Libri2Mix SDRi (dB)"]
    header += ["Libri2Mix SI-SNRi, 1-s chunks (dB)", "Train time (s)", "RTF (10 s, CPU)"]
    rows = []
    for (name, steps), runs in results.items():
        if runs:
            cells = [*(cell(runs, k) for k in scores), cell(runs, "train_seconds", 0), cell(runs, "rtf", 3)]
            rows.append([name, str(steps), str(len(runs)), f"{runs[0]['params']:,}", *cells])
    published_row = ["MossFormer2 (published outputs, 55.7 M, WSJ0/Libri-trained)", "—", "—", "55.7 M"]
    rows.append([*published_row, "—", "—", "—", f"{published_libri2mix_si_snri():.2f}", "—", "—", "—", "—"])
    return header, rows


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    console = Console()
    store = RunStore(args.results, fields=("model", "steps", "seed"))
    grid = [
        {"model": n.split()[0], "steps": s, "seed": seed}
        for s in args.steps
        for seed in range(args.seeds)
        for n in MODELS
    ]
    presets = {name.split()[0]: preset for name, preset in MODELS.items()}
    for point in store.missing(grid):
        run = _train(point["model"], presets[point["model"]], point["steps"], root, point["seed"])
        store.put(point | run)
    # every stored seed of the budgets asked for (column Seeds), not only this invocation's
    results = {
        (name, steps): store.select(model=name.split()[0], steps=steps)
        for steps in args.steps
        for name in MODELS
    }
    header, rows = _rows(results)
    console.print(console_table("Speech separation", header, rows))
    ours, baseline = MODELS
    held_out = {
        key: statistics.fmean(r["fsdd_si_snri"] for r in runs) for key, runs in results.items() if runs
    }
    margins = ", ".join(
        f"{s} steps **{held_out[ours, s] - held_out[baseline, s]:+.2f} dB**"
        for s in args.steps
        if (ours, s) in held_out and (baseline, s) in held_out
    )
    timings = RunStore(Path(args.results).with_name(Path(args.results).stem + "_steps.json"), ("batch",))
    if args.rounds:
        seconds = step_times(args.rounds)
        timings.put({"batch": 8, "rounds": args.rounds, "seconds": seconds})
    (timing,) = timings.select(batch=8) or [None]
    if timing is None:
        raise FileNotFoundError(f"{timings.path}: no stored step times (measure them with --rounds N)")
    seconds = timing["seconds"]
    step_rows = [[name, f"{1000 * t:.0f}", f"{t / seconds[baseline]:.2f}"] for name, t in seconds.items()]
    console.print(console_table("Training step", ["Model", "ms", "× Conv-TasNet"], step_rows))
    machine, updated = provenance([timing, *(run for runs in results.values() for run in runs)])
    body = section_template(
        __file__,
        "separation",
        command=f"ffn-speech bench --steps {shlex.join(map(str, args.steps))} --seeds {args.seeds} "
        f"--rounds {timing['rounds']}",
        machine=machine,
        budgets=" and ".join(str(s) for s in args.steps),
        table=markdown_table(header, rows),
        margins=margins or "—",
        rounds=timing["rounds"],
        step_table=markdown_table(["Model", "Median step (ms)", "× Conv-TasNet"], step_rows),
    )
    if args.output:
        update_markdown_section(args.output, "speech", body, updated)
