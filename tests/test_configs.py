"""Every YAML an app ships (``ffn_<app>/configs``) parses and instantiates through its app's CLI.

Full configs are built alone; presets (``configs/presets/``) are partial by design and are built on
top of the app's tiny config. Configs for data no registry holds (ImageNet) must fail on exactly that:
a one-line error naming the missing path.
"""

from __future__ import annotations

import re

import pytest
import torch

from ffn_lightning import discover_apps

APPS = discover_apps()
MISSING_DATA = re.compile(r"\S*/\S*:? .*(not found|missing|no such|no mixtures)")
CASES = [
    (name, path.relative_to(app.configs).as_posix())
    for name, app in APPS.items()
    for path in sorted(app.configs.rglob("*.yaml"))
]


def test_every_app_has_configs():
    assert {name for name, _ in CASES} == set(APPS)


@pytest.mark.parametrize(("app", "config"), CASES, ids=[f"{a}:{c}" for a, c in CASES])
def test_config_instantiates(app, config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # configs name no path relative to the repository
    spec = APPS[app]
    configs = (spec.tiny_config, config) if config.startswith("presets/") else (config,)
    try:
        cli = spec.instantiate(*configs)
    except (FileNotFoundError, ValueError) as error:  # user-provided data that is not in the repository
        # jsonargparse wraps a DataModule's own error in its report; the DataModule's line must be there
        lines = [line.strip(" -") for line in str(error).splitlines() if MISSING_DATA.search(line)]
        assert lines, str(error)
        assert "/path/to/" in str(error), lines[0]
        return  # built up to the data, which only the user can supply: the error says where it goes
    assert isinstance(cli.model, torch.nn.Module)
    assert sum(p.numel() for p in cli.model.parameters()) > 0
    assert cli.datamodule is not None and cli.trainer is not None
