"""Shared fixtures of the vision app's tests."""

import pytest

from ffn_vision.cli import CONFIGS


@pytest.fixture
def configs():
    return CONFIGS


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
