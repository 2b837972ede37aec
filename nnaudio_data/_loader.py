"""DeviceLoader: run each batch's host-to-device copy and device stage one batch ahead, on a side
CUDA stream, while the model works on the current batch.

What reads a parameter that requires grad (a trainable kernel, and the spectrogram augmentation
after it) does not run ahead: it runs when the batch is handed over, on the current stream, with
the parameters of that moment, so an optimiser step between two batches is seen by the next one
and never modifies a tensor that a pending backward still needs.

All CUDA-specific code of the package (streams, events, ``record_stream``) lives in
:class:`_SideStream`; on a CPU device the same loop runs with a no-op stream, so its logic (order,
look-ahead, finishing pending stages) is tested on CPU.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Iterator, Optional, Tuple

import torch

from ._batch import AudioBatch, map_tensors, target_device
from ._repr import simple_repr
from .data._progress import hand_over
from ._checks import check_arg


class _SideStream:
    """Run work on a side CUDA stream and hand its results to the current stream safely."""

    def __init__(self, device: torch.device):
        self.device = device
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def run(self, fn, arg) -> Tuple[Any, Optional["torch.cuda.Event"]]:
        if self.stream is None:
            return fn(arg), None
        with torch.cuda.stream(self.stream):
            out = fn(arg)
            event = torch.cuda.Event()
            event.record(self.stream)
        return out, event

    def hand_over(self, out: Any, event: Optional["torch.cuda.Event"]) -> Any:
        """Make the current stream wait for ``out``, and keep its memory alive until the current
        stream's later work on it is done (``record_stream``)."""
        if event is None:
            return out
        current = torch.cuda.current_stream(self.device)
        current.wait_event(event)

        def keep(t: torch.Tensor) -> torch.Tensor:
            if t.is_cuda:
                t.record_stream(current)
            return t

        fields = out.__dict__ if isinstance(out, AudioBatch) else out
        map_tensors(fields, keep)
        return out


class DeviceLoader:
    """Wrap a DataLoader so that batches arrive on ``device`` with their spectrogram computed,
    prepared ``prefetch`` batches ahead on a side stream.

    Args:
        loader (Iterable): a DataLoader (or any iterable of batches).
        device (str | torch.device, optional): target. Default: the collate's device when the
            loader's ``collate_fn`` has one, else "cuda" when available, else "cpu". A CUDA
            device without CUDA is a ValueError here, as for the collate.
        prefetch (int): batches prepared ahead of the one being consumed, >= 0. Default 1.

    Example:
        >>> import torch
        >>> from torch.utils.data import DataLoader
        >>> from nnaudio_data import DeviceLoader, GPUSpectrogramCollate
        >>> loader = DataLoader([torch.randn(400) for _ in range(6)], batch_size=2,
        ...                     collate_fn=GPUSpectrogramCollate("stft", device="cpu", n_fft=128))
        >>> [tuple(b.spec.shape) for b in DeviceLoader(loader)]
        [(2, 65, 13), (2, 65, 13), (2, 65, 13)]
    """

    def __init__(self, loader: Iterable, device: "str | torch.device | None" = None, prefetch: int = 1):
        check_arg(isinstance(prefetch, int) and not prefetch < 0, "prefetch", "an int >= 0", prefetch)
        if getattr(loader, "records_consumption", False):  # ShardedAudioDataset.track: must be outside
            raise TypeError("DeviceLoader(ds.track(loader)) would record prefetched batches as consumed "
                            "before they are used; wrap the other way: ds.track(DeviceLoader(loader))")
        self.loader = loader
        if device is None:
            device = getattr(getattr(loader, "collate_fn", None), "device", None)
        self.device = target_device(device)
        self.prefetch = prefetch

    def _stage(self, batch: Any) -> Any:
        if isinstance(batch, AudioBatch):
            if batch.pending:
                return batch.finish(ahead=True)
            return batch.to(self.device, non_blocking=True)
        return map_tensors(batch, lambda t: t.to(self.device, non_blocking=True))

    @staticmethod
    def _at_hand_over(batch: Any) -> Any:
        """What must not run ahead: a trainable kernel, on the current stream, with the parameters
        of the moment the batch is handed over (after the previous batch's optimiser step)."""
        if isinstance(batch, AudioBatch) and batch.pending:
            batch.finish()
        hand_over(batch)  # a ShardedAudioDataset's counts that the batch carries: see data/_progress.py
        return batch

    def __iter__(self) -> Iterator[Any]:
        side = _SideStream(self.device)
        ahead: deque = deque()
        for batch in self.loader:
            ahead.append(side.run(self._stage, batch))
            if len(ahead) > self.prefetch:
                yield self._at_hand_over(side.hand_over(*ahead.popleft()))
        while ahead:
            yield self._at_hand_over(side.hand_over(*ahead.popleft()))

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:  # dataset, sampler, set_epoch, state_dict ... of the loader
        if name == "loader":
            raise AttributeError(name)
        return getattr(self.loader, name)

    def __repr__(self) -> str:
        return simple_repr(self, [("device", str(self.device)), ("prefetch", self.prefetch)], head=[repr(self.loader)])
