"""``ffn-data``: list, download with the mirror, and one-line errors with exit status 2."""

import os
import subprocess
import sys

import pytest

from ffn_data import DATASETS, MIRROR_ENV, dataset
from ffn_data.cli import main
from ffn_data.testing import MirrorServer

UMLS = dataset("UMLS")


def test_list_shows_every_dataset_its_size_and_whether_it_is_cached(umls_mirror, cache, monkeypatch, capsys):
    monkeypatch.setenv(MIRROR_ENV, str(umls_mirror))
    main(["download", "UMLS"])
    capsys.readouterr()
    main(["list"])
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1 : 1 + len(DATASETS)]}
    assert set(rows) == set(DATASETS)
    assert rows["UMLS"][1:5] == ["3", f"{UMLS.size / 1e6:.1f}", "MB", "yes"]
    assert rows["FSDD"][1:5] == ["3000", f"{DATASETS['FSDD'].size / 1e6:.1f}", "MB", "no"]
    assert f"cache: {cache}" in lines


def test_hash_prints_registry_lines(umls_mirror, capsys):
    main(["hash", str(umls_mirror)])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{f.path} {f.size} {f.sha256}" for f in sorted(UMLS.files, key=lambda f: f.path)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["download", "nope"], "error: unknown dataset 'nope'; registered: ETTh1"),
        (["download", "UMLS"], "error: UMLS is not in "),
        (["hash", "/no/such/folder"], "error: /no/such/folder: not a folder"),
    ],
)
def test_errors_are_one_line_with_exit_status_2(args, message, cache):
    with MirrorServer(cache.parent) as server:
        url = server.url  # closed once the block ends: nothing listens there
    result = subprocess.run(
        [sys.executable, "-m", "ffn_data.cli", *args],
        env={**os.environ, MIRROR_ENV: url},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
