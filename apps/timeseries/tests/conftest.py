"""Shared fixtures of the time-series tests: the real ETTh1 from ../shared/data and small CSVs."""

from pathlib import Path

import pytest

from ffn_timeseries.data import DEFAULT_CSV

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture
def ett_path():
    return DEFAULT_CSV


@pytest.fixture
def configs():
    return CONFIGS


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
