"""Every class an app's configs may choose builds through that app's parser, from a minimal YAML.

The classes come from each app's registry (`StudyApp.slots`), so a class added there is built here
with no edit; a class a shipped config names that no slot lists fails the completeness test.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ffn_data import user_error_message
from ffn_lightning import discover_apps

APPS = discover_apps()
CASES = [
    (name, slot, class_path)
    for name, app in APPS.items()
    for slot in app.slots
    for class_path in slot.classes
]
MISSING_DATA = re.compile(r"/path/to/\S*:? .*(not found|missing|no such)")


def _class(path: str) -> type:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _required_paths(cls: type, given: dict[str, Any]) -> dict[str, str]:
    """Required arguments naming user data (a root, folder or file) that only a user has; other
    required arguments are the widths a factory slot passes when it calls the class."""
    required = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.default is inspect.Parameter.empty and re.search("root|path|folder|file", p.name)
    ]
    return {name: f"/path/to/{name}" for name in required if name not in given}


def _nested(key: str, value: Any) -> dict[str, Any]:
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def _attribute(cli: Any, key: str) -> Any:
    parts = [p for p in key.split(".") if p != "init_args"]
    target = cli.datamodule if parts[0] == "data" else cli.model
    for part in parts[1:]:
        target = getattr(target, part)
    return target


@pytest.mark.parametrize(
    ("app", "slot", "class_path"),
    CASES,
    ids=[f"{a}:{s.config}:{s.key}={c.rsplit('.', 1)[1]}" for a, s, c in CASES],
)
def test_every_slot_class_builds_through_the_app_parser(app, slot, class_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cls = _class(class_path)
    init_args = {**slot.init_args, **_required_paths(cls, slot.init_args)}
    choice = {"class_path": class_path, **({"init_args": init_args} if init_args else {})}
    (tmp_path / "choice.yaml").write_text(yaml.safe_dump(_nested(slot.key, choice)))
    try:
        cli = APPS[app].instantiate(slot.config, extra=["--config", str(tmp_path / "choice.yaml")])
    except (FileNotFoundError, ValueError) as error:
        # built up to the user's own data, which the error the user sees names
        assert MISSING_DATA.search(user_error_message(error) or ""), str(error)
        return
    assert type(_attribute(cli, slot.key)) is cls


@pytest.mark.parametrize("app", sorted(APPS))
def test_every_app_class_a_shipped_config_names_is_in_a_slot(app):
    spec = APPS[app]
    package = f"ffn_{app}."
    listed = {c for slot in spec.slots for c in slot.classes}
    named: dict[str, Path] = {}

    def walk(node: Any, key: str, path: Path) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("class_path"), str) and node["class_path"].startswith(package):
                if key.startswith(("model", "data")):
                    named[node["class_path"]] = path
            for child, value in node.items():
                walk(value, f"{key}.{child}" if key else child, path)
        elif isinstance(node, list):
            for value in node:
                walk(value, key, path)

    for path in sorted(spec.configs.rglob("*.yaml")):
        walk(yaml.safe_load(path.read_text()), "", path)
    missing = {c: str(p.relative_to(spec.configs)) for c, p in named.items() if c not in listed}
    assert not missing, f"classes named in configs but in no StudyApp slot: {missing}"
