"""Reading windows: a windowed shard's tar members -> one raw sample per owned window -> items.

The plan deals *units* (:mod:`._windows`); the tar holds members. For a windowed shard the reader
(:func:`~.stream.samples`) asks the tar for the members of which it owns at least one unit
(:meth:`~.windows.Table.keep_members`), turns each member read into one raw sample per owned
unit (:func:`expand`, ``__index__`` the unit), and reports an error of a member once per owned
unit (:class:`UnitErrors`): every unit ends delivered or skipped, once, as a clip does.

A window's item (:func:`window_or_clip`) decodes only the window, from the member's bytes or, on a
local uncompressed shard, a :class:`~.memberview.MemberView` read where it lies: a PCM or float
WAV by its header (the window's bytes alone), any other file by a ``soundfile`` seek to the
window's first frame and a read of its frames; the window then takes the one
clip path (:func:`~.samples.prepare_clip`: mono, resample, trim/pad, checks), its key
``KEY#k``. Rejections: those of a clip, and ``window_past_end`` (the index places the window past
the recording's end: a stale or hostile index).
"""
from __future__ import annotations

import copy
import io
from dataclasses import replace
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Union, cast

import numpy as np
import soundfile as sf
import torch

from ._errors import ErrorPolicy, SampleError
from ._formats import AUDIO_EXTENSIONS
from ._memberview import MemberView
from ._samples import check_rate, make_item, parse_label, prepare_clip, ClipSpec
from ._wav import WavInfo, WavTruncated, parse_wav, read_wav
from ._windows import Table, segment_label, window_span

WAV_HEADER_BYTES = 1 << 16  # bytes read for a WAV member view's header (a longer header: soundfile)


class UnitErrors(ErrorPolicy):
    """The policy the tar reader of a windowed shard reports to: an error of member ``j`` is
    handed on once per unit of ``j`` that ``keep`` owns (an error without an index, of a whole
    shard, once)."""

    def __init__(self, inner: ErrorPolicy, table: Table, keep: Callable[[int], bool]):
        self.inner, self.table, self.keep = inner, table, keep
        self.on_error, self.stats = inner.on_error, inner.stats

    def handle(self, err: SampleError) -> None:
        if err.index is None:
            self.inner.handle(err)
            return
        for u in self.table.units_of(err.index):
            if self.keep(u):
                one = copy.copy(err)
                one.index = u
                self.inner.handle(one)


def expand(sample: Dict[str, Any], table: Table, keep: Callable[[int], bool]) -> Iterator[Dict[str, Any]]:
    """Stream stage for one member read: a raw sample per unit of it that ``keep`` owns, with
    ``__index__`` the unit and ``__window__`` (entry, window number) when it is a window."""
    j = int(sample["__index__"])
    entry = table.entries[j] if j < table.members else None
    first = table.units_of(j).start
    for u in table.units_of(j):
        if keep(u):
            out = {**sample, "__index__": u}
            if entry is not None:
                out["__window__"] = (entry, u - first)
            yield out


def window_or_clip(sample: Dict[str, Any], spec: ClipSpec,
                   crop_gen: Optional[torch.Generator] = None) -> Dict[str, Any]:
    """The item of a raw sample: a window's (:func:`window_item`), else the whole clip's
    (:func:`~.samples.make_item`)."""
    if "__window__" in sample:
        return window_item(sample, spec, crop_gen)
    return make_item(sample, spec, crop_gen)


def window_item(sample: Dict[str, Any], spec: ClipSpec, crop_gen: Optional[torch.Generator] = None) -> Dict[str, Any]:
    """Window ``k`` of a member, decoded alone, as an item (key ``KEY#k``; the segment's label,
    else the member's); raises SampleError."""
    url = str(sample["__url__"])
    entry, k = cast(Tuple[Dict[str, Any], int], sample["__window__"])
    key = f"{sample['__key__']}#{k}"
    audio = next((n for n in sample if not n.startswith("__") and n.rsplit(".", 1)[-1] in AUDIO_EXTENSIONS), None)
    if audio is None:
        raise SampleError(url, key, "no_audio", f"no audio member among {sorted(n for n in sample if n[:2] != '__')}")
    label = segment_label(entry, k)
    if label is None:
        label = parse_label(sample, url, key, spec.require_label)
    x, rate = read_window(sample[audio], entry, k, spec, url, key)
    return prepare_clip(x, rate, spec, url, key, label, crop_gen)


