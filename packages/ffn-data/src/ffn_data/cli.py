"""``ffn-data``: list the registered datasets, prefetch them, hash a folder for the registry.

ffn-data list                 # each dataset, its size, whether it is cached, its source
ffn-data download ETTh1 FSDD  # or: ffn-data download all
ffn-data hash FOLDER          # registry.txt lines (<path> <bytes> <sha256>) for every file under FOLDER
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from .errors import user_errors
from .fetch import DATA_ENV, MIRROR_ENV, cache_root, cached_files, fetch
from .registry import DATASETS, dataset

__all__ = ["main"]


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _list(root: str | None) -> None:
    base = cache_root(root)
    rows = [("dataset", "files", "size", "cached", "source", "license")]
    for spec in DATASETS.values():
        count, have = len(spec.files), cached_files(spec.name, base)
        state = "yes" if have == count else ("no" if have == 0 else f"{have}/{count}")
        rows.append((spec.name, str(count), _megabytes(spec.size), state, spec.source, spec.license))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    mirror = os.environ.get(MIRROR_ENV)
    print(f"\ncache: {base}" + (f"\nmirror: {mirror}" if mirror else ""))


def _download(names: Sequence[str], root: str | None) -> None:
    chosen = list(DATASETS) if [n.lower() for n in names] == ["all"] else [dataset(n).name for n in names]
    for name in chosen:
        print(f"{name}: {fetch(name, root)}")  # a progress bar on a terminal


def _hash(folder: Path) -> None:
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{path.relative_to(folder).as_posix()} {path.stat().st_size} {digest}")


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of ``ffn-data``; a bad name or an unreachable source is one ``error:`` line, exit 2."""
    parser = argparse.ArgumentParser(prog="ffn-data", description=__doc__.split("\n")[0])
    parser.add_argument("--root", help=f"cache folder (default: ${DATA_ENV}, else the user cache)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="each dataset, its size and whether it is cached")
    download = commands.add_parser("download", help="fetch datasets into the cache (a progress bar each)")
    download.add_argument("names", nargs="+", metavar="NAME", help=f"{', '.join(DATASETS)}, or all")
    hasher = commands.add_parser("hash", help="registry lines for every file under a folder")
    hasher.add_argument("folder", type=Path)
    options = parser.parse_args(args)
    with user_errors():
        if options.command == "list":
            _list(options.root)
        elif options.command == "download":
            _download(options.names, options.root)
        else:
            _hash(options.folder)


if __name__ == "__main__":
    main()
