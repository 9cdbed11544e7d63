"""Shared fixtures of the graphs tests (real data through the data layer)."""

from pathlib import Path

import pytest

from ffn_graphs.data import planetoid

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="session")
def cora():
    return planetoid("Cora")


@pytest.fixture
def configs():
    return CONFIGS


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
