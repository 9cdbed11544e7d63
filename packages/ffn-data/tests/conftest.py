"""Fixtures of the data-layer tests: a temporary mirror holding real UMLS files, and a clean environment."""

from pathlib import Path

import pytest

from ffn_data import DATA_ENV, MIRROR_ENV, cache_root, dataset, fetch
from ffn_data.testing import copy_dataset


@pytest.fixture(scope="session")
def umls_mirror(tmp_path_factory) -> Path:
    """A mirror root with the real UMLS files (fetched once through whatever mirror or cache is set)."""
    fetch("UMLS")
    root = tmp_path_factory.mktemp("mirror")
    copy_dataset(cache_root(), root, dataset("UMLS").folder)
    return root


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache, set as $FFN_STUDY_DATA; no mirror until a test sets one."""
    root = tmp_path / "cache"
    monkeypatch.setenv(DATA_ENV, str(root))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return root
