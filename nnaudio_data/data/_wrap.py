"""Wrap an existing dataset (torchaudio-style tuples, Hugging Face-style dicts, or file paths) so
its items come out as ShardedAudioDataset's do: resampled, mono (optional), trimmed / padded.

Items in, one of:

- tuples ``(waveform, sample_rate, label, ...)`` as torchaudio's datasets return (waveform a
  Tensor or ndarray, (C, T) or (T,));
- dicts with an audio field ``{"array": ndarray, "sampling_rate": int}`` as Hugging Face datasets
  return (also ``{"bytes": ...}`` / ``{"path": ...}`` when not decoded, or a decoder object with
  ``get_all_samples()``), and a label field;
- file paths (str / PathLike), decoded with soundfile.

Items out: ``{"waveform": float32 Tensor (C, T), "key": str, "label": Any, "length": int,
"sr": int, "url": str}``. A map-style dataset stays map-style, an iterable one stays iterable.
NumPy scalars (a Hugging Face dataset in ``"numpy"`` format) come out as Python numbers, so
integer labels collate to an int64 tensor. A Hugging Face ``ClassLabel`` label column gives
``ds.classes`` (its names, a label id's name at its position).

Labels as class ids, as ShardedAudioDataset gives them: ``labels="auto"`` finds the class names
once, at :func:`wrap`, without decoding audio (a Hugging Face label column, torchaudio's
``get_metadata(i)``, or the items of a plain list), sorts them into ``ds.classes`` and maps each
item's name to its int id (int64 once collated); ``labels=[names]`` gives the list; the default
``"raw"`` leaves labels as the source gives them. A name not in the classes is that item's
``unknown_label`` skip (see :mod:`._labels`, whose maps these are).

Bad items follow the :class:`ErrorPolicy`. An iterable dataset drops them (counted, warned under
"warn"). A map-style one cannot drop an index, so under "warn" / "skip" ``dataset[i]`` returns
``None`` for a bad item (counted, warned under "warn") and :func:`nnaudio_data.collate_audio`
leaves Nones out of the batch, counting them in ``batch.dropped``; under "raise" it raises.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from .._seed import generator
from ._decode import decode_audio
from ._errors import ErrorPolicy, SampleError
from ._item import KEY_FIELDS, first_field
from ._labels import LabelMap, label_space, resolve_labels
from ._samples import ClipSpec, prepare_clip



def _plain(x: Any) -> Any:
    """A NumPy scalar or 0-d array as the Python number it holds; anything else unchanged."""
    if isinstance(x, np.generic) or (isinstance(x, np.ndarray) and x.ndim == 0):
        return x.item()
    return x


def _array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _read_path(path: Any, url: str, key: str) -> Tuple[np.ndarray, int]:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SampleError(url, key, "missing_file", f"{type(e).__name__}: {e.strerror or e}") from None
    return decode_audio(data, url, key, ext=Path(path).suffix.lstrip("."))


def _from_audio_field(audio: Any, url: str, key: str) -> Tuple[np.ndarray, Any]:
    """(waveform, rate as found): the caller checks the rate ("sample_rate")."""
    if hasattr(audio, "get_all_samples"):  # a decoder object (datasets >= 4, torchcodec)
        samples = audio.get_all_samples()
        return _array(samples.data), int(samples.sample_rate)
    if not isinstance(audio, dict):
        raise SampleError(url, key, "missing_audio", f"audio field holds a {type(audio).__name__}")
    if audio.get("array") is not None:
        return _array(audio["array"]), audio.get("sampling_rate")
    if audio.get("bytes"):
        return decode_audio(audio["bytes"], url, key, ext=Path(audio.get("path") or "").suffix.lstrip("."))
    if audio.get("path"):
        return _read_path(audio["path"], url, key)
    raise SampleError(url, key, "missing_audio", f"audio dict has none of array/bytes/path: {sorted(audio)}")


class _Prepare:
    """Turns one source item into the sample dict; raises SampleError for a bad item."""

    def __init__(self, url: str, sr: int, offset: int, length: Optional[int], mono: bool, crop: str,
                 seed: int, audio_field: str, label_field: str, label_map: Optional[LabelMap] = None):
        self.clip = ClipSpec(sr=sr, offset=offset, length=length, mono=mono, crop=crop, silence=None)
        self.url, self.sr, self.crop, self.label_map = url, sr, crop, label_map
        self.seed, self.audio_field, self.label_field, self.epoch = seed, audio_field, label_field, 0

    def _parse(self, item: Any, index: int) -> Tuple[np.ndarray, Any, Any, str, str]:
        """(waveform, rate, label, key, url) of a source item."""
        key, url = str(index), self.url
        if isinstance(item, (str, os.PathLike)):
            url = key = os.fspath(item)
            return (*_read_path(item, url, key), None, key, url)
        if isinstance(item, dict):
            key = str(first_field(item, KEY_FIELDS, key))
            if self.audio_field not in item:
                raise SampleError(url, key, "missing_audio", f"no {self.audio_field!r} field in {sorted(item)}")
            x, rate = _from_audio_field(item[self.audio_field], url, key)
            return x, rate, item.get(self.label_field), key, url
        if isinstance(item, (tuple, list)) and len(item) >= 2:
            return _array(item[0]), item[1], item[2] if len(item) > 2 else None, key, url
        raise SampleError(url, key, "item_type", f"expected a (waveform, sample_rate, ...) tuple, a dict "
                                                 f"or a path, got {type(item).__name__}")

    def __call__(self, item: Any, index: int) -> Dict[str, Any]:
        x, rate, label, key, url = self._parse(item, index)
        if isinstance(rate, torch.Tensor):
            rate = rate.item()
        rate, label = _plain(rate), _plain(label)
        if self.label_map is not None:
            label = self.label_map.encode(label, url, key)
        if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
            raise SampleError(url, key, "sample_rate", f"sample rate must be a positive int, got {rate!r}")
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2:
            raise SampleError(url, key, "shape", f"waveform must be (T,) or (C, T), got shape {x.shape}")
        if x.shape[1] == 0:
            raise SampleError(url, key, "empty", "zero samples")
        if not np.isfinite(x).all():
            raise SampleError(url, key, "non_finite", "NaN or inf samples")
        gen = None
        if self.crop == "random":
            gen = generator(self.seed, self.epoch, 0, 0, "crop", index)
        return prepare_clip(np.ascontiguousarray(x, dtype=np.float32), int(rate), self.clip, url, key,
                            label, gen)


class _Wrapped:
    """What both wrappers share: the source, the item preparation and the error policy."""

    def __init__(self, source: Any, prepare: _Prepare, on_error: str):
        self.source, self.prepare, self.policy = source, prepare, ErrorPolicy(on_error)

    def _prepare(self, item: Any, index: int) -> Optional[Dict[str, Any]]:
        """The sample, or None (counted, and warned under "warn") for a bad item."""
        return self.policy.attempt(self.prepare, item, index)

    @property
    def classes(self) -> Optional[List[str]]:
        """The class names, a label id's name at its position: those of ``labels=`` when labels
        are mapped, else a Hugging Face ``ClassLabel`` column's (None for other sources)."""
        if self.prepare.label_map is not None:
            return list(self.prepare.label_map.classes)
        features = getattr(self.source, "features", None)
        get = getattr(features, "get", None)
        feature = get(self.prepare.label_field) if get is not None else None
        names = getattr(feature, "names", None)
        return list(names) if isinstance(names, (list, tuple)) and type(feature).__name__ == "ClassLabel" else None

    def set_epoch(self, epoch: int) -> None:
        """Vary ``crop="random"`` windows by epoch (they depend on seed, epoch and item index only)."""
        self.prepare.epoch = int(epoch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.source).__name__}, sr={self.prepare.sr}, {self.policy!r})"


