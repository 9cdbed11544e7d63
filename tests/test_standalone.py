"""Stand-alone apps: from an empty working directory, with only a data mirror and an empty cache, each
app's default config trains through its console script; without a source, the run stops with one line.

Data comes the way a user's does: the data layer fetches it from ``$FFN_STUDY_MIRROR`` (CI: a local
copy of the upstream files) or, where that is unset, from upstream.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ffn_data import DATA_ENV, MIRROR_ENV
from ffn_data.testing import MirrorServer
from ffn_lightning import discover_apps

APPS = discover_apps()
# every app's default config, and the graphs app's knowledge-graph task (another dataset)
CASES = [(name, "default.yaml") for name in APPS] + [("graphs", "kg.yaml")]


def _run(app: str, config: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    spec = APPS[app]
    script = Path(sys.executable).parent / f"ffn-{app}"
    args = [*spec.task_of(spec.configs / config), "fit", "--config", config]
    args += ["--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar", "false"]
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize(("app", "config"), CASES, ids=[f"{a}:{c}" for a, c in CASES])
def test_default_config_fits_from_an_empty_cache_and_any_directory(app, config, tmp_path):
    env = {**os.environ, DATA_ENV: str(tmp_path / "data")}
    result = _run(app, config, tmp_path / "work", env)
    assert result.returncode == 0, result.stderr[-4000:]


def test_without_a_reachable_source_the_run_stops_with_one_line(tmp_path):
    with MirrorServer(tmp_path) as server:
        closed = server.url  # nothing listens there once the block ends
    env = {**os.environ, DATA_ENV: str(tmp_path / "data"), MIRROR_ENV: closed}
    result = _run("timeseries", "default.yaml", tmp_path / "work", env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"error: ETTh1 is not in {tmp_path / 'data'} and {closed}/ett/ETTh1.csv could not be reached; "
        "download it there or set FFN_STUDY_MIRROR"
    )
    assert "Traceback" not in result.stderr
