"""The FFN study's datasets: a registry of pinned upstream files, fetched into a verified, atomic cache.

>>> from ffn_data import fetch
>>> folder = fetch("ETTh1")  # doctest: +SKIP
>>> (folder / "ETTh1.csv").is_file()  # doctest: +SKIP
True

``$FFN_STUDY_DATA`` moves the cache, ``$FFN_STUDY_MIRROR`` replaces the upstream hosts (an http(s) base
URL or a local folder with the registry's layout); ``ffn-data list`` and ``ffn-data download`` manage it.
"""

from .errors import DEBUG_ENV, ChecksumError, DataError, DataUnavailableError, user_error_message, user_errors
from .fetch import DATA_ENV, MIRROR_ENV, cache_root, cached_files, fetch, source_url
from .registry import DATASETS, Dataset, RemoteFile, dataset

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "DEBUG_ENV",
    "MIRROR_ENV",
    "ChecksumError",
    "DataError",
    "DataUnavailableError",
    "Dataset",
    "RemoteFile",
    "cache_root",
    "cached_files",
    "dataset",
    "fetch",
    "source_url",
    "user_error_message",
    "user_errors",
]
