"""Shared fixtures of the time-series tests: the real ETTh1 (through the data layer) and small CSVs."""

from pathlib import Path

import pytest

from ffn_timeseries.data import csv_path

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="session")
def ett_path():
    return str(csv_path())


@pytest.fixture
def configs():
    return CONFIGS


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
