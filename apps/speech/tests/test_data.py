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


def test_dynamic_mixing_draws_new_mixtures_every_epoch_and_replays_them(data):
    train = data.train_set
    assert train.dynamic and not data.val_set.dynamic and not data.test_set.dynamic
    train.set_epoch(0)
    first = [train[i][0] for i in range(5)]
    train.set_epoch(1)
    second = [train[i][0] for i in range(5)]
    assert not any(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    train.set_epoch(0)  # a resumed run's epoch 0: the same mixtures again
    assert all(torch.equal(a, train[i][0]) for i, a in enumerate(first))
    fixed = FSDDMixtureDataModule(train_mixtures=5, dynamic_mixing=False).train_set
    fixed.set_epoch(0)
    before = fixed[2][0]
    fixed.set_epoch(7)
    assert torch.equal(before, fixed[2][0])


def test_full_overlap_starts_both_utterances_together():
    full = FSDDMixtureDataModule(train_mixtures=20, overlap="full").train_set
    for i in range(20):
        _, sources = full[i]
        starts = [int((s.abs() > 0).nonzero()[0]) for s in sources]
        assert max(starts) <= 2, starts  # an utterance's first samples may be exact zeros


def _utterance_tree(root, speakers=6, chapters=2, per_chapter=3, rate=16000):
    rng = np.random.default_rng(0)
    for s in range(speakers):
        for c in range(chapters):
            folder = root / f"{100 + s}" / f"{10 + c}"
            folder.mkdir(parents=True)
            for u in range(per_chapter):
                seconds = rng.uniform(0.5, 2.0)
                tone = np.sin(2 * np.pi * (200 + 40 * s) * np.arange(int(seconds * rate)) / rate)
                sf.write(folder / f"{100 + s}-{10 + c}-{u:04d}.flac", (0.3 * tone).astype(np.float32), rate)
    return root


def test_a_librispeech_style_folder_becomes_dynamic_mixtures_with_held_out_speakers(tmp_path):
    from ffn_speech.data import UtteranceMixtureDataModule

    root = _utterance_tree(tmp_path / "train-clean")
    data = UtteranceMixtureDataModule(str(root), segment_seconds=1.0, train_mixtures=8, test_mixtures=4)
    assert data.speakers["test"] == ["104", "105"]
    assert not set(data.speakers["test"]) & (set(data.speakers["train"]) | set(data.speakers["val"]))
    train_files = {f for files in data.train_set.utterances.values() for f in files}
    val_files = {f for files in data.val_set.utterances.values() for f in files}
    test_files = {f for files in data.test_set.utterances.values() for f in files}
    assert not train_files & val_files and not (train_files | val_files) & test_files
    mix, sources = data.train_set[0]
    assert mix.shape == (16000,) and sources.shape == (2, 16000)
    assert torch.allclose(mix, sources.sum(0))
    batch = next(iter(data.train_dataloader()))
    assert batch[0].shape == (4, 16000) and batch[1].shape == (4, 2, 16000)
    with pytest.raises(ValueError, match="8000 Hz"):
        UtteranceMixtureDataModule(str(root), sample_rate=8000).train_set[0]
    with pytest.raises(FileNotFoundError, match="no such folder"):
        UtteranceMixtureDataModule(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="cannot hold out test_speakers=5"):
        UtteranceMixtureDataModule(str(root), test_speakers=5)
