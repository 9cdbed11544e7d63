"""Fetching a registered dataset into the cache: from upstream or a mirror, sha256-verified, atomic.

Where files go: ``root=`` when given, else ``$FFN_STUDY_DATA``, else the platform's user cache folder
(``~/.cache/ffn-study`` on Linux). Where they come from: each file's pinned upstream URL, or
``$FFN_STUDY_MIRROR`` (an http(s) base URL or a local folder laid out as ``<folder>/<file>``, the
registry's relative paths) when set. A mirror is only read, never written.

Each missing file is downloaded by pooch into a temporary file beside its target, its sha256 checked,
and only then renamed into place (atomic on one file system): an interrupted download, a corrupt
file or two processes filling the same cache at once never leave a partial or wrong file behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import platformdirs
import pooch
import requests
from tqdm.auto import tqdm

from .errors import ChecksumError, DataUnavailableError
from .registry import Dataset, RemoteFile, dataset

__all__ = [
    "DATA_ENV",
    "MIRROR_ENV",
    "cache_root",
    "cached_files",
    "fetch",
    "source_url",
]

DATA_ENV = "FFN_STUDY_DATA"
MIRROR_ENV = "FFN_STUDY_MIRROR"
#: (connect, read) seconds: offline machines fail fast, slow servers still finish
TIMEOUT = (10, 60)
WORKERS = 8  # FSDD is 3,000 small files: a few requests in flight at once

# pooch logs every file at INFO; FSDD would print 3,000 lines. Warnings still show.
pooch.get_logger().setLevel("WARNING")


def cache_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``root``, else ``$FFN_STUDY_DATA``, else the user cache (``ffn-study``)."""
    if root is not None and str(root):
        return Path(root).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path(platformdirs.user_cache_dir("ffn-study"))


def _mirror() -> str | None:
    return os.environ.get(MIRROR_ENV) or None


def _is_url(location: str) -> bool:
    return location.split("://", 1)[0] in ("http", "https", "ftp")


def source_url(file: RemoteFile) -> str:
    """Where ``file`` is read from: the mirror's copy when ``$FFN_STUDY_MIRROR`` is set, else upstream."""
    mirror = _mirror()
    if mirror is None:
        return file.url
    if mirror.startswith("file://"):
        mirror = mirror[len("file://") :]
    return f"{mirror.rstrip('/')}/{file.path}"


def _is_cached(root: Path, file: RemoteFile) -> bool:
    # files only ever arrive verified and by an atomic rename, so presence with the right size is enough
    path = root / file.path
    return path.is_file() and path.stat().st_size == file.size


def cached_files(name: str, root: str | os.PathLike[str] | None = None) -> int:
    """How many of the dataset's files are in the cache."""
    base = cache_root(root)
    return sum(_is_cached(base, f) for f in dataset(name).files)


def _downloader(spec: Dataset, root: Path, file: RemoteFile, url: str) -> Callable[[str, str, Any], None]:
    """A pooch downloader that reads ``url`` (http(s) or a local path) and checks the sha256 itself, so
    that a mismatch names the file, the expected and the actual hash."""

    def download(url: str, output_file: str, pooch_instance: Any) -> None:
        try:
            if _is_url(url):
                pooch.HTTPDownloader(progressbar=False, timeout=TIMEOUT)(url, output_file, pooch_instance)
            else:
                shutil.copyfile(url, output_file)
        except (requests.RequestException, OSError) as error:
            raise DataUnavailableError(
                f"{spec.name} is not in {root} and {url} could not be reached; download it there or set "
                f"{MIRROR_ENV}"
            ) from error
        actual = pooch.file_hash(output_file, alg="sha256")
        if actual != file.sha256:
            raise ChecksumError(
                f"{file.path} from {url}: sha256 {actual}, expected {file.sha256}; "
                f"nothing was written to {root}"
            )

    return download


def _download(spec: Dataset, root: Path, file: RemoteFile) -> int:
    target = root / file.path
    url = source_url(file)
    pooch.retrieve(
        url,
        known_hash=f"sha256:{file.sha256}",
        fname=target.name,
        path=target.parent,
        downloader=_downloader(spec, root, file, url),
        progressbar=False,
    )
    return file.size


def fetch(name: str, root: str | os.PathLike[str] | None = None, *, progress: bool | None = None) -> Path:
    """Make every file of the dataset ``name`` present and verified in the cache; return its folder.

    Args:
        name: a registered dataset (`ffn_data.DATASETS`), case-insensitive.
        root: cache folder (default: `cache_root`).
        progress: show a progress bar while downloading (None: only on a terminal).

    Returns:
        ``<root>/<dataset folder>``, e.g. ``~/.cache/ffn-study/ett`` for ``ETTh1``.

    Raises:
        DataUnavailableError: a file is missing and its source (upstream or mirror) cannot be read.
        ChecksumError: a file arrived with the wrong sha256 (it is not kept).
    """
    spec = dataset(name)
    base = cache_root(root)
    missing = [f for f in spec.files if not _is_cached(base, f)]
    if missing:
        with (
            tqdm(
                total=sum(f.size for f in missing),
                unit="B",
                unit_scale=True,
                desc=f"{spec.name} → {base}",
                disable=None if progress is None else not progress,
            ) as bar,
            ThreadPoolExecutor(min(WORKERS, len(missing))) as pool,
        ):
            futures = [pool.submit(_download, spec, base, f) for f in missing]
            try:
                for future in as_completed(futures):
                    bar.update(future.result())
            finally:  # on the first failure, start no more downloads
                pool.shutdown(cancel_futures=True)
    return base / spec.folder
