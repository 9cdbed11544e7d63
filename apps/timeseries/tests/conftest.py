"""Shared fixtures of the time-series tests: the real ETTh1 (through the data layer) and small CSVs."""

import pytest

from ffn_timeseries.cli import CONFIGS
from ffn_timeseries.data import csv_path


@pytest.fixture(scope="session")
def ett_path():
    return str(csv_path())


@pytest.fixture
def configs():
    return CONFIGS
