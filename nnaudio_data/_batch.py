"""AudioBatch: what the collate stage hands to the training loop.

Fields: ``waveform`` (B, C, T) zero-padded, ``lengths`` (B,) valid samples per clip, ``keys`` (list
of B str), ``labels`` (tensor (B, ...) when numeric, else a list), ``spec`` (B, F, N) or (B, C, F, N)
once the device stage ran, ``params`` (what augmentation drew, for replay).

A batch built inside a DataLoader worker for a CUDA target carries a pending device stage: the
spectrogram is computed in the main process, on first access of :attr:`AudioBatch.spec`, or ahead
of time by :class:`nnaudio_data.DeviceLoader` on a side stream. CUDA is never touched in a worker.
"""
from __future__ import annotations

from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor


def target_device(device: "str | torch.device | None" = None) -> torch.device:
    """The device a batch goes to: ``device``, or CUDA when available (else the CPU) for None. A
    CUDA device needs CUDA here, checked now rather than at the first batch (only the main process
    builds collates and loaders, so this never initialises CUDA in a worker).

    Example:
        >>> target_device("cpu")
        device(type='cpu')
    """
    dev = torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device must be available in this process: got device={str(dev)!r}, but "
                         "torch.cuda.is_available() is False (a CPU build of torch, or no visible GPU); "
                         "pass device='cpu' or leave device=None to pick one")
    return dev


def map_tensors(obj: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """Apply ``fn`` to every tensor inside nested dicts / lists / tuples; leave the rest as is."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_tensors(v, fn) for v in obj)
    return obj


class AudioBatch:
    """A collated batch of clips.

    Args:
        waveform (Tensor): (B, C, T) float, zero-padded past each clip's length.
        lengths (Tensor): (B,) int64, valid samples per clip.
        keys (list[str]): sample keys, B of them.
        labels (Tensor | list): (B, ...) tensor for numeric labels, else a list of B items.
        spec (Tensor, optional): (B, F, N), or (B, C, F, N) for C > 1, once computed.
        params (dict): augmentation parameters drawn for this batch, ``{"augment": ...,
            "spec_augment": ...}`` (replay: ``GPUSpectrogramCollate.replay(samples, params)``).
        stage (callable, optional): pending device stage, ``stage(batch) -> batch``, run in the
            main process on first access of ``spec``; its optional ``stage.ahead(batch)`` runs
            the part that may run ahead of training (see :meth:`finish`).
        dropped (int): items the collate left out (``None`` items of a map-style dataset whose
            bad samples are skipped). Default 0.
        info (list, optional): per-clip provenance tags from the dataset (shard URL and index, for
            stats and resume), B of them; empty when the samples carried none.
        sr (int, optional): the clips' sample rate, when the samples carried it (every clip of a
            batch has the same). Default None.

    Shape:
        waveform: (B, C, T); lengths: (B,); mask: (B, T); spec: (B, F, N) or (B, C, F, N)

    Example:
        >>> b = AudioBatch(torch.zeros(2, 1, 5), torch.tensor([5, 3]), ["a", "b"], torch.tensor([0, 1]))
        >>> b.mask.sum(1).tolist(), len(b)
        ([5, 3], 2)
    """

    _TENSOR_FIELDS = ("waveform", "lengths", "labels", "_spec", "params")

    def __init__(self, waveform: Tensor, lengths: Tensor, keys: List[str], labels: Any,
                 spec: Optional[Tensor] = None, params: Optional[Dict[str, Any]] = None,
                 stage: Optional[Callable[["AudioBatch"], "AudioBatch"]] = None, dropped: int = 0,
                 info: Optional[List[Any]] = None, sr: Optional[int] = None):
        self.waveform = waveform
        self.lengths = lengths
        self.keys = list(keys)
        self.labels = labels
        self._spec = spec
        self.params = {} if params is None else params
        self.stage = stage
        self.dropped = dropped
        self.info = [] if info is None else list(info)
        self.sr = sr

    def __len__(self) -> int:
        return self.waveform.shape[0]

    @property
    def spec(self) -> Optional[Tensor]:
        """The spectrogram; runs the pending device stage first if there is one."""
        if self._spec is None and self.stage is not None:
            self.finish()
        return self._spec

    @spec.setter
    def spec(self, value: Optional[Tensor]) -> None:
        self._spec = value

    @property
    def pending(self) -> bool:
        """True while a device stage is still to run on this batch."""
        return self.stage is not None

    def finish(self, ahead: bool = False) -> "AudioBatch":
        """Run the pending device stage (if any) in place and return self.

        With ``ahead=True``, run only what may run before the batch is used (a stage with an
        ``ahead`` method, as the collate's, leaves a trainable kernel pending: it must see the
        parameters of the moment the batch is used, after the previous optimiser step).
        """
        stage, self.stage = self.stage, None
        if stage is not None:
            run = getattr(stage, "ahead", stage) if ahead else stage
            done = run(self)
            self.__dict__.update(done.__dict__)
        return self

    @property
    def mask(self) -> Tensor:
        """(B, T) bool, True where a sample is a real (not padded) sample."""
        t = torch.arange(self.waveform.shape[-1], device=self.lengths.device)
        return t[None, :] < self.lengths[:, None]

    @property
    def device(self) -> torch.device:
        return self.waveform.device

    def _map(self, fn: Callable[[Tensor], Tensor]) -> "AudioBatch":
        out = AudioBatch.__new__(AudioBatch)
        out.__dict__.update(self.__dict__)
        for name in self._TENSOR_FIELDS:
            setattr(out, name, map_tensors(getattr(self, name), fn))
        out.keys = list(self.keys)
        out.info = list(self.info)
        return out

    def pin_memory(self) -> "AudioBatch":
        """Copy the tensors into page-locked memory (called by DataLoader's ``pin_memory=True``)."""
        if not torch.cuda.is_available():  # pinning needs a CUDA runtime; a no-op without one
            return self
        return self._map(lambda t: t if t.is_cuda else t.pin_memory())

    def to(self, device: "torch.device | str", non_blocking: bool = False) -> "AudioBatch":
        """Move every tensor to ``device``; the pending stage, keys and list labels travel as they are."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def __repr__(self) -> str:
        spec = None if self._spec is None else tuple(self._spec.shape)
        return (f"AudioBatch(waveform={tuple(self.waveform.shape)}, spec={spec}, sr={self.sr}, device={self.device}"
                f"{', pending' if self.pending else ''})")


def _between_processes(batch: AudioBatch) -> Tuple[Callable[[Dict[str, Any]], AudioBatch], Tuple[Dict[str, Any]]]:
    """How a batch pickles on its way between processes (a DataLoader worker's queue): its small
    tensors (lengths, labels) inside the pickle, the rest as usual (a shared-memory descriptor);
    see :func:`nnaudio_data._sharedmem.inline_small`. Other pickling (``pickle``, ``copy``,
    ``torch.save``) is not affected."""
    from ._sharedmem import inline_small

    return _rebuild, (batch._map(inline_small).__dict__,)


def _rebuild(state: Dict[str, Any]) -> AudioBatch:
    batch = AudioBatch.__new__(AudioBatch)
    batch.__dict__.update(state)
    return batch


ForkingPickler.register(AudioBatch, _between_processes)
