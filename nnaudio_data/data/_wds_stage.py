"""webdataset and nnaudio_data meet: our clip preparation as a webdataset stage (:func:`prepare_stage`),
and our collate as the ``collate_fn`` of a ``wds.WebDataset`` pipeline (``_stack.py`` reads
webdataset's decoded dicts and ``.to_tuple(...)`` tuples).

A user with a webdataset pipeline adds only the collate, or also this stage::

    ds = (wds.WebDataset(urls).map(nd.prepare_stage(sr=16000, length=16000))   # bytes -> clip
          .to_tuple("waveform", "label"))
    loader = wds.WebLoader(ds, batch_size=32, num_workers=4,
                           collate_fn=nd.GPUSpectrogramCollate("mel", sr=16000))

What ``nnaudio_data.data`` reimplements from webdataset, and why (the reasons; a figure only
from ``nnaudio-data bench``, none is typed here):

- the tar reader (``data/_tar.py``, ``data/_tar_samples.py``): it seeks past the samples this rank
  and worker do not own instead of reading their bytes, and reads only the members the clip needs; webdataset's
  ``tariterators`` reads every byte of a shard through ``tarfile``. It also bounds every size
  read from a header and loses only the sample being read on truncation (docs/data.md).
- the split (``data/_assign.py``): every sample exactly once per epoch across ranks x workers, also
  within shards, so that fewer shards than ranks x workers still work and every rank gets equal
  batches; webdataset's ``split_by_node`` / ``split_by_worker`` hand out whole shards.
- the clip preparation (decode with the window-only WAV/FLAC paths, mono, polyphase resample,
  trim/pad/crop, named skips): webdataset has no audio preparation beyond its decoders; this
  module hands ours to webdataset users.

What is webdataset's alone: writing shards (``wds.TarWriter``, in ``authoring/_writer.py``), and every
stage of a user's own ``wds.WebDataset`` pipeline. Two small stages exist on both sides and stay
ours, for behaviour, not speed: the ``pipe:`` opener (``data/_open.py``), whose exit status
becomes a counted ``pipe`` skip under the one error policy, after the stream is read to its end;
and the shuffle buffer (``data/_reorder.py``), seeded by ``derive_seed(seed, epoch, rank, worker,
"shuffle")`` so that ranks differ and reruns repeat bit for bit. ``braceexpand`` (shard patterns,
``data/_shards.py``) is a declared dependency.
"""
from __future__ import annotations

import zlib
from typing import Any, Dict, Iterable, Iterator, Optional

import numpy as np
import torch

from .._seed import generator
from ._errors import ErrorPolicy, SampleError
from .._checks import check_arg
from .._repr import changed, simple_repr
from ._item import AUDIO_ENTRIES, LABEL_ENTRIES, RATE_FIELDS, first_field, member
from ._samples import ClipSpec, make_item, parse_label, prepare_clip


