"""Raw shard samples -> dataset items: decode, mono, resample, trim/pad, label, checks.

Item: ``{"waveform": float32 Tensor (C, T), "key", "label", "length" (valid samples before the
zero padding), "sr", "url"}``. Rejections, each a :class:`SampleError` for the policy:
``no_audio`` (no member soundfile reads), ``decode`` / ``empty`` / ``non_finite`` (from
:func:`decode_audio`), ``too_short`` (fewer valid samples than ``min_length``, or none at all
after ``offset``), ``silent`` (peak of the valid part <= ``silence``), ``bad_rate`` (a sample rate outside
[1000, 768000] Hz, or one whose ratio to the target needs more than 65536 polyphase phases),
``channels`` (``mono=False``: a channel count other than ``channels``, or than the first clip's),
``unexpected`` (any other exception raised while making the item), ``bad_label`` (a label member
that does not parse), ``missing_label`` (no label member while one is required).

Labels: a ``json`` member's ``"label"`` field, or the whole JSON value when it has no such field;
else a ``cls`` member as int; else a ``txt`` member as str; else None.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from math import gcd
from typing import Any, Callable, Dict, Iterable, Iterator, NamedTuple, Optional, Union

import numpy as np
import torch

from ._formats import AUDIO_EXTENSIONS
from ._decode import FlacInfo, decode_probed, flac_streaminfo, probe_audio, read_flac_window
from ._errors import ErrorPolicy, SampleError
from ._item import member
from .._checks import check_arg
from .._repr import changed, join
from ._resample import resample, resampled_length, source_window, to_mono
from .._seed import generator
from ._trim import CROPS, trim_pad, trim_window
from ._wav import WavInfo, read_wav

LABEL_EXTENSIONS = ("json", "cls", "txt")
MIN_RATE, MAX_RATE = 1000, 768_000  # Hz: sample rates accepted from a file
MAX_RATIO_TERM = 1 << 16  # largest up or down factor of a resampling ratio (the filter grows with it)
READ_EXTENSIONS = frozenset(AUDIO_EXTENSIONS + LABEL_EXTENSIONS)


@dataclass(frozen=True)
class ClipSpec:
    """What every clip becomes (the dataset's arguments of the same names), checked once here for
    the dataset, ``nd.wrap`` and ``nd.prepare_stage``."""

    sr: int
    offset: int = 0
    length: Optional[int] = None
    mono: bool = True
    crop: str = "start"
    min_length: Optional[int] = None
    silence: Optional[float] = 0.0
    require_label: bool = False
    channels: Optional[int] = None

    def __post_init__(self) -> None:
        sr, length, channels = self.sr, self.length, self.channels
        check_arg(isinstance(sr, int) and not isinstance(sr, bool) and sr > 0, "sr", "an int > 0", sr)
        if not MIN_RATE <= sr <= MAX_RATE:  # the bounds of a file's rate; 16 means 16 kHz, mistyped
            hint = f"did you mean sr={sr * 1000} (Hz, not kHz)?" if sr < 100 else "e.g. sr=16000 for speech"
            raise ValueError(f"sr must be a rate in Hz within [{MIN_RATE}, {MAX_RATE}] (as file rates are), "
                             f"got {sr}; {hint}")
        check_arg(isinstance(self.offset, int) and self.offset >= 0, "offset", "an int >= 0", self.offset)
        check_arg(length is None or (isinstance(length, int) and length > 0), "length", "None or an int > 0", length)
        check_arg(self.crop in CROPS, "crop", f"one of {CROPS}", self.crop)
        check_arg(channels is None or (isinstance(channels, int) and channels >= 1 and not self.mono), "channels",
                  "None, or an int >= 1 with mono=False", channels)
        check_arg(self.min_length is None or self.min_length >= 1, "min_length", "None or >= 1", self.min_length)
        check_arg(self.silence is None or self.silence >= 0, "silence", "None or >= 0", self.silence)

    def arguments(self) -> str:
        """``sr`` and the fields that differ from their defaults, for a ``repr``.

        Example:
            >>> ClipSpec(sr=8000, length=500).arguments()
            'sr=8000, length=500'
        """
        return join(changed(self, always=("sr",)))


def parse_label(sample: Dict[str, Any], url: str, key: str, required: bool) -> Any:
    """The label of a raw sample (see the module docstring); raises SampleError."""
    for ext in LABEL_EXTENSIONS:
        name = member(sample, (ext,))
        if name is None:
            continue
        raw = sample[name]
        try:
            if ext == "json":
                doc = json.loads(raw)
                return doc["label"] if isinstance(doc, dict) and "label" in doc else doc
            text = raw.decode("utf-8").strip()
            return int(text) if ext == "cls" else text
        except (ValueError, UnicodeDecodeError) as e:
            raise SampleError(url, key, "bad_label", f"{name}: {type(e).__name__}: {e}") from None
    if required:
        raise SampleError(url, key, "missing_label", "no json, cls or txt member")
    return None


def make_item(sample: Dict[str, Any], spec: ClipSpec, crop_gen: Optional[torch.Generator] = None) -> Dict[str, Any]:
    """One raw sample (``__key__``, ``__url__``, ext -> bytes) to an item; raises SampleError.

    Example:
        >>> import io, soundfile as sf
        >>> buf = io.BytesIO(); sf.write(buf, np.ones((800, 2)) * 0.5, 8000, format="WAV")
        >>> item = make_item({"__key__": "k", "__url__": "a.tar", "wav": buf.getvalue(), "cls": b"3"},
        ...                  ClipSpec(sr=4000, length=500))
        >>> tuple(item["waveform"].shape), item["length"], item["label"]
        ((1, 500), 400, 3)
    """
    url, key = str(sample["__url__"]), str(sample["__key__"])
    audio = member(sample, AUDIO_EXTENSIONS)
    if audio is None:
        members = sorted(k for k in sample if not k.startswith("__"))
        raise SampleError(url, key, "no_audio", f"no audio member among {members}")
    label = parse_label(sample, url, key, spec.require_label)
    data = sample[audio]
    info = probe_audio(data, url, key)
    if info is not None:  # check what the header says before decoding anything
        check_rate(info.sample_rate, spec.sr, url, key)
        _check_channels(info.channels, spec, url, key)
    flac = flac_streaminfo(data) if info is None else None
    src = _window_source(data, info, flac, url, key) if spec.length is not None else None
    if src is not None and _window_applies(src, spec):
        return _window_clip(src, spec, url, key, label, crop_gen)
    if src is not None and src.sample_rate != spec.sr:
        return _resampled_window_clip(src, spec, url, key, label, crop_gen)
    x, sr = decode_probed(data, info, url, key)
    check_rate(sr, spec.sr, url, key)
    _check_channels(x.shape[0], spec, url, key)
    return prepare_clip(x, sr, spec, url, key, label, crop_gen)


def check_rate(sr: int, target: int, url: str = "<bytes>", key: str = "?") -> None:
    """Refuse a sample rate read from a file ("bad_rate") outside [:data:`MIN_RATE`,
    :data:`MAX_RATE`] Hz, or whose ratio to ``target`` needs a polyphase filter longer than
    :data:`MAX_RATIO_TERM` phases: resampling it would allocate without bound.

    Example:
        >>> check_rate(44100, 16000)
        >>> check_rate(0, 16000, "a.tar", "k")
        Traceback (most recent call last):
        ...
        nnaudio_data.data._errors.SampleError: a.tar key='k': bad_rate: sample rate 0 Hz outside [1000, 768000]
    """
    if not MIN_RATE <= sr <= MAX_RATE:
        raise SampleError(url, key, "bad_rate", f"sample rate {sr} Hz outside [{MIN_RATE}, {MAX_RATE}]")
    g = gcd(sr, target)
    if max(sr, target) // g > MAX_RATIO_TERM:
        raise SampleError(url, key, "bad_rate", f"resampling {sr} -> {target} Hz needs a ratio of "
                          f"{target // g}/{sr // g}, past {MAX_RATIO_TERM} phases")


def _check_channels(c: int, spec: ClipSpec, url: str, key: str) -> None:
    if not spec.mono and spec.channels is not None and c != spec.channels:
        raise SampleError(url, key, "channels", f"{c} channels, channels={spec.channels}")


class _Source(NamedTuple):
    """A file decodable by window: ``read(a, out)`` decodes frames ``a`` to ``a + n`` straight
    into ``out`` (C, n) float32, and its header's numbers."""

    read: Callable[[int, np.ndarray], Any]
    frames: int
    channels: int
    sample_rate: int


def _window_source(data: bytes, info: Optional[WavInfo], flac: Optional[FlacInfo], url: str,
                   key: str) -> Optional[_Source]:
    """An integer PCM WAV with frames or a FLAC (nothing to check for NaN): a clip cut to a fixed
    length decodes only its window; None when the whole file must be decoded."""
    if info is not None and not info.is_float and info.frames > 0:
        return _Source(lambda a, out: read_wav(data, info, a, out.shape[1], out=out), info.frames, info.channels,
                       info.sample_rate)
    if flac is not None:
        return _Source(lambda a, out: read_flac_window(data, flac, a, out, url, key), flac.frames, flac.channels,
                       flac.sample_rate)
    return None


def _window_applies(src: Union[_Source, FlacInfo], spec: ClipSpec) -> bool:
    """Whether a source decodes window-only with no resampling: at the target rate, in the
    channels kept, cut to a fixed length."""
    return src.sample_rate == spec.sr and spec.length is not None and (src.channels == 1 or not spec.mono)


def _window_clip(src: _Source, spec: ClipSpec, url: str, key: str, label: Any,
                 crop_gen: Optional[torch.Generator]) -> Dict[str, Any]:
    """:func:`prepare_clip` of the whole decoded file, bit for bit, for a source at the target
    rate in the channels kept: only the kept window is decoded, straight into the padded clip
    (the window is sized by ``spec.length``, never by the header's frame count)."""
    assert spec.length is not None  # _window_applies
    start, valid = trim_window(src.frames, spec.offset, spec.length, spec.crop, crop_gen)
    clip = np.empty((src.channels, spec.length), np.float32)
    if valid:  # else nothing is kept: rejected as too short below
        src.read(start, clip[:, :valid])
    clip[:, valid:] = 0
    return _item(clip, valid, src.frames, spec, url, key, label)


def _resampled_window_clip(src: _Source, spec: ClipSpec, url: str, key: str, label: Any,
                           crop_gen: Optional[torch.Generator]) -> Dict[str, Any]:
    """:func:`prepare_clip` of the whole decoded file, bit for bit, decoding and resampling only
    the kept window and the resampling filter's reach around it (:func:`source_window`): a
    one-second clip of an hour-long file costs a second, not an hour."""
    assert spec.length is not None  # (make_item)
    total = resampled_length(src.frames, src.sample_rate, spec.sr)
    start, valid = trim_window(total, spec.offset, spec.length, spec.crop, crop_gen)
    clip = np.zeros((1 if spec.mono else src.channels, spec.length), np.float32)
    if valid:  # else nothing is kept: rejected as too short below
        a, b, o = source_window(start, valid, src.frames, src.sample_rate, spec.sr)
        x = np.empty((src.channels, b - a), np.float32)
        src.read(a, x)
        x = resample(to_mono(x) if spec.mono else x, src.sample_rate, spec.sr, first=a)
        clip[:, :valid] = x[:, start - o:start - o + valid]
    return _item(clip, valid, total, spec, url, key, label)


def prepare_clip(x: np.ndarray, sr: int, spec: ClipSpec, url: str, key: str, label: Any,
                 crop_gen: Optional[torch.Generator] = None) -> Dict[str, Any]:
    """A decoded (C, T) waveform at ``sr`` Hz to an item: mono -> resample -> trim/pad -> checks.

    The one clip path shared by :class:`ShardedAudioDataset` and :func:`nnaudio_data.wrap`;
    raises SampleError ("too_short", "silent").
    """
    if spec.mono:
        x = to_mono(x)
    x = resample(x, sr, spec.sr)
    clip, valid = trim_pad(x, spec.offset, spec.length, spec.crop, crop_gen)
    return _item(clip, valid, x.shape[-1], spec, url, key, label)


def _item(clip: np.ndarray, valid: int, source: int, spec: ClipSpec, url: str, key: str,
          label: Any) -> Dict[str, Any]:
    """The checks on a cut clip (``source`` samples long before the cut), then the item."""
    if valid == 0 or (spec.min_length is not None and valid < spec.min_length):
        raise SampleError(url, key, "too_short", f"{valid} valid samples after offset {spec.offset}"
                          f" (min_length={spec.min_length}, source {source} at {spec.sr} Hz)")
    if spec.silence is not None and _peak_at_most(clip, valid, spec.silence):
        raise SampleError(url, key, "silent", f"peak <= silence={spec.silence}")
    return {"waveform": torch.from_numpy(clip), "key": key, "label": label, "length": valid,
            "sr": spec.sr, "url": url}


def _peak_at_most(clip: np.ndarray, valid: int, level: float) -> bool:
    """Whether the peak magnitude of the ``valid`` first samples is <= ``level`` (False when one
    is NaN). The first 1024 samples are looked at first: audio that is not silent almost always
    says so there, which spares a pass over the whole clip."""
    if not float(np.abs(clip[:, :min(valid, 1024)]).max()) <= level:
        return False
    return float(np.abs(clip[:, :valid]).max()) <= level


def make_items(src: Iterable[Dict[str, Any]], spec: ClipSpec, policy: ErrorPolicy, seed: int = 0, epoch: int = 0,
               make: Callable[..., Dict[str, Any]] = make_item) -> Iterator[Dict[str, Any]]:
    """Stream stage: raw samples -> items, rejections to ``policy`` (any exception raised by one
    sample, not only :class:`SampleError`, becomes its skip: "unexpected"). With ``mono=False``
    and no ``channels``, the first clip delivered fixes the channel count of the stream: later
    clips with another count are skipped ("channels"), so a batch never mixes counts. A random crop draws from a
    generator seeded by (seed, epoch, shard, index), so it does not depend on the worker split.
    Items keep the raw sample's ``__shard__`` and ``__index__``; ``make`` makes one (.window_stream's reads windows)."""
    for sample in src:
        gen = None
        if spec.crop == "random":
            gen = generator(seed, epoch, 0, 0, "crop", int(sample.get("__shard__", 0)), int(sample["__index__"]))
        try:
            item = make(sample, spec, gen)
        except Exception as e:  # noqa: BLE001  (bytes from a shard: any failure is this sample's)
            err = e if isinstance(e, SampleError) else SampleError(
                str(sample.get("__url__")), str(sample.get("__key__")), "unexpected", f"{type(e).__name__}: {e}")
            err.index = sample["__index__"]
            policy.handle(err)
            continue
        if not spec.mono and spec.channels is None:  # the first clip fixes the count for the stream
            spec = replace(spec, channels=int(item["waveform"].shape[0]))
        item["__shard__"], item["__index__"] = sample.get("__shard__", 0), sample["__index__"]
        yield item