class WrappedDataset(_Wrapped, Dataset):
    """Map-style result of :func:`wrap`: ``len`` and ``[i]`` as the source; None for a bad item
    unless ``on_error="raise"``."""

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> Optional[Dict[str, Any]]:
        return self._prepare(self.source[index], index)


class WrappedIterableDataset(_Wrapped, IterableDataset):
    """Iterable result of :func:`wrap`; bad items are dropped (and counted) unless ``on_error="raise"``.

    With DataLoader workers, a source that is a torch ``IterableDataset`` is trusted to split its
    items among workers itself (torch's contract); any other iterable is split here, round robin.
    Item indices (default keys, random crop seeds) are positions in the source stream; for a
    self-splitting source, ``position * num_workers + worker id``, unique across workers.
    """

    def __init__(self, source: Any, prepare: _Prepare, on_error: str, split_workers: Optional[bool] = None):
        super().__init__(source, prepare, on_error)
        self.split_workers = (not isinstance(source, IterableDataset)) if split_workers is None else split_workers

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        info = get_worker_info()
        workers, wid = (info.num_workers, info.id) if info is not None else (1, 0)
        for pos, item in enumerate(self.source):
            if self.split_workers and pos % workers != wid:
                continue
            out = self._prepare(item, pos if self.split_workers else pos * workers + wid)
            if out is not None:
                yield out


