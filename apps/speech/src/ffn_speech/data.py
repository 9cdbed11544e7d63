"""Two-speaker mixtures from real speech: built on the fly from single-speaker utterances (FSDD, or any
LibriSpeech-style folder), or read from Libri2Mix / WSJ0-2mix folders.

`UtteranceMixtures` makes each mixture from utterances of two different speakers: scaled to unit RMS,
their relative level drawn from [−5, 5] dB, a random crop of any utterance longer than the segment, and
either random offsets inside the segment (``overlap="partial"``) or both starting together
(``"full"``). With dynamic mixing (training) the pairs, gains, crops and offsets are drawn afresh every
epoch; every draw is a pure function of (seed, epoch, index), so every process, machine and resumed run
sees the same mixtures. Held-out speakers never appear in training or validation.

- FSDD (the Free Spoken Digit Dataset: 8 kHz, 6 speakers; fetched by the data layer, `ffn_data.fetch`):
  `FSDDMixtureDataModule`, two speakers held out for testing.
- A folder of single-speaker utterances in LibriSpeech's layout (``speaker/chapter/*.flac`` or
  ``*.wav``): `UtteranceMixtureDataModule`, the LibriMix recipe on the fly from any such corpus.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from ffn_data import fetch
from ffn_lightning import ResumableDataLoader

__all__ = [
    "FSDDMixtureDataModule",
    "RandomSegments",
    "SeparationCorpusDataModule",
    "SeparationDataModule",
    "SeparationFolder",
    "UtteranceMixtureDataModule",
    "UtteranceMixtures",
    "read_audio",
]
SAMPLE_RATE = 8000
TEST_SPEAKERS = ("theo", "yweweler")


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the sample rate; one-line errors for missing, empty or non-audio files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise ValueError(f"{path}: not a readable audio file ({error})") from None
    if samples.shape[0] == 0:
        raise ValueError(f"{path}: the audio file is empty")
    return samples.mean(axis=1), rate


def _utterances(root: Path) -> dict[str, list[Path]]:
    files = sorted(root.glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"{root}: no FSDD recordings (<digit>_<speaker>_<index>.wav)")
    by_speaker: dict[str, list[Path]] = defaultdict(list)
    for file in files:
        by_speaker[file.stem.split("_")[1]].append(file)
    return by_speaker


class UtteranceMixtures(Dataset):
    """Seeded two-speaker mixtures of single-speaker utterances.

    Args:
        utterances: speaker → recordings to draw from (two speakers at least).
        num_mixtures: mixtures per epoch.
        segment_seconds: mixture length (utterances are placed, and cropped, inside it).
        seed: mixing seed.
        dynamic: draw new mixtures every epoch (dynamic mixing: item ``i`` depends on
            ``(seed, epoch, i)``, see ``set_epoch``); False: the same mixtures every epoch
            (``(seed, i)``), as evaluation sets need.
        overlap: ``"partial"`` (each utterance at a random offset) or ``"full"`` (both start at 0).
        sample_rate: the recordings' rate; a file at another rate is a one-line error.

    Items are ``(mixture (L,), sources (2, L))``.
    """

    def __init__(
        self,
        utterances: dict[str, list[Path]],
        num_mixtures: int,
        segment_seconds: float = 1.0,
        seed: int = 0,
        *,
        dynamic: bool = False,
        overlap: Literal["partial", "full"] = "partial",
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        if len(utterances) < 2:
            raise ValueError(f"UtteranceMixtures: need two speakers at least, got {sorted(utterances)}")
        if overlap not in ("partial", "full"):
            raise ValueError(f"UtteranceMixtures: overlap={overlap!r} must be 'partial' or 'full'")
        self.speakers = sorted(utterances)
        self.utterances = utterances
        self.num_mixtures = num_mixtures
        self.length = int(segment_seconds * sample_rate)
        self.seed, self.dynamic, self.overlap, self.sample_rate, self.epoch = (
            seed,
            dynamic,
            overlap,
            sample_rate,
            0,
        )
        self._cache: dict[Path, np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_mixtures

    def _load(self, path: Path) -> np.ndarray:
        if path not in self._cache:
            samples, rate = read_audio(path)
            if rate != self.sample_rate:
                raise ValueError(f"{path}: {rate} Hz, expected {self.sample_rate} Hz")
            rms = np.sqrt(np.mean(samples**2)) + 1e-8
            self._cache[path] = (samples / rms).astype(np.float32)
        return self._cache[path]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index] if self.dynamic else [self.seed, index])
        first, second = rng.choice(len(self.speakers), size=2, replace=False)
        gain_db = rng.uniform(-5.0, 5.0)
        sources = np.zeros((2, self.length), dtype=np.float32)
        for slot, (speaker, gain) in enumerate(((first, 0.0), (second, gain_db))):
            files = self.utterances[self.speakers[speaker]]
            utterance = self._load(files[rng.integers(len(files))])
            start = rng.integers(0, max(len(utterance) - self.length, 0) + 1)  # a random crop when longer
            utterance = utterance[start : start + self.length]
            offset = rng.integers(0, self.length - len(utterance) + 1) if self.overlap == "partial" else 0
            sources[slot, offset : offset + len(utterance)] = utterance * 10 ** (gain / 20)
        sources *= 0.1  # a comfortable level for 16-bit audio
        return torch.from_numpy(sources.sum(0)), torch.from_numpy(sources)


class SeparationFolder(Dataset):
    """Real mixtures with references from a folder.

    Layouts: ``"librimix"`` (Libri2Mix / WSJ0-2mix: ``mix/``, ``s1/``, ``s2/`` with equal file names; the
    mixture folder is ``mixture``, e.g. Libri2Mix's ``mix_clean``) and ``"samples"`` (MossFormer2's
    Libri2Mix samples, the registered ``Libri2Mix-samples``: ``itemN_mix.wav``,
    ``itemN_source{1,2}.wav``). Items are ``(mixture (L,), sources (2, L))``; a file at another rate
    than ``sample_rate`` (when given) is a one-line error.
    """

    def __init__(
        self,
        root: str | Path,
        layout: Literal["librimix", "samples"] = "librimix",
        *,
        mixture: str = "mix",
        sample_rate: int | None = None,
    ) -> None:
        root = Path(root)
        self.sample_rate = sample_rate
        if layout == "librimix":
            for sub in (mixture, "s1", "s2"):
                if not (root / sub).is_dir():
                    raise FileNotFoundError(
                        f"SeparationFolder: {root / sub} not found (expected {mixture}/, s1/, s2/)"
                    )
            names = sorted(p.name for p in (root / mixture).glob("*.wav"))
            self.items = [(root / mixture / n, root / "s1" / n, root / "s2" / n) for n in names]
        else:
            stems = sorted(
                {p.name.split("_")[0] for p in root.glob("item*_mix.wav")}, key=lambda s: int(s[4:])
            )
            self.items = [
                (root / f"{s}_mix.wav", root / f"{s}_source1.wav", root / f"{s}_source2.wav") for s in stems
            ]
        if not self.items:
            raise FileNotFoundError(f"SeparationFolder: no mixtures under {root} (layout {layout!r})")

    def __len__(self) -> int:
        return len(self.items)

    def signals(self, index: int) -> list[np.ndarray]:
        """The mixture and the two sources of item ``index``, cut to their common length."""
        signals = []
        for path in self.items[index]:
            samples, rate = read_audio(path)
            if self.sample_rate is not None and rate != self.sample_rate:
                raise ValueError(f"{path}: {rate} Hz, expected {self.sample_rate} Hz")
            signals.append(samples)
        length = min(len(s) for s in signals)
        return [s[:length] for s in signals]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        mix, s1, s2 = (torch.from_numpy(s) for s in self.signals(index))
        return mix, torch.stack([s1, s2])


class RandomSegments(Dataset):
    """One random crop of ``length`` samples per utterance of a `SeparationFolder` and epoch (training).

    The crop's start is a function of ``(seed, epoch, index)``: a new crop every epoch, the same in every
    run. Utterances shorter than ``length`` are zero-padded at the end.
    """

    def __init__(self, folder: SeparationFolder, length: int, seed: int = 0) -> None:
        self.folder, self.length, self.seed, self.epoch = folder, length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        signals = np.stack(self.folder.signals(index))  # (3, L)
        if signals.shape[1] >= self.length:
            start = np.random.default_rng([self.seed, self.epoch, index]).integers(
                signals.shape[1] - self.length + 1
            )
            signals = signals[:, start : start + self.length]
        else:
            signals = np.pad(signals, ((0, 0), (0, self.length - signals.shape[1])))
        signals = torch.from_numpy(np.ascontiguousarray(signals))
        return signals[0], signals[1:]


class SeparationDataModule(LightningDataModule):
    """Base of the speech DataModules the CLI can choose (``--data``): two speakers at ``sample_rate``."""

    num_speakers = 2
    sample_rate: int

    batch_size: int
    train_set: Dataset
    val_set: Dataset
    test_set: Dataset

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool = False) -> DataLoader:
        return ResumableDataLoader(dataset, batch_size=batch_size, shuffle=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.batch_size)

    def test_dataloader(self) -> DataLoader:
        # real mixtures differ in length: one per batch
        batch = 1 if isinstance(self.test_set, SeparationFolder) else self.batch_size
        return self._loader(self.test_set, batch)


class SeparationCorpusDataModule(SeparationDataModule):
    """A two-speaker separation corpus in its standard layout: Libri2Mix or WSJ0-2mix.

    Libri2Mix (``layout="libri2mix"``, Cosentino et al. 2020, https://github.com/JorisCos/LibriMix):
    ``root`` is the ``Libri2Mix`` folder and the splits are
    ``wav{8|16}k/{min|max}/{train-100|train-360, dev, test}/{mix_clean|mix_both, s1, s2}/``.
    WSJ0-2mix (``layout="wsj0-2mix"``, Hershey et al. 2016): ``root`` holds ``tr/``, ``cv/`` and ``tt/``
    (e.g. ``wsj0-mix/2speakers/wav8k/min``), each with ``mix/``, ``s1/``, ``s2/``.
    Training draws one random ``segment_seconds`` crop of every utterance per epoch (`RandomSegments`);
    validation and test read whole utterances, one per batch.

    Args:
        root: the corpus folder (see above).
        layout: ``"libri2mix"`` or ``"wsj0-2mix"``.
        sample_rate: the files' rate (Libri2Mix: picks ``wav8k`` or ``wav16k``).
        mode: Libri2Mix's ``min`` (mixtures cut to the shorter source) or ``max``.
        train_split: Libri2Mix's training split (``train-100`` or ``train-360``).
        mixture: Libri2Mix's mixture folder (``mix_clean``; ``mix_both`` adds WHAM! noise).
        segment_seconds: training crop length (shorter utterances are zero-padded).
        batch_size: training crops per batch.
        seed: seed of the crops.
    """

    def __init__(
        self,
        root: str,
        layout: Literal["libri2mix", "wsj0-2mix"] = "libri2mix",
        sample_rate: int = 8000,
        mode: Literal["min", "max"] = "min",
        train_split: str = "train-100",
        mixture: str = "mix_clean",
        segment_seconds: float = 3.0,
        batch_size: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__()
        base = Path(root)
        if layout == "libri2mix":
            base = base / f"wav{sample_rate // 1000}k" / mode
            splits, folder = (train_split, "dev", "test"), mixture
        else:
            splits, folder = ("tr", "cv", "tt"), "mix"
        train, val, test = (
            SeparationFolder(base / split, "librimix", mixture=folder, sample_rate=sample_rate)
            for split in splits
        )
        self.sample_rate, self.batch_size = sample_rate, batch_size
        self.train_set = RandomSegments(train, round(segment_seconds * sample_rate), seed)
        self.val_set, self.test_set = val, test

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, 1)  # whole utterances of different lengths


class FSDDMixtureDataModule(SeparationDataModule):
    """FSDD mixtures: 4 training speakers (utterances 0–44 of each digit), their utterances 45–49 for
    validation, and the 2 held-out speakers for testing; optionally Libri2Mix-style folders as test data.

    Args:
        folder: your own copy of FSDD's ``recordings`` folder (None: the registered ``FSDD``, downloaded
            into ``root`` on first use).
        root: the data cache (default: ``$FFN_STUDY_DATA``, else the user cache folder).
        train_mixtures: training mixtures per epoch.
        val_mixtures: validation mixtures.
        test_mixtures: test mixtures (held-out speakers).
        segment_seconds: mixture length.
        batch_size: mixtures per batch.
        seed: mixing seed.
        test_dataset: evaluate on this registered dataset (``Libri2Mix-samples``) instead of held-out
            FSDD speakers.
        test_folder: evaluate on your own folder instead; replaces ``test_dataset``.
        test_layout: the test folder's layout (``"librimix"`` or ``"samples"``).
        dynamic_mixing: new training mixtures every epoch (False: the same ``train_mixtures`` each epoch,
            this module's behaviour before 2026-12-03).
        overlap: ``"partial"`` (random offsets) or ``"full"`` (both utterances start together).
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        folder: str | None = None,
        root: str | None = None,
        train_mixtures: int = 2000,
        val_mixtures: int = 200,
        test_mixtures: int = 300,
        segment_seconds: float = 1.0,
        batch_size: int = 8,
        seed: int = 0,
        test_dataset: str | None = None,
        test_folder: str | None = None,
        test_layout: Literal["librimix", "samples"] = "samples",
        dynamic_mixing: bool = True,
        overlap: Literal["partial", "full"] = "partial",
    ) -> None:
        super().__init__()
        recordings = Path(folder) if folder is not None else fetch("FSDD", root)
        if test_folder is None and test_dataset is not None:
            test_folder = str(fetch(test_dataset, root))
        by_speaker = _utterances(recordings)
        held_in = {s: f for s, f in by_speaker.items() if s not in TEST_SPEAKERS}
        held_out = {s: f for s, f in by_speaker.items() if s in TEST_SPEAKERS}
        if len(held_out) != len(TEST_SPEAKERS):
            raise ValueError(f"{recordings}: the test speakers {TEST_SPEAKERS} are missing")

        def index(path: Path) -> int:
            return int(path.stem.split("_")[2])

        train = {s: [f for f in files if index(f) < 45] for s, files in held_in.items()}
        val = {s: [f for f in files if index(f) >= 45] for s, files in held_in.items()}
        mix = partial(UtteranceMixtures, segment_seconds=segment_seconds, overlap=overlap)
        self.train_set = mix(train, train_mixtures, seed=seed, dynamic=dynamic_mixing)
        self.val_set = mix(val, val_mixtures, seed=seed + 1)
        self.test_set: Dataset = (
            SeparationFolder(test_folder, test_layout)
            if test_folder
            else mix(held_out, test_mixtures, seed=seed + 2)
        )
        self.batch_size = batch_size


