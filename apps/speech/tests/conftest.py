"""Shared fixtures of the speech tests."""

import pytest

from ffn_speech.cli import CONFIGS


@pytest.fixture
def configs():
    return CONFIGS