class PrepareStage:
    """Decode, mono, resample and trim/pad one webdataset sample: ``.map(stage)``, or
    ``.compose(stage.stream)`` for the named-skip policy. Picklable (plain attributes), so it
    travels to DataLoader workers under fork, spawn and forkserver.

    Made by :func:`prepare_stage`; see there for the arguments.
    """

    def __init__(self, clip: ClipSpec, seed: int = 0, on_error: str = "raise"):
        self.clip, self.seed, self.epoch, self.on_error = clip, seed, 0, on_error

    def set_epoch(self, epoch: int) -> None:
        """Fold ``epoch`` into the random crops (call before each epoch's iterator is made)."""
        self.epoch = int(epoch)

    def _crop_generator(self, url: str, key: str) -> Optional[torch.Generator]:
        if self.clip.crop != "random":
            return None  # a sample's crop depends on (seed, epoch, url, key), not on the worker split
        return generator(self.seed, self.epoch, 0, 0, "crop", zlib.crc32(url.encode()), zlib.crc32(key.encode()))

    def __call__(self, sample: Dict[str, Any]) -> Dict[str, Any]:
        """One sample (raw bytes members, or decoded: an array or a ``(waveform, sr)`` pair) to an
        item ``{"waveform" (C, T) float32, "key", "label", "length", "sr", "url", "__key__",
        "__url__"}``; raises :class:`SampleError` (url, key, reason) for a rejected one."""
        if not isinstance(sample, dict) or "__key__" not in sample:
            raise TypeError(f"sample must be a webdataset dict with '__key__', got {type(sample).__name__}"
                            + (f" with keys {sorted(sample)}" if isinstance(sample, dict) else ""))
        url, key = str(sample.get("__url__", "<webdataset>")), str(sample["__key__"])
        name = member(sample, AUDIO_ENTRIES)
        gen = self._crop_generator(url, key)
        if name is None or isinstance(sample[name], (bytes, bytearray)):
            item = make_item({**sample, "__url__": url}, self.clip, gen)
        else:
            item = self._decoded(sample, name, url, key, gen)
        item["__key__"], item["__url__"] = key, url
        return item

    def _decoded(self, sample: Dict[str, Any], name: str, url: str, key: str,
                 gen: Optional[torch.Generator]) -> Dict[str, Any]:
        value, sr = sample[name], first_field(sample, RATE_FIELDS)
        if isinstance(value, (tuple, list)) and len(value) == 2:
            value, sr = value
        if sr is None:
            raise SampleError(url, key, "decode", f"entry {name!r} is decoded but carries no rate: give "
                              "(waveform, sr) or an 'sr' entry, or map this stage before .decode()")
        x = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        x = np.asarray(x[None] if x.ndim == 1 else x, np.float32)
        if x.ndim != 2 or not np.isfinite(x).all():
            raise SampleError(url, key, "decode", f"entry {name!r}: a finite (T,) or (C, T) waveform "
                              f"is needed, got shape {x.shape}")
        raw = next((k for k in LABEL_ENTRIES if k in sample), None)
        label = (parse_label({"cls": sample[raw]}, url, key, self.clip.require_label)
                 if raw is not None and isinstance(sample[raw], bytes) else
                 sample[raw] if raw is not None else parse_label(sample, url, key, self.clip.require_label))
        return prepare_clip(x, int(sr), self.clip, url, key, label, gen)

    def stream(self, src: Iterable[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
        """The stage over a stream (``.compose(stage.stream)``): rejected samples go to the
        ``on_error`` policy ("warn": a :class:`SampleWarning` naming url, key and reason, then
        skip; "skip"; "raise"), counted in ``self.policy.stats`` of the process that ran it."""
        for sample in src:
            item = self.policy.attempt(self, sample)
            if item is not None:
                yield item

    @property
    def policy(self) -> ErrorPolicy:
        if "_policy" not in self.__dict__:
            self.__dict__["_policy"] = ErrorPolicy(self.on_error)
        return self.__dict__["_policy"]

    def __getstate__(self) -> Dict[str, Any]:  # counts stay in the process that made them
        return {k: v for k, v in self.__dict__.items() if k != "_policy"}

    def __repr__(self) -> str:
        seed = [("seed", self.seed)] if self.seed else []
        return simple_repr(self, changed(self.clip, always=("sr",)) + seed, name="prepare_stage")


def prepare_stage(sr: int, length: Optional[int] = None, offset: int = 0, mono: bool = True,
                  crop: str = "start", min_length: Optional[int] = None, silence: Optional[float] = 0.0,
                  require_label: bool = False, seed: int = 0, on_error: str = "raise") -> PrepareStage:
    """Our clip preparation (the one :class:`ShardedAudioDataset` runs) as a webdataset stage.

    Args:
        sr (int): target sample rate; clips at other rates are resampled (polyphase). > 0.
        length (int, optional): clip length in samples after the cut; shorter clips are
            zero-padded (``length`` in the item says how many samples are real). Default: whole clips.
        offset (int): samples skipped at the start. Default 0.
        mono (bool): average the channels. Default True.
        crop (str): where a longer clip is cut: "start", "center" or "random" (seeded by
            (seed, epoch, url, key): the same for a sample whatever the worker). Default "start".
        min_length (int, optional): reject clips with fewer real samples ("too_short").
        silence (float, optional): reject clips whose peak is <= this ("silent"); None keeps all.
            Default 0.0 (all-zero clips are rejected).
        require_label (bool): reject samples without a label ("missing_label"). Default False.
        seed (int): seed of the random crops. Default 0.
        on_error (str): for :meth:`PrepareStage.stream`: "warn", "skip" or "raise". ``.map(stage)``
            raises; pass webdataset's ``handler=`` (e.g. ``wds.warn_and_continue``) to skip there.

    Shape:
        item["waveform"]: (C, T), C = 1 when ``mono``, T = ``length`` when given

    Example:
        >>> import io, soundfile as sf
        >>> buf = io.BytesIO(); sf.write(buf, np.full((800, 2), 0.5), 8000, format="WAV")
        >>> stage = prepare_stage(sr=4000, length=500)
        >>> item = stage({"__key__": "a", "__url__": "s.tar", "wav": buf.getvalue(), "cls": b"3"})
        >>> tuple(item["waveform"].shape), item["length"], item["label"], item["__key__"]
        ((1, 500), 400, 3, 'a')
    """
    spec = ClipSpec(sr=sr, offset=offset, length=length, mono=mono, crop=crop, min_length=min_length,
                    silence=silence, require_label=require_label)
    check_arg(isinstance(seed, int) and seed >= 0, "seed", "an int >= 0", seed)
    ErrorPolicy(on_error)  # validates on_error
    return PrepareStage(spec, seed, on_error)
