"""Collate: :class:`GPUSpectrogramCollate`, which stacks samples into an :class:`AudioBatch` (by
:func:`collate_audio`, in ``_stack.py``) and adds the device stage (augment -> spectrogram kernel ->
spectrogram augment).

Where the device stage runs (the contract):

- ``num_workers=0``: in the collate call itself, on the device.
- ``num_workers>0`` and a CPU target: inside the workers, in parallel.
- ``num_workers>0`` and a CUDA target: the worker returns the batch with a pending stage and never
  touches CUDA; the main process runs it on first access of ``batch.spec``, or ahead of time on a
  side stream when the loader is wrapped in :class:`nnaudio_data.DeviceLoader`.
- a trainable kernel (any parameter requiring grad), with any ``num_workers``: always pending, and
  split. :class:`nnaudio_data.DeviceLoader` runs the copy and the waveform augmentation ahead,
  and the kernel and spectrogram augmentation when it hands the batch over, with the parameters
  of that moment (after the previous optimiser step).
- a trainable kernel under ``torch.distributed`` (a process group of more than one rank): it runs
  inside its own ``DistributedDataParallel`` while training, so its gradients are averaged over
  the ranks as the model's are (see ``_sync.py``).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.data import get_worker_info

from . import _seed, _tokens
from ._repr import changed, simple_repr
from ._sync import synced
from .augment._base import run_augment
from ._batch import AudioBatch, target_device
from .data._assign import rank_world
from .features._kinds import make_transform, resolve_kind
from ._stack import collate_audio
from ._checks import check_arg

_WHERE = ("auto", "worker", "main")


def _restore(token: _tokens.Token, state: Dict[str, Any]) -> "GPUSpectrogramCollate":
    """Unpickle a collate: the live one in the process that built it (a batch pickled back from a
    worker refers to its collate, so the main process runs the original, with its kernel, trained
    or not), else this process's copy, rebuilt from ``state`` once (see :mod:`nnaudio_data._tokens`)."""
    live = _tokens.resolve(token)
    if isinstance(live, GPUSpectrogramCollate):
        return live
    obj = GPUSpectrogramCollate.__new__(GPUSpectrogramCollate)
    obj.__dict__.update(state)
    obj._transform_on, obj._generators = {}, {}
    _tokens.adopt(token, obj)
    return obj


def _check_augment(name: str, augment: Any) -> Any:
    """An augmentation is one callable: a list of them gets a pointer to ``Compose``."""
    if isinstance(augment, (list, tuple)):
        raise TypeError(f"{name} must be one augmentation (a callable), got a {type(augment).__name__} "
                        f"of {len(augment)}; chain them with "
                        f"{name}=nnaudio_data.augment.Compose([...]) (or OneOf / SomeOf)")
    if augment is not None and not callable(augment):
        raise TypeError(f"{name} must be an augmentation (a callable) or None, got "
                        f"{type(augment).__name__}")
    return augment


def _needs_rate(kind: Any, kernel_args: Dict[str, Any]) -> bool:
    """Whether the kernel ``kind`` depends on the sample rate (all but a plain STFT's FFT bins)."""
    if not isinstance(kind, str):
        return False
    return kind not in ("stft", "logstft") or kernel_args.get("freq_scale", "no") != "no"


class DeviceStage:
    """A batch's pending device stage: ``part`` of :meth:`GPUSpectrogramCollate.device_stage`.

    Called as ``stage(batch)``; :meth:`ahead` runs only the part that may run ahead of training
    (it may leave the kernel part pending). It pickles as its collate's token and ``part``, a few
    hundred bytes whatever the kernel: a batch coming back from a DataLoader worker names the
    collate, and the process that owns the collate (the DataLoader's main process) finds its live
    one by :func:`nnaudio_data._tokens.resolve` when the stage runs. The collate sent to a worker
    at start-up is what carries the kernel's state (``GPUSpectrogramCollate.__reduce__``).
    """

    def __init__(self, collate: "GPUSpectrogramCollate", part: str = "all"):
        self._collate: Optional[GPUSpectrogramCollate] = collate
        self.token, self.part = collate._token, part

    def __reduce__(self) -> Tuple[Any, Tuple[_tokens.Token, str]]:
        return (_stage_for, (self.token, self.part))

    @property
    def collate(self) -> "GPUSpectrogramCollate":
        """The live collate this stage belongs to, looked up in this process on first use."""
        if self._collate is None:
            live = _tokens.resolve(self.token)
            if not isinstance(live, GPUSpectrogramCollate):
                raise RuntimeError(
                    f"this batch's pending device stage belongs to a collate that does not live in this "
                    f"process (token {tuple(self.token)}, this process {os.getpid()}): a pending batch is "
                    "finished in the process that built or received its collate (the DataLoader's main "
                    "process); call batch.finish() there before pickling, saving or sending the batch on")
            self._collate = live
        return self._collate

    def __call__(self, batch: AudioBatch) -> AudioBatch:
        return self.collate.device_stage(batch, part=self.part)

    def ahead(self, batch: AudioBatch) -> AudioBatch:
        return self.collate.device_stage(batch, part="ahead" if self.part == "all" else self.part)

    def __repr__(self) -> str:
        return f"DeviceStage({self.part!r})"