def read_window(data: Union[bytes, MemberView], entry: Dict[str, Any], k: int, spec: ClipSpec,
                url: str = "<bytes>", key: str = "?") -> Tuple[np.ndarray, int]:
    """Window ``k`` of ``entry`` in the audio ``data``: ((C, n) float32, the file's rate), reading
    only its frames: a PCM or float WAV by its header (:mod:`._wav`: the window's bytes alone,
    soundfile's values bit for bit), any other file by a ``soundfile`` seek, then read.

    Example:
        >>> buf = io.BytesIO(); sf.write(buf, np.arange(1000) / 1000, 1000, format="FLAC", subtype="PCM_16")
        >>> x, rate = read_window(buf.getvalue(), {"segments": [[0.5, 0.51]]}, 0, ClipSpec(sr=1000))
        >>> x.shape, rate, round(float(x[0, 0]), 2)
        ((1, 10), 1000, 0.5)
    """
    if not isinstance(data, MemberView) and len(data) == 0:
        raise SampleError(url, key, "empty", "zero-byte audio member")
    try:
        wav = _wav_header(data)
        if wav is not None:
            a, b = _span(entry, k, spec, wav.sample_rate, wav.frames, wav.channels, url, key)
            x, rate = _wav_window(data, wav, a, b), wav.sample_rate
        else:
            f = data.open() if isinstance(data, MemberView) else io.BytesIO(data)
            with f, sf.SoundFile(f) as snd:
                rate = int(snd.samplerate)
                a, b = _span(entry, k, spec, rate, int(snd.frames), int(snd.channels), url, key)
                snd.seek(a)
                x = snd.read(b - a, dtype="float32", always_2d=True).T
    except SampleError:
        raise
    except Exception as e:  # noqa: BLE001  (bytes from a shard: any failure to decode is this window's)
        raise SampleError(url, key, "decode", f"{type(e).__name__}: {e}") from None
    if x.shape[1] < b - a:
        raise SampleError(url, key, "truncated", f"window {k}: the header promises frames up to {b}, "
                          f"reading [{a}, {b}) gave {x.shape[1]}")
    if not np.isfinite(x).all():
        raise SampleError(url, key, "non_finite", "NaN or inf samples")
    return np.ascontiguousarray(x), rate


def _span(entry: Dict[str, Any], k: int, spec: ClipSpec, rate: int, frames: int, channels: int,
          url: str, key: str) -> Tuple[int, int]:
    """The frames ``[a, b)`` of window ``k``, after the checks of the file's rate and channels."""
    check_rate(rate, spec.sr, url, key)
    if not spec.mono and spec.channels is not None and channels != spec.channels:
        raise SampleError(url, key, "channels", f"{channels} channels, channels={spec.channels}")
    a, b = window_span(entry, k, frames, rate)
    if not 0 <= a < b <= frames:
        raise SampleError(url, key, "window_past_end", f"window {k} spans frames [{a}, {b}) of a "
                          f"recording of {frames} frames at {rate} Hz: the index describes another file")
    return a, b


def _wav_header(data: Union[bytes, MemberView]) -> Optional[WavInfo]:
    """The WAV header of ``data`` when the fast path reads it; None for any other file, and for a
    broken WAV (soundfile then says what it holds, as before the fast path)."""
    try:
        if isinstance(data, MemberView):
            with data.open() as f:
                head = f.read(12)
                if head[:4] != b"RIFF" or head[8:] != b"WAVE":
                    return None  # not a WAV: no more bytes read
                return parse_wav(head + f.read(WAV_HEADER_BYTES - 12), size=data.size)
        return parse_wav(data)
    except WavTruncated:
        return None


def _wav_window(data: Union[bytes, MemberView], wav: WavInfo, a: int, b: int) -> np.ndarray:
    """Frames ``[a, b)`` of a WAV with header ``wav``: (C, b - a) float32; from a member view,
    one read of the window's bytes."""
    if not isinstance(data, MemberView):
        return read_wav(data, wav, a, b - a)
    block = wav.channels * wav.bits // 8
    with data.open() as f:
        f.seek(wav.data_offset + a * block)
        raw = f.read((b - a) * block)
    got = len(raw) // block
    return read_wav(raw, replace(wav, data_offset=0, frames=got), 0, got)
