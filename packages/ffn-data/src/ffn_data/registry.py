"""The registry: every dataset the apps download, with each file's pinned upstream URL, size and sha256.

A dataset is a set of files under one folder. Its files' relative paths (``<folder>/<file>``) are the
layout of the cache and of a mirror alike. The sizes and hashes live in ``registry.txt`` beside this
module (one ``<path> <bytes> <sha256>`` line per file, sorted); the upstream of each dataset, a
repository pinned to a commit or tag, is declared below. Add a dataset by appending its files' lines to
``registry.txt`` (``ffn-data hash FOLDER`` prints them) and a `Dataset` here.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

__all__ = ["DATASETS", "Dataset", "RemoteFile", "dataset"]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset.

    Args:
        path: the file's path relative to the cache (and to a mirror), e.g. ``ett/ETTh1.csv``.
        size: its length in bytes.
        sha256: its hex digest.
        url: where upstream serves it.
    """

    path: str
    size: int
    sha256: str
    url: str


@dataclass(frozen=True)
class Dataset:
    """A named set of files, all under ``folder``, from one upstream location.

    Args:
        name: what users type (``ffn-data download ETTh1``, ``--data.dataset ETTh1``); case-insensitive.
        folder: the files' folder, relative to the cache root and to a mirror.
        upstream: URL of the pinned upstream folder; a file's URL is ``upstream/<file>``.
        source: the upstream in words (repository @ commit, path).
        license: the data's license.
        summary: one line on what it holds.
        pattern: which registry files under ``folder`` belong to it (``fnmatch`` on the file name).
    """

    name: str
    folder: str
    upstream: str
    source: str
    license: str
    summary: str
    pattern: str = "*"

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        """The dataset's files, from ``registry.txt``."""
        prefix = f"{self.folder}/"
        return tuple(
            RemoteFile(path, size, sha256, f"{self.upstream}/{path[len(prefix) :]}")
            for path, (size, sha256) in _registry().items()
            if path.startswith(prefix) and fnmatch.fnmatchcase(path[len(prefix) :], self.pattern)
        )

    @property
    def size(self) -> int:
        """Total bytes."""
        return sum(f.size for f in self.files)


@cache
def _registry() -> dict[str, tuple[int, str]]:
    """``registry.txt`` as ``path -> (size, sha256)``."""
    entries = {}
    for line in files(__package__).joinpath("registry.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, size, sha256 = line.split()
            entries[path] = (int(size), sha256)
    return entries


def _github(repository: str, ref: str, folder: str) -> str:
    # github.com/<repo>/raw/<ref>/ resolves branches, tags and abbreviated commits alike and redirects
    # to raw.githubusercontent.com, which serves the bytes
    return f"https://github.com/{repository}/raw/{ref}/{folder}"


_ETT = ("zhouhaoyi/ETDataset", "1d16c8f4f943005d613b5bc962e9eeb06058cf07", "ETT-small")
_PLANETOID = ("kimiyoung/planetoid", "af6abf468a772cc055bec88c52e4d6f51b7c37e3", "data")
_PYKEEN = ("pykeen/pykeen", "v1.11.1", "src/pykeen/datasets")
_GRAIL = ("kkteru/grail", "2a3dffa719518e7e6250e355a2fb37cd932de91e", "data")
_FSDD = ("Jakobovski/free-spoken-digit-dataset", "26eb9aaf", "recordings")
_MOSSFORMER2 = ("alibabasglab/MossFormer2", "5727f739", "MossFormer2_samples_Libri2Mix")


def _source(repository: str, ref: str, folder: str) -> str:
    return f"{repository} @ {ref[:8]}, {folder}/"


def _ett(name: str) -> Dataset:
    return Dataset(
        name,
        "ett",
        _github(*_ETT),
        _source(*_ETT),
        "CC BY-ND 4.0",
        f"{name}.csv: hourly electricity-transformer loads, 7 columns, 17,420 rows (2016-07..2018-06)",
        pattern=f"{name}.csv",
    )


def _planetoid(name: str, summary: str) -> Dataset:
    return Dataset(
        name,
        "planetoid",
        _github(*_PLANETOID),
        _source(*_PLANETOID),
        "MIT",
        summary + " in the Planetoid format PyG's `Planetoid` reads (public split)",
        pattern=f"ind.{name.lower()}.*",
    )


def _pykeen(name: str, summary: str) -> Dataset:
    repository, ref, folder = _PYKEEN
    folder = f"{folder}/{name.lower()}"
    return Dataset(
        name,
        f"kg/{name.lower()}",
        _github(repository, ref, folder),
        _source(repository, ref, folder),
        "MIT (pykeen)",
        summary,
    )


def _grail(name: str) -> Dataset:
    repository, ref, folder = _GRAIL
    folder = f"{folder}/{name}"
    role = "test graph (train.txt observed, test.txt queries)" if name.endswith("_ind") else "training graph"
    return Dataset(
        name,
        f"kg/inductive/{name}",
        _github(repository, ref, folder),
        _source(repository, ref, folder),
        "MIT",
        f"GraIL inductive split, {role}: head<TAB>relation<TAB>tail",
    )


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        _ett("ETTh1"),
        _ett("ETTh2"),
        _planetoid("Cora", "Cora citation graph: 2,708 papers, 7 classes"),
        _planetoid("CiteSeer", "CiteSeer citation graph: 3,327 papers, 6 classes"),
        _pykeen("UMLS", "UMLS knowledge graph: 135 entities, 46 relations, 5,216/652/661 triples"),
        _pykeen("Kinships", "Kinships KG: 104 entities, 25 relations, 8,544/1,068/1,074 triples"),
        _grail("fb237_v1"),
        _grail("fb237_v1_ind"),
        _grail("WN18RR_v1"),
        _grail("WN18RR_v1_ind"),
        Dataset(
            "FSDD",
            "fsdd/recordings",
            _github(*_FSDD),
            _source(*_FSDD),
            "CC BY-SA 4.0",
            "Free Spoken Digit Dataset: 3,000 recordings, 8 kHz, 6 speakers x 10 digits x 50",
        ),
        Dataset(
            "Libri2Mix-samples",
            "libri2mix-samples",
            _github(*_MOSSFORMER2),
            _source(*_MOSSFORMER2),
            "MIT (repository); LibriSpeech CC BY 4.0",
            "36 real Libri2Mix 8 kHz test mixtures with references and MossFormer2's own estimates",
        ),
    )
}


def dataset(name: str) -> Dataset:
    """The registered dataset called ``name`` (case-insensitive); a one-line error lists the names."""
    for key, value in DATASETS.items():
        if key.lower() == name.lower():
            return value
    raise ValueError(f"unknown dataset {name!r}; registered: {', '.join(DATASETS)}")
