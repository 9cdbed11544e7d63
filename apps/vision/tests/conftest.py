"""Shared fixtures of the vision app's tests."""

import pytest

from ffn_vision.cli import CONFIGS


@pytest.fixture
def configs():
    return CONFIGS
