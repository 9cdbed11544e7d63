"""Shared fixtures of the fields tests."""

import pytest

from ffn_fields.cli import CONFIGS
from ffn_fields.scene import write_blender_scene


@pytest.fixture
def configs():
    return CONFIGS


@pytest.fixture(scope="session")
def scene(tmp_path_factory):
    """A small generated blender-format scene (24 px, 8/2/2 views)."""
    return write_blender_scene(
        tmp_path_factory.mktemp("scene"), image_size=24, views={"train": 8, "val": 2, "test": 2}
    )
