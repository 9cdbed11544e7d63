"""FSDD mixtures and separation folders: speakers disjoint, seeded, levels, overlap; bad audio files."""

import numpy as np
import pytest
import soundfile as sf
import torch

from ffn_data import fetch
from ffn_speech.data import TEST_SPEAKERS, FSDDMixtureDataModule, SeparationFolder, read_audio


@pytest.fixture(scope="module")
def data():
    return FSDDMixtureDataModule(train_mixtures=50, val_mixtures=10, test_mixtures=10)


def test_speakers_are_disjoint_between_train_and_test(data):
    assert not set(data.train_set.speakers) & set(TEST_SPEAKERS)
    assert set(data.test_set.speakers) == set(TEST_SPEAKERS)
    train_files = {f for files in data.train_set.utterances.values() for f in files}
    val_files = {f for files in data.val_set.utterances.values() for f in files}
    assert not train_files & val_files


def test_mixtures_are_seeded_sums_with_bounded_levels(data):
    mix, sources = data.train_set[3]
    again, _ = data.train_set[3]
    assert torch.equal(mix, again) and torch.allclose(mix, sources.sum(0))
    for i in range(20):
        _, sources = data.train_set[i]
        active = [s[s.abs() > 0] for s in sources]
        ratio_db = 20 * np.log10(
            active[1].pow(2).mean().sqrt().item() / active[0].pow(2).mean().sqrt().item()
        )
        assert -5.5 <= ratio_db <= 5.5  # drawn from [-5, 5] dB (unit-RMS utterances, then cut)


def test_sources_overlap_partly(data):
    overlaps = []
    for i in range(30):
        _, sources = data.train_set[i]
        both = ((sources[0].abs() > 0) & (sources[1].abs() > 0)).float().mean().item()
        overlaps.append(both)
    assert 0 < np.mean(overlaps) < 1 and max(overlaps) > 0.2


def test_libri2mix_samples_layout():
    folder = SeparationFolder(fetch("Libri2Mix-samples"), "samples")
    assert len(folder) == 36
    mix, sources = folder[0]
    assert sources.shape == (2, mix.shape[0])


def test_librimix_layout_and_errors(tmp_path):
    for sub in ("mix", "s1", "s2"):
        (tmp_path / sub).mkdir()
        sf.write(
            tmp_path / sub / "a.wav", np.random.default_rng(0).normal(size=800).astype("float32") * 0.1, 8000
        )
    mix, sources = SeparationFolder(tmp_path, "librimix")[0]
    assert mix.shape == (800,) and sources.shape == (2, 800)
    with pytest.raises(FileNotFoundError, match=r"mix/mix not found \(expected mix/, s1/, s2/\)"):
        SeparationFolder(tmp_path / "mix", "librimix")


def test_read_audio_errors(tmp_path):
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(ValueError, match=r"text\.wav: not a readable audio file"):
        read_audio(tmp_path / "text.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype="float32"), 8000)
    with pytest.raises(ValueError, match=r"empty\.wav: the audio file is empty"):
        read_audio(tmp_path / "empty.wav")
    stereo = np.stack([np.ones(100), -np.ones(100)], axis=1).astype("float32") * 0.5
    sf.write(tmp_path / "stereo.wav", stereo, 8000)
    samples, rate = read_audio(tmp_path / "stereo.wav")
    assert samples.shape == (100,) and rate == 8000 and np.allclose(samples, 0)
