"""What every transform shares: input shape handling, compute dtype, kernel registration (buffer or
Parameter, decided in one place), backend choice and argument checks."""
from __future__ import annotations

import logging
from typing import Any, Tuple

import torch
from torch import Tensor, nn

from .._checks import check_arg, check_choice, check_positive_int, looks_transposed

log = logging.getLogger("nnaudio_data.features")

BACKENDS = ("auto", "conv1d", "fft")
OUTPUT_FORMATS = ("Magnitude", "Complex", "Phase")


def as_batch(x: Tensor) -> Tuple[Tensor, Tuple[int, ...]]:
    """Flatten an input to (B', T) and return the leading shape to restore, by the collate's shape
    rules: (T,) -> lead (1,); (B, T) -> (B,); (B, 1, T) -> (B,); (B, C, T) with C > 1 -> (B, C).
    Any other rank, and a 2-D input that reads as a (T, C) array (:func:`looks_transposed`), is a
    ValueError that says so. Half-precision inputs become float32; float64 stays.

    Example:
        >>> as_batch(torch.zeros(2, 3, 100))[0].shape, as_batch(torch.zeros(2, 3, 100))[1]
        (torch.Size([6, 100]), (2, 3))
        >>> as_batch(torch.zeros(16000, 2))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: x must be (T,), (B, T) or (B, C, T), got shape (16000, 2), which reads as 16000 clips ... x.T
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (1, 2, 3):
        merge = "; merge the leading axes first: x.flatten(0, -3)" if x.dim() > 3 else ""
        raise ValueError(f"x must be (T,), (B, T) or (B, C, T), got shape {tuple(x.shape)}{merge}")
    if x.dim() >= 2 and looks_transposed(x.shape[-2], x.shape[-1]):
        what = "clips" if x.dim() == 2 else "channels"
        raise ValueError(f"x must be (T,), (B, T) or (B, C, T), got shape {tuple(x.shape)}, which reads as "
                         f"{x.shape[-2]} {what} of {x.shape[-1]} samples; a (T, C) array (soundfile's "
                         f"layout) needs a transpose: x.T" + (" (x.transpose(-1, -2) for (B, T, C))"
                                                               if x.dim() == 3 else ""))
    if x.dim() == 1:
        lead: Tuple[int, ...] = (1,)
    elif x.dim() == 3 and x.shape[1] == 1:
        lead = (x.shape[0],)
    else:
        lead = tuple(x.shape[:-1])
    if not (x.is_floating_point() and x.dtype == torch.float64):
        x = x.to(torch.float32)
    return x.reshape(-1, x.shape[-1]), lead


flat_signal = as_batch  # nnAudio's input rule, which is the collate's: (T,), (B, T), (B, C, T)


def restore(y: Tensor, lead: Tuple[int, ...]) -> Tensor:
    """Undo :func:`as_batch` (or :func:`flat_signal`) on an output whose first axis is B'."""
    return y.reshape(*lead, *y.shape[1:])


def register_kernel(module: nn.Module, name: str, value: Tensor, trainable: bool) -> None:
    """Register ``value`` (cast to float32) as an ``nn.Parameter`` when trainable, else a buffer."""
    value = value.to(torch.float32).contiguous()
    if trainable:
        module.register_parameter(name, nn.Parameter(value))
    else:
        module.register_buffer(name, value)


class _ReflectedAbs(torch.autograd.Function):
    """``|v|`` whose gradient at v = 0 is the gradient of v (torch's ``abs`` gives 0 there, which
    would freeze every zero of a filterbank for good)."""

    @staticmethod
    def forward(ctx: Any, v: Tensor) -> Tensor:
        ctx.save_for_backward(v)
        return v.abs()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (v,) = ctx.saved_tensors
        return torch.where(v < 0, -grad, grad)


def nonnegative(v: Tensor) -> Tensor:
    """The non-negative parametrisation of a trainable filterbank: the weights used are ``|v|`` of
    the stored parameter ``v`` (equal to it as built, since a built filterbank is >= 0). A gradient
    step that would push a weight below zero reflects it instead, so a power spectrogram through
    the filterbank stays >= 0 and its log finite, however large the learning rate.

    Example:
        >>> v = torch.tensor([0.5, 0.0, -0.25], requires_grad=True)
        >>> nonnegative(v).tolist()
        [0.5, 0.0, 0.25]
    """
    return _ReflectedAbs.apply(v)


def like(kernel: Tensor, x: Tensor) -> Tensor:
    """``kernel`` in x's dtype and device (a no-op in the usual float32 case)."""
    return kernel if kernel.dtype == x.dtype and kernel.device == x.device else kernel.to(x)


def resolve_backend(backend: str, trainable: bool, fft_ok: bool = True) -> str:
    """Pick the framing backend.

    "auto" gives "fft" unless a Fourier kernel is trainable or the bins are not the FFT's
    (``freq_scale != "no"``); then "conv1d". The same rule holds on CUDA (an FFT does
    O(n_fft log n_fft) work per frame against the dense kernel's O(n_fft F)).
    """
    check_choice("backend", backend, BACKENDS)
    if backend == "auto":
        return "fft" if fft_ok and not trainable else "conv1d"
    if backend == "fft" and trainable:
        raise ValueError("backend='fft' cannot train Fourier kernels; use backend='conv1d' or "
                         "'auto' with trainable=True")
    if backend == "fft" and not fft_ok:
        raise ValueError("backend='fft' needs FFT bins (freq_scale='no'); use backend='conv1d'")
    return backend


def check_frames(n_fft: int, win_length: Any, hop_length: Any) -> Tuple[int, int]:
    """Validate and fill framing defaults (win_length = n_fft, hop = win_length // 4)."""
    check_positive_int("n_fft", n_fft)
    win_length = n_fft if win_length is None else win_length
    check_positive_int("win_length", win_length)
    check_arg(not win_length > n_fft, "win_length", f"<= n_fft ({n_fft})", win_length)
    hop_length = max(win_length // 4, 1) if hop_length is None else hop_length
    check_positive_int("hop_length", hop_length)
    return win_length, hop_length


def quiet(verbose: bool, message: str) -> None:
    """nnAudio prints kernel build times when ``verbose``; here that goes to the debug log."""
    if verbose:
        log.debug(message)
