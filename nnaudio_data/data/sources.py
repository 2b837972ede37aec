"""Open a shard URL as a binary stream: local paths and ``file://`` URLs, ``pipe:CMD``."""
from __future__ import annotations

import subprocess
from typing import IO

from .errors import SampleError


def open_shard(url: str) -> IO[bytes]:
    """Open ``url`` for reading bytes.

    Args:
        url (str): a local path, ``file://PATH``, or ``pipe:COMMAND`` (the command's stdout).

    Raises:
        SampleError: reason "missing_shard" when the shard cannot be opened.
    """
    try:
        if url.startswith("pipe:"):
            proc = subprocess.Popen(url[5:], shell=True, stdout=subprocess.PIPE)
            return proc.stdout  # type: ignore[return-value]
        path = url[7:] if url.startswith("file://") else url
        return open(path, "rb")
    except OSError as e:
        raise SampleError(url, None, "missing_shard", str(e)) from e
