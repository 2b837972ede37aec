"""Decode one audio member of a shard: bytes -> float32 (C, T) and its rate, or a named error.

PCM and IEEE-float WAV take a fast path (:mod:`nnaudio_data.data._wav`, equal to soundfile bit
for bit); everything else goes through soundfile (libsndfile). Every failure is a
:class:`SampleError` with one of these reasons:

============================  ==================================================================
``"empty"``                   zero-byte member, or a file that decodes to zero frames
``"truncated"``               a WAV whose header promises more data than present; a FLAC that
                              breaks off (or decodes to fewer frames than its STREAMINFO says)
``"unsupported_format"``      a container libsndfile cannot read (MP4/M4A, AAC, WMA, WavPack,
                              APE), a WAV codec it cannot read, or an extension it has no reader for
``"decode"``                  bytes that are not audio, or a stream libsndfile rejects
``"non_finite"``              NaN or inf samples (float files only)
============================  ==================================================================
"""
from __future__ import annotations

import io
from typing import NamedTuple, Optional, Tuple

import numpy as np
import soundfile as sf

from .._compat import read_unknown_length
from ._errors import SampleError
from ._wav import WavInfo, WavTruncated, parse_wav, read_wav

from ._formats import AUDIO_EXTENSIONS, UNSUPPORTED_EXTENSIONS  # noqa: F401  (AUDIO_EXTENSIONS: re-exported)
_UNKNOWN = 2 ** 62  # libsndfile reports SF_COUNT_MAX frames when a header does not say
# magic bytes (offset, bytes, name) of containers libsndfile has no reader for
_FOREIGN_MAGIC = ((4, b"ftyp", "MP4/M4A"), (0, b"wvpk", "WavPack"), (0, b"MAC ", "Monkey's Audio"),
                  (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF/WMA"), (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
                  (0, b"#!AMR", "AMR"))


def foreign_container(data: bytes) -> Optional[str]:
    """Name of a container libsndfile cannot read, recognised by its magic bytes, else None."""
    for offset, magic, name in _FOREIGN_MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return name
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:  # ADTS sync, layer 0
        return "AAC (ADTS)"
    return None


def _message(e: Exception) -> str:
    """An exception as "Type: message", without libsndfile's "Error opening <object at 0x...>"."""
    return f"{type(e).__name__}: {getattr(e, 'error_string', None) or e}"


def _read_all(f: sf.SoundFile) -> np.ndarray:
    """All frames as float32 (T, C).

    When the header does not say how many frames there are (a streamed FLAC), soundfile's own
    ``read()`` sizes its output from that (SF_COUNT_MAX), so the file is read in blocks
    (:func:`nnaudio_data._compat.read_unknown_length`).
    """
    if 0 <= f.frames < _UNKNOWN:  # the count given: a format libsndfile cannot seek in (XI) reads too
        return f.read(f.frames, dtype="float32", always_2d=True)
    return read_unknown_length(f)


def _read_soundfile(data: bytes, url: str, key: str, ext: Optional[str],
                    is_riff: bool) -> Tuple[np.ndarray, int]:
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except Exception as e:  # LibsndfileError / RuntimeError / TypeError
        detail = _message(e)
        if is_riff:
            raise SampleError(url, key, "unsupported_format", f"WAV codec not readable: {detail}") from None
        if ext is not None and ext.lower().lstrip(".") in UNSUPPORTED_EXTENSIONS:
            raise SampleError(url, key, "unsupported_format", f".{ext} files: {detail}") from None
        raise SampleError(url, key, "decode", detail) from None
    with f:
        promised, rate, fmt = f.frames, f.samplerate, f.format
        try:
            x = _read_all(f)
        except Exception as e:
            reason = "truncated" if fmt == "FLAC" else "decode"
            raise SampleError(url, key, reason, f"{fmt} stream breaks off: {_message(e)}") from None
    if fmt == "FLAC" and 0 < promised < _UNKNOWN and promised != x.shape[0]:
        raise SampleError(url, key, "truncated", f"FLAC header promises {promised} frames, decoded {x.shape[0]}")
    return np.ascontiguousarray(x.T), int(rate)


def decode_audio(data: bytes, url: str = "<bytes>", key: str = "?",
                 ext: Optional[str] = None) -> Tuple[np.ndarray, int]:
    """Decode encoded audio bytes.

    Args:
        data (bytes): the encoded file (WAV, FLAC, OGG, ... anything libsndfile reads).
        url (str): shard URL, for error messages. key (str): sample key, for error messages.
        ext (str, optional): the member's extension, used to name "unsupported_format" errors.

    Returns:
        (waveform, sample_rate): float32 array of shape (C, T), and an int rate.

    Raises:
        SampleError: reasons "empty", "truncated", "unsupported_format", "decode", "non_finite"
            (see the module docstring).

    Shape:
        output waveform: (C, T)

    Example:
        >>> buf = io.BytesIO(); sf.write(buf, np.zeros((100, 2)), 8000, format="WAV")
        >>> x, sr = decode_audio(buf.getvalue()); x.shape, x.dtype, sr
        ((2, 100), dtype('float32'), 8000)
        >>> decode_audio(b"not audio at all", "a.tar", "k1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nnaudio_data.data._errors.SampleError: a.tar key='k1': decode: LibsndfileError: ...
    """
    return decode_probed(data, probe_audio(data, url, key), url, key, ext)


def probe_audio(data: bytes, url: str = "<bytes>", key: str = "?") -> Optional[WavInfo]:
    """The checks :func:`decode_audio` makes before decoding ("empty" zero-byte member, a foreign
    container, a truncated WAV), and the header of a WAV for the fast path (None for others).

    Example:
        >>> buf = io.BytesIO(); sf.write(buf, np.zeros((100, 2)), 8000, format="WAV")
        >>> info = probe_audio(buf.getvalue()); info.channels, info.frames
        (2, 100)
    """
    if len(data) == 0:
        raise SampleError(url, key, "empty", "zero-byte audio member")
    foreign = foreign_container(data)
    if foreign is not None:
        raise SampleError(url, key, "unsupported_format", f"{foreign} container (libsndfile cannot read it)")
    try:
        return parse_wav(data)
    except WavTruncated as e:
        raise SampleError(url, key, "truncated", str(e)) from None


def decode_probed(data: bytes, info: Optional[WavInfo], url: str = "<bytes>", key: str = "?",
                  ext: Optional[str] = None) -> Tuple[np.ndarray, int]:
    """:func:`decode_audio` after :func:`probe_audio` returned ``info``."""
    if info is not None:
        x, sr = read_wav(data, info), info.sample_rate
    else:
        x, sr = _read_soundfile(data, url, key, ext, is_riff=data[:4] == b"RIFF" and data[8:12] == b"WAVE")
    if x.shape[1] == 0:
        raise SampleError(url, key, "empty", "the file decodes to zero frames")
    if (info is None or info.is_float) and not np.isfinite(x).all():
        raise SampleError(url, key, "non_finite", "NaN or inf samples")
    return x, sr


class FlacInfo(NamedTuple):
    """A FLAC file's STREAMINFO: what a window decode needs before decoding."""

    sample_rate: int
    channels: int
    frames: int


_FLAC_MAX_FRAMES = 1 << 36  # the STREAMINFO field's width: no larger value can be read


def flac_streaminfo(data: bytes) -> Optional[FlacInfo]:
    """The STREAMINFO of FLAC bytes, or None when they are not FLAC or do not say their length
    (a streamed FLAC: total 0), so that the whole-file path decides.

    Example:
        >>> buf = io.BytesIO(); sf.write(buf, np.zeros((300, 2)), 8000, format="FLAC")
        >>> flac_streaminfo(buf.getvalue())
        FlacInfo(sample_rate=8000, channels=2, frames=300)
        >>> flac_streaminfo(b"RIFF....WAVE") is None
        True
    """
    # "fLaC", then the first metadata block (STREAMINFO, type 0, 34 bytes): rate 20 bits,
    # channels - 1 3 bits, bits per sample - 1 5 bits, total samples 36 bits, at byte 18
    if len(data) < 42 or data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        return None
    packed = int.from_bytes(data[18:26], "big")
    rate, channels, frames = packed >> 44, ((packed >> 41) & 7) + 1, packed & (_FLAC_MAX_FRAMES - 1)
    if rate == 0 or frames == 0:
        return None
    return FlacInfo(rate, channels, frames)


def read_flac_window(data: bytes, info: FlacInfo, start: int, out: np.ndarray,
                     url: str = "<bytes>", key: str = "?") -> None:
    """Decode ``out.shape[-1]`` frames of FLAC ``data`` from frame ``start`` straight into ``out``
    (C, n) float32, the samples the whole-file decode gives there; nothing before ``start`` or
    after the window is decoded. ``start + n`` must lie within ``info.frames``.

    Raises:
        SampleError: "decode" (libsndfile rejects the stream, or it disagrees with STREAMINFO),
            "truncated" (the stream breaks off inside the window).

    Example:
        >>> x = np.arange(300)[:, None] / 512.0
        >>> buf = io.BytesIO(); sf.write(buf, x, 8000, format="FLAC", subtype="PCM_16")
        >>> data = buf.getvalue(); out = np.empty((1, 4), np.float32)
        >>> read_flac_window(data, flac_streaminfo(data), 100, out); (out * 512).tolist()
        [[100.0, 101.0, 102.0, 103.0]]
    """
    n = out.shape[-1]
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except Exception as e:
        raise SampleError(url, key, "decode", _message(e)) from None
    with f:
        if (f.format, f.samplerate, f.channels) != ("FLAC", info.sample_rate, info.channels):
            raise SampleError(url, key, "decode", f"FLAC STREAMINFO says {info.sample_rate} Hz, "
                              f"{info.channels} channels; libsndfile reads {f.samplerate} Hz, "
                              f"{f.channels} channels")
        try:
            if start:
                f.seek(start)
            if info.channels == 1:  # straight into the clip
                got = f.read(n, dtype="float32", out=out[0]).shape[0]
            else:
                block = f.read(n, dtype="float32", always_2d=True)
                got = block.shape[0]
                out[:, :got] = block.T
        except SampleError:
            raise
        except Exception as e:
            raise SampleError(url, key, "truncated", f"FLAC stream breaks off: {_message(e)}") from None
    if got != n:
        raise SampleError(url, key, "truncated", f"FLAC header promises {info.frames} frames, the "
                          f"stream ends before frame {start + got}")

