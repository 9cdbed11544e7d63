"""The study's data errors, and its command-line convention for user errors.

Every ``ffn-*`` command reports bad input (a missing or malformed file, a dataset it cannot reach, a
value the parser accepts but a constructor rejects) as one line, ``error: <what was wrong>``, on stderr
with exit status 2, like argparse does for bad arguments. ``FFN_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "DEBUG_ENV",
    "ChecksumError",
    "DataError",
    "DataUnavailableError",
    "user_error_message",
    "user_errors",
]

DEBUG_ENV = "FFN_DEBUG"


class DataError(Exception):
    """A dataset could not be made available (base of the errors below)."""


class DataUnavailableError(DataError, ConnectionError):
    """A file is not cached and its source could not be read."""


class ChecksumError(DataError, ValueError):
    """A downloaded file's sha256 differs from the registry's; nothing was written to the cache."""


#: what counts as the user's error: bad files and paths (OSError) and bad values (ValueError, which the
#: data errors above also are)
USER_ERRORS = (OSError, ValueError, DataError)


def _raised_by_the_study(error: BaseException) -> bool:
    """Whether ``error`` was raised in the study's own code (a module ``ffn_*``)."""
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")).startswith("ffn_")


def user_error_message(error: BaseException) -> str | None:
    """The one-line message of the user error behind ``error``, or None if it is not one.

    The study's own message speaks: the outermost user error raised in an ``ffn_*`` module, so a
    translation such as "ETTh1 is not in <cache> and <url> could not be reached" wins over the socket
    error it was raised from, while a DataModule's own error wins over the report a parser wraps it in
    (jsonargparse does, for subclass choices). Without one, the innermost user error of the chain
    Python shows speaks. An error re-raised from a DataLoader worker carries the worker's traceback in
    its message; its last line is the original message.
    """
    chain: list[BaseException] = []
    while error is not None and all(error is not e for e in chain):
        chain.append(error)
        # the chain Python shows: an explicit cause, else the context unless `raise ... from None`
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    users = [e for e in chain if isinstance(e, USER_ERRORS)]
    if not users:
        return None
    ours = [e for e in users if _raised_by_the_study(e)]
    chosen = ours[0] if ours else users[-1]
    lines = [line.strip() for line in str(chosen).strip().splitlines() if line.strip()]
    if "Original Traceback (most recent call last):" in lines:
        return re.sub(r"^[\w.]+: ", "", lines[-1])  # the original's "module.Type: message" line
    return " ".join(" ".join(lines).split()) or type(chosen).__name__


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user error raised inside into ``error: <message>`` on stderr and exit status 2."""
    try:
        yield
    except USER_ERRORS as error:
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"error: {user_error_message(error)}", file=sys.stderr)
        raise SystemExit(2) from None
