"""Fast path for PCM and IEEE-float WAV: parse the RIFF header, ``np.frombuffer`` the data chunk.

The output equals what ``soundfile.read(..., dtype="float32")`` returns, bit for bit: libsndfile
scales integer PCM by a power of two (8-bit unsigned: ``(x - 128) / 2**7``; 16-bit: ``/ 2**15``;
24-bit: ``/ 2**23``; 32-bit: ``/ 2**31``) and casts float64 to float32, and so does this module.
Anything unusual (RIFX/RF64, compressed codecs, extensible files whose valid bits differ from the
container, streamed files with an unknown data size) is left to soundfile: :func:`parse_wav`
returns ``None`` for those.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# the 14 bytes after the 2-byte format tag in a KSDATAFORMAT_SUBTYPE_* GUID
_KS_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
# (format, bits) -> numpy dtype of the stored samples (24-bit is unpacked by hand)
_DTYPES: Dict[Tuple[int, int], Optional[np.dtype]] = {
    (WAVE_FORMAT_PCM, 8): np.dtype(np.uint8), (WAVE_FORMAT_PCM, 16): np.dtype("<i2"),
    (WAVE_FORMAT_PCM, 24): None, (WAVE_FORMAT_PCM, 32): np.dtype("<i4"),
    (WAVE_FORMAT_IEEE_FLOAT, 32): np.dtype("<f4"), (WAVE_FORMAT_IEEE_FLOAT, 64): np.dtype("<f8")}
_SCALE = {8: np.float32(2.0 ** -7), 16: np.float32(2.0 ** -15), 24: np.float32(2.0 ** -31),
          32: np.float32(2.0 ** -31)}


class WavTruncated(ValueError):
    """The header promises more audio data than the bytes hold."""


@dataclass(frozen=True)
class WavInfo:
    """What the fast path needs from a RIFF/WAVE header."""

    format: int        # WAVE_FORMAT_PCM or WAVE_FORMAT_IEEE_FLOAT (extensible resolved)
    channels: int
    sample_rate: int
    bits: int
    data_offset: int
    frames: int

    @property
    def is_float(self) -> bool:
        return self.format == WAVE_FORMAT_IEEE_FLOAT


def _fmt_chunk(body: bytes) -> Optional[tuple]:
    """(format, channels, rate, block_align, bits) from a ``fmt `` chunk, None when unusual."""
    if len(body) < 16:
        return None
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40 or body[26:40] != _KS_GUID_TAIL:
            return None
        valid_bits = struct.unpack_from("<H", body, 18)[0]
        if valid_bits not in (0, bits):  # e.g. 20 valid bits in a 24-bit container
            return None
        tag = struct.unpack_from("<H", body, 24)[0]
    return tag, channels, rate, block_align, bits


def parse_wav(data: bytes, size: Optional[int] = None) -> Optional[WavInfo]:
    """Parse a little-endian RIFF/WAVE header; None when the fast path does not apply.

    Args:
        data (bytes): the file, or its beginning when ``size`` is given.
        size (int, optional): the whole file's size in bytes, when ``data`` holds only its
            beginning (a header read from a member view): a header that goes on past ``data``
            gives None (the caller decodes another way). Default ``len(data)``.

    Raises:
        WavTruncated: a RIFF/WAVE file whose ``data`` chunk claims more bytes than are present,
            or that ends before its ``data`` chunk.

    Example:
        >>> import io, soundfile as sf
        >>> buf = io.BytesIO(); sf.write(buf, np.zeros((10, 2)), 8000, format="WAV", subtype="PCM_16")
        >>> info = parse_wav(buf.getvalue()); info.channels, info.sample_rate, info.bits, info.frames
        (2, 8000, 16, 10)
        >>> parse_wav(buf.getvalue()[:44], size=len(buf.getvalue())).frames
        10
    """
    total = len(data) if size is None else size
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid != b"data" and body + size > len(data):
            if body + size <= total:
                return None  # the header goes on past the bytes given
            raise WavTruncated(f"file ends at byte {total} inside the {cid!r} chunk")
        if cid == b"fmt ":
            fmt = _fmt_chunk(bytes(data[body:body + size]))
            if fmt is None:
                return None
        elif cid == b"data":
            if fmt is None or size in (0, 0xFFFFFFFF):  # no format yet, or a streamed header
                return None
            if body + size > total:
                raise WavTruncated(f"data chunk declares {size} bytes, only {total - body} present")
            tag, channels, rate, block_align, bits = fmt
            if (tag, bits) not in _DTYPES or channels < 1 or block_align != channels * bits // 8:
                return None
            return WavInfo(tag, channels, rate, bits, body, size // block_align)
        pos = body + size + (size & 1)  # chunks are padded to an even size
    if len(data) < total:
        return None  # the header goes on past the bytes given
    raise WavTruncated(f"file ends at byte {total} before the data chunk")


def read_wav(data: bytes, info: WavInfo, start: int = 0, frames: Optional[int] = None,
             out: Optional[np.ndarray] = None) -> np.ndarray:
    """Decode the data chunk described by ``info`` to float32, exactly as soundfile does.

    Args:
        data (bytes): the whole file. info (WavInfo): its header, from :func:`parse_wav`.
        start (int): first frame to decode, >= 0. Default 0.
        frames (int, optional): frames to decode from ``start``; None (default) decodes to the end.
        out (ndarray, optional): float32 (C, frames) array to write into (a view will do, e.g. the
            valid part of a padded clip), sparing an intermediate copy; returned.

    Shape:
        output: (C, frames)

    Example:
        >>> import io, soundfile as sf
        >>> buf = io.BytesIO(); sf.write(buf, np.array([[0.5], [-1.0], [0.25]]), 8000, subtype="PCM_16", format="WAV")
        >>> read_wav(buf.getvalue(), parse_wav(buf.getvalue())).tolist()
        [[0.5, -1.0, 0.25]]
        >>> read_wav(buf.getvalue(), parse_wav(buf.getvalue()), start=1, frames=1).tolist()
        [[-1.0]]
    """
    if frames is None:
        frames = info.frames - start
    if start < 0 or frames < 0 or start + frames > info.frames:
        raise ValueError(f"start and frames must lie within the {info.frames} frames of the file, "
                         f"got start={start}, frames={frames}")
    c = info.channels
    n, offset = frames * c, info.data_offset + start * c * (info.bits // 8)
    if out is None:
        out = np.empty((c, frames), np.float32)
    elif out.shape != (c, frames) or out.dtype != np.float32:
        raise ValueError(f"out must be a float32 array of shape {(c, frames)}, got {out.dtype} {out.shape}")
    if info.bits == 24:
        raw = np.frombuffer(data, np.uint8, n * 3, offset).reshape(n, 3)
        wide = np.zeros((n, 4), np.uint8)
        wide[:, 1:] = raw  # little-endian int32 holding sample << 8, as libsndfile reads it
        src = wide.view("<i4").reshape(frames, c)
    else:
        src = np.frombuffer(data, _DTYPES[(info.format, info.bits)], n, offset).reshape(frames, c)
    if info.is_float:
        out[...] = src.T
    elif info.bits == 8:
        np.multiply(src.T.astype(np.float32) - np.float32(128), _SCALE[8], out=out)
    else:
        np.multiply(src.T, _SCALE[info.bits], out=out, casting="unsafe")
    return out