def _stage_for(token: _tokens.Token, part: str) -> DeviceStage:
    """Unpickle a :class:`DeviceStage`: the token and the part only (nothing is looked up here)."""
    stage = DeviceStage.__new__(DeviceStage)
    stage._collate, stage.token, stage.part = None, token, part
    return stage


class GPUSpectrogramCollate:
    """Collate clips and compute their spectrogram on the device, as a DataLoader ``collate_fn``.

    Args:
        kind (str | nn.Module): "stft", "log", "mel", "mfcc", "cqt", "vqt", "gammatone", "logmel"
            (mel power in dB), "logstft" (STFT magnitude in dB), or a module mapping (B, T) or
            (B, C, T) to a spectrogram. Default "mel".
        device (str | torch.device, optional): target device. Default: "cuda" when available,
            else "cpu" (decided once, here, in the main process).
        augment (Augmentation | callable, optional): waveform augmentation on (B, C, T), applied
            before the kernel while training; an :class:`nnaudio_data.augment.Augmentation` also
            transforms ``batch.labels`` (Mixup) and records its parameters in ``batch.params``.
        spec_augment (Augmentation | callable, optional): spectrogram augmentation on (B, F, N) or
            (B, C, F, N), applied after the kernel while training.
        seed (int): seed of the augmentation generators (CPU ``torch.Generator``), derived per
            process from (seed, epoch, rank, worker id, stream): see :meth:`generator`. Default 0.
        rank (int, optional): the rank folded into the seeds. Default: the initialised
            ``torch.distributed`` process group's, else the RANK variable, else 0.
        where (str): "auto" (default; see the module docstring), "worker" (always compute in the
            collate call: only valid for a CPU target) or "main" (always defer to the main process).
        **kernel_args: arguments of the transform class (nnAudio names: sr, n_fft, hop_length,
            n_mels, trainable_mel, ...; ref, amin, top_db for the log kinds). Without ``sr``, a
            kernel that depends on the rate is built at the first batch, for the clips' rate
            (``batch.sr``); with ``sr``, clips at another rate raise. A trainable kernel needs ``sr``.

    The collate owns the kernel: :meth:`parameters`, :meth:`state_dict`, :meth:`load_state_dict`
    and :meth:`to` work as for an ``nn.Module``, for the optimiser and checkpoints.

    Shape:
        output batch: waveform (B, C, T), spec (B, F, N) for C = 1, else (B, C, F, N)

    Example:
        >>> collate = GPUSpectrogramCollate("stft", device="cpu", n_fft=64, hop_length=16)
        >>> batch = collate([torch.randn(256), torch.randn(200)])
        >>> batch.spec.shape
        torch.Size([2, 33, 17])
    """

    def __init__(self, kind: "str | nn.Module" = "mel", device: "str | torch.device | None" = None,
                 augment: Any = None, spec_augment: Any = None, where: str = "auto",
                 seed: int = 0, rank: Optional[int] = None, **kernel_args: Any):
        check_arg(where in _WHERE, "where", f"one of {_WHERE}", where)
        self.device = target_device(device)
        if where == "worker" and self.device.type != "cpu":
            raise ValueError(f"where='worker' needs a CPU target (CUDA is never used in a worker), "
                             f"got device={self.device}")
        if isinstance(kind, str):
            kind = resolve_kind(kind)  # case-insensitive; a misspelt kind says what was meant
        elif not isinstance(kind, nn.Module):
            raise TypeError(f"kind must be a kind name (str) or an nn.Module, got {type(kind).__name__}")
        self.kind = kind if isinstance(kind, str) else type(kind).__name__
        self.kernel_args = kernel_args
        self.augment = _check_augment("augment", augment)
        self.spec_augment = _check_augment("spec_augment", spec_augment)
        self.where = where
        check_arg(isinstance(seed, int) and not seed < 0, "seed", "an int >= 0", seed)
        check_arg(rank is None or (not isinstance(rank, bool) and isinstance(rank, int) and rank >= 0), "rank",
                  "an int >= 0 or None", rank)
        self.seed, self.epoch, self.rank = seed, 0, rank
        self._generators: Dict[Tuple[int, int, int, str], torch.Generator] = {}
        self.training = True
        self.sr: Optional[int] = kernel_args.get("sr", getattr(kind, "sr", None))
        self.transform: Optional[nn.Module] = None
        if self.sr is not None or not _needs_rate(kind, kernel_args):
            self.transform = make_transform(kind, **kernel_args)  # validates the arguments here
        elif any(v for k, v in kernel_args.items() if k.startswith("trainable")):
            raise ValueError(f"a trainable kernel needs sr= (the clips' rate), so that its parameters "
                             f"exist before the first batch; got kind={kind!r} without sr")
        self._transform_on: Dict[str, nn.Module] = {}
        self._token = _tokens.register(self)

    # -- pickling: a token plus what a fresh process needs to rebuild --------------------------
    def __reduce__(self) -> Tuple[Any, Tuple[_tokens.Token, Dict[str, Any]]]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_transform_on", "_generators")}
        if state["rank"] is None:  # a spawned worker has no process group: it gets the rank here
            state["rank"] = rank_world()[0]
        return (_restore, (self._token, state))

    # -- mode ----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "GPUSpectrogramCollate":
        """Augmentations run only in training mode (the default), as ``nn.Module.train``."""
        self.training = mode
        return self

    def eval(self) -> "GPUSpectrogramCollate":
        return self.train(False)

    def set_epoch(self, epoch: int) -> None:
        """Fold ``epoch`` into the augmentation seeds (call before each epoch's iterator is made;
        persistent workers keep the epoch they were started with)."""
        self.epoch = int(epoch)

    def generator(self, stream: str = "augment") -> torch.Generator:
        """This process's generator for ``stream`` ("augment" or "spec_augment"), seeded by
        :func:`nnaudio_data._seed.derive_seed` from (seed, epoch, rank, worker id + 1, stream), worker
        0 being the main process: ranks and workers never repeat each other's draws, and the two
        augmentations draw independently of the order in which their batches run. It lives on the
        CPU whatever the device (see ``nnaudio_data.augment._base``)."""
        info = get_worker_info()
        rank = self.rank if self.rank is not None else rank_world()[0]
        key = (self.epoch, rank, 0 if info is None else info.id + 1, stream)
        if key not in self._generators:
            self._generators[key] = _seed.generator(self.seed, *key)
        return self._generators[key]

    @property
    def trainable(self) -> bool:
        return self.transform is not None and any(p.requires_grad for p in self.transform.parameters())

    # -- the kernel's parameters and state, as for any module -------------------------------------
    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """The kernel's parameters (none for fixed kernels), for the optimiser:
        ``Adam(list(model.parameters()) + list(collate.parameters()))``."""
        return iter(()) if self.transform is None else self.transform.parameters(recurse)

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, nn.Parameter]]:
        return iter(()) if self.transform is None else self.transform.named_parameters(prefix, recurse)

    def state_dict(self) -> Dict[str, Any]:
        """The kernel's state (``nn.Module.state_dict`` of the transform), for checkpoints."""
        return {} if self.transform is None else self.transform.state_dict()

    def load_state_dict(self, state: Dict[str, Any], strict: bool = True) -> Any:
        """Load a :meth:`state_dict` into the kernel, in place (the optimiser keeps its parameters)."""
        if self.transform is None:
            raise ValueError("this collate builds its kernel at the first batch (no sr= given); "
                             "pass sr= to load a state before that")
        return self.transform.load_state_dict(state, strict)

    def to(self, device: "str | torch.device") -> "GPUSpectrogramCollate":
        """Move the kernel to ``device`` and make it the target of the device stage."""
        self.device = target_device(device)
        if self.transform is not None:
            self.transform.to(self.device)
        self._transform_on = {}
        return self

    def _kernel_for(self, batch: AudioBatch, build: bool = True) -> None:
        """Check the batch's rate against the kernel's; build the kernel from it if not built yet
        (``build``: where the kernel runs, never in a worker that only defers the stage)."""
        if batch.sr is not None and self.sr is not None and int(batch.sr) != int(self.sr):
            raise ValueError(f"the clips are at sr={batch.sr} Hz but the collate's kernel is built for "
                             f"sr={self.sr} Hz (keys: {', '.join(batch.keys[:4])}); pass sr={batch.sr} "
                             "or resample the clips")
        if self.transform is None and build:
            if batch.sr is None:
                raise ValueError(f"kind {self.kind!r} needs the sample rate: the clips carry none "
                                 "(no 'sr' in the samples) and the collate has no sr=")
            self.sr = int(batch.sr)
            self.transform = make_transform(self.kind, sr=self.sr, **self.kernel_args)

    def _defer(self) -> bool:
        in_worker = get_worker_info() is not None
        if self.where == "worker":
            return False
        if self.trainable:  # also in the main process: the kernel runs when the batch is used
            return True
        if self.where == "main":
            return in_worker
        return in_worker and self.device.type != "cpu"

    # -- the two stages --------------------------------------------------------------------------
    def __call__(self, samples: Sequence[Any]) -> AudioBatch:
        batch = collate_audio(samples)
        defer = self._defer()
        self._kernel_for(batch, build=not defer)
        if defer:
            batch.stage = DeviceStage(self)  # pickles as the collate's token, not its kernel
            return batch
        return self.device_stage(batch)

    def module_on(self, device: torch.device) -> nn.Module:
        """The transform, moved to ``device`` once per process (``nn.Module.to`` moves in place, so a
        trainable kernel stays the one module the optimiser holds)."""
        if self.transform is None:
            raise RuntimeError(f"the {self.kind!r} kernel is not built yet: it is built from the first "
                               "batch's sample rate; run a batch through the collate first, or pass sr=")
        if str(device) not in self._transform_on:
            self._transform_on[str(device)] = self.transform.to(device)
        return self._transform_on[str(device)]

    def _kernel_runner(self, device: torch.device) -> nn.Module:
        """What computes the spectrogram: :meth:`module_on`, inside ``DistributedDataParallel`` while
        a trainable kernel trains under a process group (gradients averaged over the ranks; made
        once, at the first such batch, on every rank alike), else the module itself."""
        module = self.module_on(device)
        if not (self.training and torch.is_grad_enabled()):
            return module
        key = f"ddp:{device}"
        if key not in self._transform_on:
            self._transform_on[key] = synced(module)
        return self._transform_on[key]

    def device_stage(self, batch: AudioBatch, non_blocking: bool = True,
                     params: Optional[Dict[str, Any]] = None, part: str = "all") -> AudioBatch:
        """Move ``batch`` to the device and run augment -> kernel -> spec_augment on it.

        Augmentations run in training mode, drawing from :meth:`generator`, or whenever ``params``
        (an earlier ``batch.params``) is given: then they replay that call exactly. Runs in
        whichever process calls it; callers make sure that is not a worker for CUDA.

        ``part`` splits the stage for :class:`nnaudio_data.DeviceLoader`: "ahead" runs what does
        not read a parameter that requires grad (the copy to the device, waveform augmentation, and
        the kernel too when it is fixed) and leaves the rest pending; "kernel" runs that rest (the
        kernel and spec_augment) with the parameters of the moment; "all" runs both.
        """
        check_arg(part in ("all", "ahead", "kernel"), "part", "'all', 'ahead' or 'kernel'", part)
        batch.stage = None
        if part != "kernel":
            self._kernel_for(batch)
            batch = self._ahead(batch, non_blocking, params)
            if part == "ahead" and self.trainable:
                batch.stage = DeviceStage(self, "kernel")
                return batch
        spec = self._kernel_runner(self.device)(batch.waveform[:, 0] if batch.waveform.shape[1] == 1
                                           else batch.waveform)
        if self._runs("spec_augment", params):
            spec, _, batch.params["spec_augment"] = run_augment(
                self.spec_augment, spec, None, (params or {}).get("spec_augment"),
                self.generator("spec_augment"))
        batch.spec = spec
        return batch

    def _ahead(self, batch: AudioBatch, non_blocking: bool, params: Optional[Dict[str, Any]]) -> AudioBatch:
        """The copy to the device and the waveform augmentation."""
        if batch.device != self.device:
            if self.device.type == "cuda" and not batch.waveform.is_pinned():
                batch = batch.pin_memory()
            batch = batch.to(self.device, non_blocking=non_blocking)
        batch.params = {}
        if self._runs("augment", params):
            batch.waveform, batch.labels, batch.params["augment"] = run_augment(
                self.augment, batch.waveform, batch.labels, (params or {}).get("augment"),
                self.generator("augment"))
        return batch

    def _runs(self, name: str, params: Optional[Dict[str, Any]]) -> bool:
        """Whether augmentation ``name`` runs: in training mode, or in a replay that recorded it."""
        if getattr(self, name) is None:
            return False
        return self.training if params is None else name in params

    def replay(self, samples: Sequence[Any], params: Dict[str, Any]) -> AudioBatch:
        """Collate ``samples`` again and apply the augmentations recorded in ``params`` (a
        ``batch.params``): the same batch, bit for bit on the same device.

        Example:
            >>> from nnaudio_data.augment import Gain
            >>> collate = GPUSpectrogramCollate(torch.nn.Identity(), device="cpu", augment=Gain())
            >>> clips = [torch.ones(4), torch.ones(4)]
            >>> first = collate(clips)
            >>> torch.equal(collate.replay(clips, first.params).waveform, first.waveform)
            True
        """
        return self.device_stage(collate_audio(samples), params=params)

    def __repr__(self) -> str:
        rest = [(k, v) for k, v in changed(self) if k in ("augment", "spec_augment", "where", "seed", "rank")]
        return simple_repr(self, [("device", str(self.device))] + list(self.kernel_args.items()) + rest,
                           head=[repr(self.kind)])
