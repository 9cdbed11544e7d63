"""Shared fixtures of the graphs tests (real data through the data layer)."""

import pytest

from ffn_graphs.cli import CONFIGS
from ffn_graphs.data import planetoid


@pytest.fixture(scope="session")
def cora():
    return planetoid("Cora")


@pytest.fixture
def configs():
    return CONFIGS
