"""The download path against a real HTTP server on 127.0.0.1: verify, cache once, never keep a bad file."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ffn_data import MIRROR_ENV, ChecksumError, DataUnavailableError, cache_root, dataset, fetch, source_url
from ffn_data.testing import MirrorServer

UMLS = dataset("UMLS")

PATHS = sorted("/" + f.path for f in UMLS.files)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())


def test_files_arrive_verified_and_a_second_call_downloads_nothing(umls_mirror, cache, monkeypatch):
    with MirrorServer(umls_mirror) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        folder = fetch("UMLS")
        assert folder == cache / "kg" / "umls"
        assert sorted(server.requests) == PATHS
        for file in UMLS.files:
            assert _sha256(cache / file.path) == file.sha256
        assert fetch("umls") == folder
        assert len(server.requests) == len(PATHS)  # nothing downloaded again
    assert _leftovers(cache) == sorted(f.path for f in UMLS.files)  # no temporary files left


def test_a_progress_bar_counts_the_bytes_when_asked(umls_mirror, cache, monkeypatch, capsys):
    monkeypatch.setenv(MIRROR_ENV, str(umls_mirror))
    fetch("UMLS", progress=True)
    bar = capsys.readouterr().err.strip().split("\r")[-1]
    assert (
        bar.startswith(f"UMLS → {cache}: 100%") and f"{UMLS.size / 1e3:.0f}k/{UMLS.size / 1e3:.0f}k" in bar
    ), bar
    fetch("UMLS", progress=True)
    assert capsys.readouterr().err == ""  # nothing to download, no bar


def test_root_argument_wins_over_the_environment(umls_mirror, cache, tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(umls_mirror))  # a local folder as the mirror
    folder = fetch("UMLS", root=tmp_path / "elsewhere")
    assert folder == tmp_path / "elsewhere" / "kg" / "umls"
    assert not cache.exists()
    assert cache_root() == cache


def test_a_missing_file_comes_back_and_a_wrong_sized_one_is_replaced(umls_mirror, cache, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(umls_mirror))
    folder = fetch("UMLS")
    (folder / "train.txt").unlink()
    (folder / "test.txt").write_text("truncated")
    fetch("UMLS")
    for file in UMLS.files:
        assert _sha256(cache / file.path) == file.sha256


def test_a_corrupt_file_on_the_server_is_an_error_and_leaves_nothing(
    umls_mirror, cache, tmp_path, monkeypatch
):
    corrupt = tmp_path / "corrupt"
    (corrupt / "kg" / "umls").mkdir(parents=True)
    for file in UMLS.files:
        data = (umls_mirror / file.path).read_bytes()
        (corrupt / file.path).write_bytes(
            data.replace(b"\t", b" ", 1) if file.path.endswith("test.txt") else data
        )
    expected = next(f for f in UMLS.files if f.path.endswith("test.txt"))
    with MirrorServer(corrupt) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        with pytest.raises(ChecksumError) as error:
            fetch("UMLS")
    message = str(error.value)
    actual = _sha256(corrupt / expected.path)
    assert (
        f"kg/umls/test.txt from {server.url}/kg/umls/test.txt: sha256 {actual}, expected {expected.sha256}"
        in message
    )
    assert "\n" not in message
    assert "kg/umls/test.txt" not in _leftovers(cache)
    assert all(not name.rsplit("/", 1)[1].startswith("tmp") for name in _leftovers(cache))


def test_a_connection_dropped_mid_file_leaves_nothing_partial(umls_mirror, cache, monkeypatch):
    with MirrorServer(umls_mirror, truncate={"kg/umls/train.txt"}) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        with pytest.raises(DataUnavailableError, match=r"kg/umls/train\.txt could not be reached"):
            fetch("UMLS")
        assert "/kg/umls/train.txt" in server.requests
    left = _leftovers(cache)
    assert "kg/umls/train.txt" not in left
    assert all(name in {f.path for f in UMLS.files} for name in left), left  # no temporary file either


def test_an_unreachable_source_is_a_one_line_error_naming_dataset_cache_and_url(cache, monkeypatch):
    with MirrorServer(cache.parent) as server:  # a port that was open and is now closed
        url = server.url
    monkeypatch.setenv(MIRROR_ENV, url)
    with pytest.raises(DataUnavailableError) as error:
        fetch("UMLS")
    message = str(error.value)
    assert message.startswith(f"UMLS is not in {cache} and {url}/kg/umls/")
    assert message.endswith("could not be reached; download it there or set FFN_STUDY_MIRROR")
    assert not cache.exists() or not _leftovers(cache)


def test_the_mirror_replaces_upstream_with_the_registry_layout(monkeypatch):
    file = UMLS.files[0]
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert source_url(file) == file.url
    monkeypatch.setenv(MIRROR_ENV, "http://mirror.example/data/")
    assert source_url(file) == f"http://mirror.example/data/{file.path}"
    monkeypatch.setenv(MIRROR_ENV, "file:///srv/data")
    assert source_url(file) == f"/srv/data/{file.path}"


def test_two_processes_filling_the_same_empty_cache_both_succeed(umls_mirror, cache):
    code = "from ffn_data import fetch; fetch('UMLS')"
    # slow chunks make the two downloads of each file overlap
    with MirrorServer(umls_mirror, chunk_delay=0.002) as server:
        env = {**os.environ, MIRROR_ENV: server.url}
        runs = [
            subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE) for _ in range(2)
        ]
        errors = [run.communicate()[1].decode() for run in runs]
        assert [run.returncode for run in runs] == [0, 0], errors
        assert len(server.requests) >= len(PATHS)
    for file in UMLS.files:
        assert _sha256(cache / file.path) == file.sha256
    assert _leftovers(cache) == sorted(f.path for f in UMLS.files)
