"""The study's data errors, and its command-line convention for user errors.

Every ``ffn-*`` command reports bad input (a missing or malformed file, a dataset it cannot reach, a
value the parser accepts but a constructor rejects) as one line, ``error: <what was wrong>``, on stderr
with exit status 2, like argparse does for bad arguments. ``FFN_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DEBUG_ENV", "ChecksumError", "DataError", "DataUnavailableError", "user_errors"]

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


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user error raised inside into ``error: <message>`` on stderr and exit status 2."""
    try:
        yield
    except USER_ERRORS as error:
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