def _source_labels(dataset: Any, label_field: str) -> Optional[List[Any]]:
    """Every item's label, read without decoding audio; None when the source offers no such way."""
    if label_field in (getattr(dataset, "column_names", None) or ()):  # a Hugging Face dataset
        return [_plain(x) for x in dataset[label_field]]
    if callable(getattr(dataset, "get_metadata", None)) and hasattr(dataset, "__len__"):  # torchaudio
        return [_plain(dataset.get_metadata(i)[2]) for i in range(len(dataset))]
    if isinstance(dataset, (list, tuple)):
        return [_plain(item.get(label_field) if isinstance(item, dict) else
                       item[2] if isinstance(item, (tuple, list)) and len(item) > 2 else None)
                for item in dataset]
    return None


def _label_map(dataset: Any, labels: Any, label_field: str) -> Optional[LabelMap]:
    """The map of ``wrap(labels=...)``: "raw" none, a list of names those, "auto" the sorted names
    found by :func:`_source_labels` (none when the labels are int ids already)."""
    if isinstance(labels, str) and labels == "auto":
        found = _source_labels(dataset, label_field)
        if found is None:
            raise ValueError(f"labels='auto' needs the labels without decoding audio, which "
                             f"{type(dataset).__name__} does not offer (no label column, no "
                             "get_metadata(i), not a list); pass labels=[class names] or labels='raw'")
        names, multi = label_space(found)
        return None if names is None else LabelMap(names, multi)
    return resolve_labels(labels, None)


def wrap(dataset: Any, sr: int, offset: int = 0, length: Optional[int] = None, mono: bool = True,
         crop: str = "start", seed: int = 0, on_error: str = "warn", audio_field: str = "audio",
         label_field: str = "label", split_workers: Optional[bool] = None, name: Optional[str] = None,
         labels: Any = "raw"):
    """Wrap a dataset of audio items so they come out as ShardedAudioDataset's samples.

    Args:
        dataset: map-style (``len`` and ``[i]``) or iterable dataset of tuples, dicts or paths.
        sr (int): output sample rate, Hz. offset (int): samples to skip (at ``sr``). Default 0.
        length (int, optional): samples to keep (zero-padded if short); None keeps all.
        mono (bool): average channels to one. Default True.
        crop (str): "start" (default), "center" or "random" window placement.
        seed (int): seed of ``crop="random"`` (with the epoch and the item index). Default 0.
        on_error (str): "warn" (default), "skip" or "raise"; see the module docstring.
        audio_field (str), label_field (str): dict fields. Defaults "audio", "label".
        split_workers (bool, optional): iterable sources only; see :class:`WrappedIterableDataset`.
        name (str, optional): the ``url`` of samples and errors. Default: the dataset's class name.
        labels (str | list[str]): "raw" (default) keeps labels as the source gives them; "auto"
            maps class names to int ids, the names found once here (sorted) and kept in
            ``ds.classes``; a list of names maps each name to its position in it.

    Shape:
        output waveform: (C, length) with C = 1 when ``mono``

    Example:
        >>> ds = wrap([(torch.ones(2, 800), 8000, 3)], sr=16000, length=2000)
        >>> s = ds[0]; s["waveform"].shape, s["length"], s["label"], s["sr"], len(ds)
        (torch.Size([1, 2000]), 1600, 3, 16000, 1)
        >>> words = wrap([(torch.ones(800), 8000, "yes"), (torch.ones(800), 8000, "no")], sr=8000,
        ...              labels="auto")
        >>> words.classes, words[0]["label"], words[1]["label"]
        (['no', 'yes'], 1, 0)
    """
    prepare = _Prepare(name or type(dataset).__name__, sr, offset, length, mono, crop, seed, audio_field,
                       label_field, _label_map(dataset, labels, label_field))
    if not isinstance(dataset, IterableDataset) and hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
        return WrappedDataset(dataset, prepare, on_error)
    if hasattr(dataset, "__iter__"):
        return WrappedIterableDataset(dataset, prepare, on_error, split_workers)
    raise TypeError(f"dataset must be map-style (__len__ and __getitem__) or iterable, got {type(dataset).__name__}")
