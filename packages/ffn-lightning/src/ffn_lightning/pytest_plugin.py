"""The pytest fixtures every app's test suite shares (registered as the ``pytest11`` plugin
``ffn_lightning``, so each app's ``conftest.py`` holds only its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["in_tmp_dir"]


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory for the test: what a CLI run writes (``runs/``, ``config.yaml``) stays
    out of the checkout."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
