"""Every app's extra subcommands go through one dispatcher (`ffn_lightning.run_command`)."""

import importlib

import pytest

from ffn_lightning import run_command

APPS = ("vision", "timeseries", "graphs", "speech", "fields")


@pytest.mark.parametrize("app", APPS)
def test_every_listed_command_names_a_callable_entry_point(app):
    commands = importlib.import_module(f"ffn_{app}.cli").COMMANDS
    assert commands
    for name, target in commands.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), f"{app} {name}: {target}"


def test_run_command_calls_the_entry_point_with_the_remaining_arguments(monkeypatch):
    import types

    called = []
    fake = types.ModuleType("fake_entry")
    fake.go = called.append
    monkeypatch.setitem(__import__("sys").modules, "fake_entry", fake)
    assert run_command(["hello", "--x", "1"], {"hello": "fake_entry:go"})
    assert called == [["--x", "1"]]
    assert not run_command(["fit", "--config", "a.yaml"], {"hello": "fake_entry:go"})
    assert not run_command([], {"hello": "fake_entry:go"})
