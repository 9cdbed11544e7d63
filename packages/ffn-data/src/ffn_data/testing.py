"""`MirrorServer`: a real HTTP mirror on 127.0.0.1 for tests of the download path (no internet needed).

with MirrorServer(folder) as server:
    os.environ["FFN_STUDY_MIRROR"] = server.url
    fetch("UMLS", root=tmp_path)
    assert server.requests == ["/kg/umls/test.txt", ...]
"""

from __future__ import annotations

import io
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["MirrorServer", "copy_dataset", "error_line"]

CHUNK = 8192


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet, as a test fixture should be
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(self.path)
        super().do_GET()

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
        # the headers (with the full Content-Length) are out; a truncated path stops half way and the
        # connection closes, as a server that drops it mid-file
        data = source.read()
        if self.path.lstrip("/") in self.server.truncate:
            data = data[: len(data) // 2]
        for start in range(0, len(data), CHUNK):
            outputfile.write(data[start : start + CHUNK])
            if self.server.chunk_delay:
                time.sleep(self.server.chunk_delay)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]
    truncate: set[str]
    chunk_delay: float
    lock: threading.Lock


class MirrorServer:
    """Serve ``folder`` over HTTP on a free port of 127.0.0.1, in a background thread.

    Args:
        folder: the mirror's root (the registry layout: ``<dataset folder>/<file>``).
        truncate: relative paths whose responses stop half way (Content-Length stays the full size).
        chunk_delay: seconds to sleep after each 8 KiB written, to make concurrent downloads overlap.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        requests: the request paths served so far, in order.
    """

    def __init__(self, folder: str | Path, *, truncate: set[str] | None = None, chunk_delay: float = 0.0):
        handler = partial(_Handler, directory=str(folder))
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.requests, self._server.truncate = [], set(truncate or ())
        self._server.chunk_delay, self._server.lock = chunk_delay, threading.Lock()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def requests(self) -> list[str]:
        with self._server.lock:
            return list(self._server.requests)

    def __enter__(self) -> MirrorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def copy_dataset(source_root: str | Path, mirror_root: str | Path, folder: str) -> Path:
    """Copy one dataset folder from a cache (or mirror) root into a new mirror root; returns the copy."""
    target = Path(mirror_root) / folder
    shutil.copytree(Path(source_root) / folder, target)
    return target


def error_line(main: Callable[[Sequence[str]], Any], args: Sequence[str]) -> str:
    """Run a console entry point that must stop on a user error; return its ``error:`` line.

    Fails (AssertionError) unless it exits with status 2, prints no traceback, and its last line on
    stderr starts with ``error: ``.
    """
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        try:
            main(list(args))
        except SystemExit as exit:
            code = exit.code
        else:
            code = 0
    text = stderr.getvalue()
    assert code == 2, f"exit status {code}, expected 2; stderr: {text[-2000:]}"
    assert "Traceback" not in text, text[-4000:]
    last = text.strip().splitlines()[-1]
    assert last.startswith("error: "), text[-2000:]
    return last
