"""ffn-speech: fast_dev_run, the block switch, and `separate` on files (chunked = unchunked, errors)."""

import numpy as np
import pytest
import soundfile as sf
import torch

from ffn_blocks import MLP
from ffn_data.testing import error_line
from ffn_speech.chunking import separate_long
from ffn_speech.cli import CONFIGS, SpeechCLI, main
from ffn_speech.data import FSDDMixtureDataModule
from ffn_speech.module import SpeechSeparation


def test_fast_dev_run(configs, in_tmp_dir):
    main(["fit", "--config", str(configs / "tiny.yaml"), "--trainer.fast_dev_run", "true"])


def test_block_switch(configs, in_tmp_dir):
    cli = SpeechCLI(
        SpeechSeparation,
        FSDDMixtureDataModule,
        app_name="speech",
        run=False,
        args=["--config", str(configs / "tiny.yaml"), "--model.network.ffn", "MLP"],
    )
    assert isinstance(cli.model.network.blocks[0].to_hidden, MLP)


def test_chunked_overlap_add_equals_whole_file_for_a_local_model():
    """A pointwise "separator" whose speaker order flips from chunk to chunk: alignment must undo it."""
    calls = []

    def network(x):
        calls.append(1)
        out = torch.stack([0.3 * x, -2.0 * x], dim=1)
        return out.flip(1) if len(calls) % 2 == 0 else out

    mixture = torch.randn(10_000)
    whole = torch.stack([0.3 * mixture, -2.0 * mixture])
    chunked = separate_long(network, mixture, chunk=3000, overlap=800)
    assert len(calls) > 3
    torch.testing.assert_close(chunked, whole, rtol=1e-4, atol=1e-4)


def test_chunked_output_keeps_its_level_to_the_last_chunk():
    """A noisy separator (each chunk: the true sources plus as much noise): the stitched output keeps
    the same level from the first chunk to the last. A gain fitted on each overlap shrank every next
    chunk by the estimate's SNR share, compounding: the 5th chunk came out 40x quieter."""
    generator = torch.Generator().manual_seed(0)
    sources = torch.randn(2, 40_000, generator=generator)
    mixture = sources.sum(0)
    starts = {}

    def network(x):
        start = starts.setdefault(x.shape[-1], 0)
        starts[x.shape[-1]] = start + 6000 if start + 6000 + 8000 <= 40_000 else 32_000
        clean = sources[:, start : start + x.shape[-1]]
        return (clean + torch.randn(clean.shape, generator=generator))[None]

    out = separate_long(network, mixture, chunk=8000, overlap=2000)
    level = [
        float(out[:, a : a + 8000].norm() / sources[:, a : a + 8000].norm()) for a in (0, 16_000, 32_000)
    ]
    assert max(level) / min(level) < 1.1, level


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, configs=None):

    root = tmp_path_factory.mktemp("speech")
    config = CONFIGS / "tiny.yaml"
    main(
        ["fit", "--config", str(config), "--trainer.default_root_dir", str(root), "--trainer.logger", "false"]
    )
    return next(root.rglob("*.ckpt"))


def test_separate_writes_one_file_per_speaker_and_refuses_overwrite(checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(0)
    stereo = (rng.normal(size=(24000, 2)) * 0.1).astype("float32")
    sf.write(tmp_path / "mix.wav", stereo, 16000)
    main(
        [
            "separate",
            "--ckpt",
            str(checkpoint),
            "--input",
            str(tmp_path / "mix.wav"),
            "--out-dir",
            str(tmp_path / "out"),
            "--chunk-seconds",
            "0.5",
            "--overlap-seconds",
            "0.1",
        ]
    )
    out = capsys.readouterr().out
    assert "2 channels, downmixed to mono" in out and "16000 Hz, resampled to the model's 8000 Hz" in out
    for s in (1, 2):
        wave, rate = sf.read(tmp_path / "out" / f"mix_speaker{s}.wav")
        assert rate == 16000 and abs(len(wave) - 24000) <= 2
    with pytest.raises(SystemExit):
        main(
            [
                "separate",
                "--ckpt",
                str(checkpoint),
                "--input",
                str(tmp_path / "mix.wav"),
                "--out-dir",
                str(tmp_path / "out"),
            ]
        )
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_separate_rejects_non_audio(checkpoint, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SystemExit):
        main(
            [
                "separate",
                "--ckpt",
                str(checkpoint),
                "--input",
                str(tmp_path / "notes.txt"),
                "--out-dir",
                str(tmp_path),
            ]
        )
    assert "not a readable audio file" in capsys.readouterr().err


def test_a_non_wav_file_in_a_test_folder_is_one_error_line(configs, in_tmp_dir):
    for sub in ("mix", "s1", "s2"):
        (in_tmp_dir / "mixtures" / sub).mkdir(parents=True)
        (in_tmp_dir / "mixtures" / sub / "a.wav").write_text("not audio")
    args = [
        "test",
        "--config",
        str(configs / "tiny.yaml"),
        "--data.test_folder",
        str(in_tmp_dir / "mixtures"),
    ]
    line = error_line(main, [*args, "--data.test_layout", "librimix"])
    assert line.startswith(f"error: {in_tmp_dir / 'mixtures' / 'mix' / 'a.wav'}: not a readable audio file")


def test_a_missing_recordings_folder_is_one_error_line(configs, in_tmp_dir):
    args = ["fit", "--config", str(configs / "tiny.yaml"), "--data.folder", str(in_tmp_dir / "nowhere")]
    line = error_line(main, [*args, "--trainer.fast_dev_run", "true"])
    assert line == f"error: {in_tmp_dir / 'nowhere'}: no FSDD recordings (<digit>_<speaker>_<index>.wav)"
