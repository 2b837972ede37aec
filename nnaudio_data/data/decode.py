"""Decode one audio member of a shard with soundfile: bytes -> float32 (C, T) and its rate."""
from __future__ import annotations

import io
from typing import Tuple

import numpy as np
import soundfile as sf

from .errors import SampleError

# extensions treated as audio members of a sample (soundfile reads these through libsndfile)
AUDIO_EXTENSIONS = ("flac", "wav", "ogg", "opus", "mp3", "aiff", "aif", "au", "w64", "caf", "sph")


def decode_audio(data: bytes, url: str = "<bytes>", key: str = "?") -> Tuple[np.ndarray, int]:
    """Decode encoded audio bytes.

    Args:
        data (bytes): the encoded file (WAV, FLAC, OGG, ... anything libsndfile reads).
        url (str): shard URL, for error messages. key (str): sample key, for error messages.

    Returns:
        (waveform, sample_rate): float32 array of shape (C, T), and an int rate.

    Raises:
        SampleError: reason "empty" (zero bytes), "decode" (unreadable), "non_finite" (NaN/inf).

    Example:
        >>> buf = io.BytesIO(); sf.write(buf, np.zeros((100, 2)), 8000, format="WAV")
        >>> x, sr = decode_audio(buf.getvalue()); x.shape, x.dtype, sr
        ((2, 100), dtype('float32'), 8000)
    """
    if len(data) == 0:
        raise SampleError(url, key, "empty", "zero-byte audio member")
    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile raises LibsndfileError / RuntimeError / TypeError
        raise SampleError(url, key, "decode", f"{type(e).__name__}: {e}") from None
    if not np.isfinite(x).all():
        raise SampleError(url, key, "non_finite", "NaN or inf samples")
    return np.ascontiguousarray(x.T), int(sr)
