"""Object storage (``s3://``, ``gs://``, ``az://``, ... any fsspec URL): the fsspec side of
reading, listing and writing. Which URLs come here is decided once, by
:func:`~nnaudio_data.data._open.url_kind` (kind ``"fsspec"``).

fsspec and the scheme's backend (s3fs for ``s3://``: ``pip install nnaudio_data[s3]``) are
imported on first use only; without them a URL of that scheme is an ImportError naming what to
install. ``storage_options`` go to the backend unchanged (for s3fs: ``key``, ``secret``,
``anon``, ``client_kwargs={"endpoint_url": ...}``, ``default_block_size``, ...).

Reads go through :class:`~nnaudio_data.data._remote.ResumingReader` with :func:`fsspec_opener`:
the backend reads ranges of ``block_size`` bytes (8 MiB unless ``default_block_size`` is given)
and retries a failed range itself; when it gives up, the error is translated here (a missing
object -> FileNotFoundError -> ``missing_shard``; a dropped or timed-out connection ->
ConnectionError, which the reader retries by reopening at the byte offset it had reached, never
from byte 0).
"""
from __future__ import annotations

import io
import socket
from typing import IO, Any, Dict, List, Optional, Tuple, Type, cast

READ_BLOCK = 8 << 20  # bytes per ranged GET, unless storage_options say otherwise
GLOB_CHARS = "*?["


def filesystem(url: str, storage_options: Optional[Dict[str, Any]] = None):
    """(fsspec filesystem, path inside it) for ``url``."""
    scheme = url.partition("://")[0]
    try:
        import fsspec
        return fsspec.core.url_to_fs(url, **(storage_options or {}))
    except ImportError as e:
        extra = " (pip install nnaudio_data[s3])" if scheme == "s3" else ""
        raise ImportError(f"{url}: {scheme}:// URLs need fsspec and its {scheme} backend installed{extra} "
                          f"({e})") from e
    except ValueError as e:  # fsspec: "Protocol not known"
        raise ValueError(f"url must be a path, file://, http(s)://, pipe: or an fsspec URL; {url!r}: {e}") from e


def _transient_types() -> Tuple[Type[BaseException], ...]:
    """Backend errors that mean "the connection failed, try again" (after the backend's own retries)."""
    found: List[Type[BaseException]] = [socket.timeout, TimeoutError, ConnectionError]
    try:
        import s3fs.core
        found += list(s3fs.core.S3_RETRYABLE_ERRORS)
    except ImportError:
        pass
    for module, names in (("aiohttp", ("ClientConnectionError", "ClientPayloadError", "ServerTimeoutError")),
                          ("botocore.exceptions", ("ConnectionError", "HTTPClientError", "ReadTimeoutError")),
                          ("fsspec.exceptions", ("FSTimeoutError",))):
        try:
            mod = __import__(module, fromlist=list(names))
        except ImportError:
            continue
        found += [getattr(mod, n) for n in names
                  if isinstance(getattr(mod, n, None), type) and issubclass(getattr(mod, n), BaseException)]
    return tuple(found)


class _Translated(io.RawIOBase):
    """A backend file whose transient errors come out as ConnectionError (for ResumingReader)."""

    def __init__(self, f: IO[bytes], transient: Tuple[Type[BaseException], ...]):
        super().__init__()
        self.f, self.transient = f, transient

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self.f.read(len(b))
        except FileNotFoundError:
            raise
        except self.transient as e:
            raise ConnectionError(f"{type(e).__name__}: {e}") from e
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self.f.close()
        finally:
            super().close()


def fsspec_opener(url: str, storage_options: Optional[Dict[str, Any]] = None):
    """``open_at(offset) -> (stream at offset, size)`` over an fsspec URL, for ResumingReader."""
    fs, path = filesystem(url, storage_options)
    transient = _transient_types()
    kw = {} if "default_block_size" in (storage_options or {}) else {"block_size": READ_BLOCK}

    def open_at(offset: int) -> Tuple[IO[bytes], Optional[int]]:
        try:
            f = fs.open(path, "rb", **kw)
            if offset:
                f.seek(offset)
        except FileNotFoundError:
            raise
        except transient as e:
            raise ConnectionError(f"{type(e).__name__}: {e}") from e
        size = getattr(f, "size", None)
        return cast(IO[bytes], _Translated(f, transient)), int(size) if isinstance(size, int) else None

    return open_at


def expand_glob(url: str, storage_options: Optional[Dict[str, Any]] = None) -> List[str]:
    """The objects matching a glob URL (``s3://bucket/train-*.tar``), sorted, by listing the store."""
    fs, path = filesystem(url, storage_options)
    scheme = url.partition("://")[0]
    found = sorted(fs.glob(path))
    if not found:
        raise ValueError(f"urls: glob {url!r} matches no object")
    # a listed key is an object name, whatever it holds ("pipe:...", "x://y"): always under the scheme
    return [p if p.startswith(f"{scheme}://") else f"{scheme}://{p}" for p in found]


def join(base: str, name: str) -> str:
    """``base/name`` for a folder path or an object-store prefix."""
    return base.rstrip("/") + "/" + name


def require_bucket(url: str, storage_options: Optional[Dict[str, Any]] = None) -> None:
    """ValueError unless the bucket of an object URL exists (an output prefix needs no folder)."""
    fs, path = filesystem(url, storage_options)
    bucket = path.split("/", 1)[0]
    if not fs.exists(bucket):
        raise ValueError(f"out: bucket {bucket!r} of {url!r} does not exist (or is not readable)")