def _speaker_folders(root: Path) -> dict[str, list[Path]]:
    """LibriSpeech's layout: ``root/<speaker>/<chapter>/*.flac`` (or ``*.wav``), speaker → files."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected <speaker>/<chapter>/*.flac)")
    by_speaker = {
        speaker.name: sorted(f for f in speaker.glob("*/*") if f.suffix.lower() in (".flac", ".wav"))
        for speaker in sorted(root.iterdir())
        if speaker.is_dir()
    }
    by_speaker = {s: files for s, files in by_speaker.items() if files}
    if len(by_speaker) < 2:
        raise FileNotFoundError(
            f"{root}: found {len(by_speaker)} speaker folders with audio; expected "
            "<speaker>/<chapter>/*.flac for two speakers at least"
        )
    return by_speaker


class UtteranceMixtureDataModule(SeparationDataModule):
    """Two-speaker mixtures made on the fly from a folder of single-speaker utterances (the LibriMix recipe
    without writing a corpus): LibriSpeech's ``speaker/chapter/*.flac`` layout, or any folder like it.

    The speakers, sorted by name, split three ways: the last ``test_speakers`` are held out for testing
    only; every other speaker's utterances split into training (the first ``1 − val_fraction`` of each
    speaker's sorted files) and validation (the rest). Training mixes dynamically (new pairs, gains,
    crops and offsets every epoch, reproducible from (seed, epoch)); validation and test are fixed sets.

    Args:
        folder: the utterance folder (e.g. ``LibriSpeech/train-clean-100``).
        sample_rate: the files' rate (LibriSpeech: 16000); another rate is a one-line error.
        test_speakers: speakers held out for testing (two at least).
        val_fraction: each training speaker's share of utterances kept for validation.
        train_mixtures: training mixtures per epoch.
        val_mixtures: validation mixtures.
        test_mixtures: test mixtures.
        segment_seconds: mixture length (LibriMix's 3 s by default).
        overlap: ``"partial"`` or ``"full"`` (LibriMix's ``min`` mode: both start together).
        batch_size: mixtures per batch.
        seed: mixing seed.
    """

    def __init__(
        self,
        folder: str,
        sample_rate: int = 16000,
        test_speakers: int = 2,
        val_fraction: float = 0.1,
        train_mixtures: int = 2000,
        val_mixtures: int = 200,
        test_mixtures: int = 300,
        segment_seconds: float = 3.0,
        overlap: Literal["partial", "full"] = "full",
        batch_size: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__()
        by_speaker = _speaker_folders(Path(folder))
        if test_speakers < 2 or len(by_speaker) < test_speakers + 2:
            raise ValueError(
                f"{folder}: {len(by_speaker)} speakers cannot hold out test_speakers={test_speakers} "
                "(two at least) and keep two for training"
            )
        if not 0 < val_fraction < 1:
            raise ValueError(f"UtteranceMixtureDataModule: val_fraction={val_fraction} must be in (0, 1)")
        names = sorted(by_speaker)
        held_out = {s: by_speaker[s] for s in names[-test_speakers:]}
        train, val = {}, {}
        for speaker in names[:-test_speakers]:
            files = by_speaker[speaker]
            cut = max(1, min(len(files) - 1, round(len(files) * (1 - val_fraction))))
            train[speaker], val[speaker] = files[:cut], files[cut:]
        val = {s: f for s, f in val.items() if f}
        if len(val) < 2:
            raise ValueError(f"{folder}: too few utterances per speaker to keep a validation set")
        mix = partial(
            UtteranceMixtures, segment_seconds=segment_seconds, overlap=overlap, sample_rate=sample_rate
        )
        self.train_set = mix(train, train_mixtures, seed=seed, dynamic=True)
        self.val_set = mix(val, val_mixtures, seed=seed + 1)
        self.test_set = mix(held_out, test_mixtures, seed=seed + 2)
        self.sample_rate, self.batch_size = sample_rate, batch_size
        self.speakers = {"train": sorted(train), "val": sorted(val), "test": sorted(held_out)}
