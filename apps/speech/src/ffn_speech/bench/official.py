"""``ffn-speech bench-official``: our separator's training step against ClearerVoice's MossFormer2 code.

Both models are built at one config (by default the published one: 512/512, 24 layers, kernel 16,
55.7 M parameters); ours is loaded with the official model's weights, so both compute one function (the
largest output difference is measured and shown). One training step (forward, PIT SI-SNR loss,
backward, Adam) of each is timed in interleaved rounds in one process, so load affects both alike.

The official code (``clearvoice``, which pins numpy<2) lives in its own environment: ``make
official-speech``. With ``--rounds 0`` the section is rendered from the stored timing, without it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch
from rich.console import Console

from ffn_lightning.benchmarking import (
    RESULTS_DIR,
    RunStore,
    console_table,
    interleaved_latency,
    markdown_table,
    parameter_count,
    provenance,
    section_template,
    update_markdown_section,
)

from ..models import MossFormer2Separator, load_clearvoice_state_dict
from ..module import pit_si_snr

__all__ = ["main", "step_times"]


def _official(width: int, layers: int) -> torch.nn.Module:
    try:
        from clearvoice.models.mossformer2_ss.mossformer2 import MossFormer
    except ImportError as error:
        raise ValueError(
            "bench-official needs ClearerVoice's code, the official-speech group: make official-speech"
        ) from error
    return MossFormer(in_channels=width, out_channels=width, num_blocks=layers, kernel_size=16)


def step_times(
    rounds: int, *, width: int, layers: int, batch_size: int, samples: int, seed: int = 0
) -> dict[str, float]:
    """Median seconds per training step of ours and the official model, and their outputs' largest
    difference (``max_abs_difference``) in eval mode with the same weights, on one random batch."""
    torch.manual_seed(seed)
    official = _official(width, layers)
    ours = MossFormer2Separator(encoder_dim=width, dim=width, num_layers=layers)
    load_clearvoice_state_dict(ours, official.state_dict())
    mixture, sources = torch.randn(batch_size, samples), torch.randn(batch_size, 2, samples)
    with torch.inference_mode():
        reference = torch.stack(official.eval()(mixture), dim=1)
        difference = float((ours.eval()(mixture) - reference).abs().max())
    cases = {}
    for name, model, as_tensor in (
        ("ours", ours.train(), lambda out: out),
        ("official", official.train(), lambda out: torch.stack(out, dim=1)),
    ):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(model=model, optimizer=optimizer, as_tensor=as_tensor) -> None:
            optimizer.zero_grad(set_to_none=True)
            best, _ = pit_si_snr(as_tensor(model(mixture)), sources)
            (-best.mean()).backward()
            optimizer.step()

        cases[name] = step
    seconds = interleaved_latency(cases, rounds=rounds, warmup=1)
    return {**seconds, "max_abs_difference": difference, "params": parameter_count(ours)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffn-speech bench-official", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds (0: render the stored timing)"
    )
    parser.add_argument("--width", type=int, default=512, help="encoder and masking-network width")
    parser.add_argument("--layers", type=int, default=24, help="MossFormer + gated-FSMN block pairs")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--samples", type=int, default=8000, help="mixture length (1 s at 8 kHz)")
    parser.add_argument("--results", default=str(RESULTS_DIR / "speech_official.json"))
    parser.add_argument("--output", default="BENCHMARKS.md")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    config = {"width": args.width, "layers": args.layers, "batch": args.batch_size, "samples": args.samples}
    store = RunStore(args.results, fields=tuple(config))
    if args.rounds:
        timing = step_times(
            args.rounds,
            width=args.width,
            layers=args.layers,
            batch_size=args.batch_size,
            samples=args.samples,
        )
        store.put({**config, "rounds": args.rounds, **timing})  # the machine names the thread count
    (run,) = store.select(**config) or [None]
    if run is None:
        raise FileNotFoundError(f"{store.path}: no stored timing of {config} (measure it with --rounds N)")
    header = ["Model", "Params", "Median step (ms)", "× official"]
    rows = [
        [name, f"{run['params']:,}", f"{1000 * run[key]:.0f}", f"{run[key] / run['official']:.2f}"]
        for name, key in (
            ("MossFormer2Separator (ours)", "ours"),
            ("ClearerVoice MossFormer (official)", "official"),
        )
    ]
    Console().print(console_table("Training step, ours vs the official code", header, rows))
    machine, updated = provenance([run])
    body = section_template(
        __file__,
        "official",
        command=f"ffn-speech bench-official --rounds {run['rounds']} --width {args.width} "
        f"--layers {args.layers} --batch-size {args.batch_size} --samples {args.samples}",
        machine=machine,
        config=f"width {args.width}, {args.layers} MossFormer + gated-FSMN pairs, kernel 16, "
        f"{run['params']:,} parameters",
        batch=f"{args.batch_size} × {args.samples} samples",
        table=markdown_table(header, rows),
        difference=f"{run['max_abs_difference']:.1e}",
    )
    if args.output:
        update_markdown_section(args.output, "speech-official", body, updated)
