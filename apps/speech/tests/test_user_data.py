"""Separation corpora in their standard layouts, written by the test with utterances of different
lengths, train, validate and test through ``ffn-speech fit`` (random crops for training, whole
utterances for evaluation); ``ffn-speech separate`` then splits a longer file."""

import csv

import numpy as np
import pytest
import soundfile as sf

from ffn_speech.cli import main

RATE = 8000


def _utterance(rng, seconds):
    t = np.arange(int(seconds * RATE)) / RATE
    tones = sum(np.sin(2 * np.pi * rng.uniform(150, 900) * t + rng.uniform(0, 6)) for _ in range(3))
    return (0.1 * tones * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))).astype("float32")


def _write_split(folder, mixture, count, seed):
    rng = np.random.default_rng(seed)
    for sub in (mixture, "s1", "s2"):
        (folder / sub).mkdir(parents=True)
    for i in range(count):
        seconds = rng.uniform(0.4, 1.6)  # some shorter than the 0.5-s training crop: padded
        s1, s2 = _utterance(rng, seconds), _utterance(rng, seconds)
        for sub, signal in ((mixture, s1 + s2), ("s1", s1), ("s2", s2)):
            sf.write(folder / sub / f"utt{i}.wav", signal, RATE)


LAYOUTS = {
    "libri2mix": (("wav8k/min/train-100", "wav8k/min/dev", "wav8k/min/test"), "mix_clean"),
    "wsj0-2mix": (("tr", "cv", "tt"), "mix"),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_corpus_in_its_standard_layout_trains_and_tests_through_the_cli(configs, in_tmp_dir, layout):
    splits, mixture = LAYOUTS[layout]
    for seed, (split, count) in enumerate(zip(splits, (8, 3, 3), strict=True)):
        _write_split(in_tmp_dir / "corpus" / split, mixture, count, seed)
    args = ["--config", str(configs / "tiny.yaml"), "--data", "SeparationCorpusDataModule"]
    args += [
        "--data.root",
        str(in_tmp_dir / "corpus"),
        "--data.layout",
        layout,
        "--data.segment_seconds",
        "0.5",
    ]
    args += ["--data.batch_size", "4", "--trainer.max_steps", "-1", "--trainer.max_epochs", "2"]
    args += ["--trainer.limit_val_batches", "1.0", "--trainer.val_check_interval", "1.0"]
    main(["fit", *args])
    with open(in_tmp_dir / "runs/speech/csv/version_0/metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows if row.get("val/si_snri")] == ["0", "1"]  # 2 epochs of 2 batches
    checkpoint = next(in_tmp_dir.glob("runs/speech/**/checkpoints/*.ckpt"))
    main(["test", *args, "--ckpt_path", str(checkpoint)])
    with open(in_tmp_dir / "runs/speech/csv/version_1/metrics.csv") as file:
        (tested,) = [row for row in csv.DictReader(file) if row.get("test/si_snri")]
    assert np.isfinite(float(tested["test/si_snri"]))

    long = np.concatenate(
        [sf.read(p)[0] for p in sorted((in_tmp_dir / "corpus" / splits[0] / mixture).glob("*.wav"))]
    )
    sf.write(in_tmp_dir / "long.wav", long, RATE)
    main(
        [
            "separate",
            "--ckpt",
            str(checkpoint),
            "--input",
            str(in_tmp_dir / "long.wav"),
            "--out-dir",
            str(in_tmp_dir / "out"),
        ]
    )
    for speaker in (1, 2):
        separated, rate = sf.read(in_tmp_dir / "out" / f"long_speaker{speaker}.wav")
        assert rate == RATE and len(separated) == len(long) and np.isfinite(separated).all()
