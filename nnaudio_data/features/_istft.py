"""iSTFT: waveform from a complex spectrogram (nnAudio 0.3's ``iSTFT``), with trainable inverse
kernels and window, or by inverse FFT."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..functional._fourier import pad_window
from ..functional._spectral import frames_irfft, frames_matmul, onesided_to_full, overlap_add
from . import _base
from ._base import like, register_kernel
from ._stft import STFTBase
from .._checks import check_arg


def split_complex(X: Tensor) -> Tuple[Tensor, Tensor, Tuple[int, ...]]:
    """(..., F, N, 2) real or (..., F, N) complex -> real, imag (B', F, N) and the leading shape."""
    if X.is_complex():
        X = torch.view_as_real(X)
    if X.dim() < 3 or X.shape[-1] != 2:
        raise ValueError("X must be a complex spectrogram, (B, F, N, 2) or a complex (B, F, N), "
                         f"got shape {tuple(X.shape)} dtype {X.dtype}; for a magnitude, use Griffin_Lim")
    lead = tuple(X.shape[:-3]) or (1,)
    if X.dtype != torch.float64:
        X = X.to(torch.float32)
    X = X.reshape(-1, *X.shape[-3:])
    return X[..., 0], X[..., 1], lead


def inverse_stft(X: Tensor, window: Tensor, n_fft: int, hop_length: int, center: bool = True,
                 length: Optional[int] = None) -> Tensor:
    """Inverse STFT by inverse FFT and windowed overlap-add (least-squares, as librosa.istft).

    Shape:
        X: (..., F, N, 2) or complex (..., F, N), F = n_fft // 2 + 1 or n_fft; output: (..., T)

    Example:
        >>> X = torch.stft(torch.ones(1, 64), 16, 4, window=torch.hann_window(16), return_complex=True)
        >>> inverse_stft(X, torch.hann_window(16), 16, 4, length=64).sub(1).abs().max() < 1e-5
        tensor(True)
    """
    re, im, lead = split_complex(X)
    y = overlap_add(frames_irfft(re, im, n_fft), like(window, re), hop_length, center, length)
    return y.reshape(*lead, y.shape[-1])


def _dft_kernels(n_fft: int) -> Tuple[Tensor, Tensor]:
    """Inverse-DFT kernels ``cos(2 pi k n / n_fft)``, ``sin(...)``, (n_fft, n_fft) float64."""
    phase = 2 * np.pi * (np.arange(n_fft)[:, None] * np.arange(n_fft)[None, :] % n_fft) / n_fft
    return torch.from_numpy(np.cos(phase)), torch.from_numpy(np.sin(phase))


def _from_nnaudio_state(module: "iSTFT", state: dict, prefix: str, local_metadata, strict,
                        missing_keys, unexpected_keys, error_msgs) -> None:
    """Reshape an nnAudio ``iSTFT`` state (kernels (n_fft, 1, n_fft, 1), window (1, win_length, 1))
    to ours (kernels (n_fft, n_fft), window zero-padded to (n_fft,)) before loading."""
    window = state.get(prefix + "window_mask")
    if window is not None and window.dim() == 3:
        w = window.reshape(-1)
        left = (module.n_fft - w.shape[0]) // 2
        state[prefix + "window_mask"] = F.pad(w, (left, module.n_fft - w.shape[0] - left))
    for key, exact in zip(("kernel_cos", "kernel_sin"), _dft_kernels(module.n_fft)):
        k = state.get(prefix + key)
        if k is None or k.dim() != 4:
            continue
        state[prefix + key] = k = k.reshape(k.shape[0], k.shape[2])
        if module.backend == "fft":  # the FFT computes what fixed inverse-DFT kernels would
            state.pop(prefix + key)
            if not torch.allclose(k.double(), exact, atol=1e-5):
                error_msgs.append(f"{prefix}{key}: the state holds inverse kernels that differ "
                                  "from the DFT's (trained?); load them with backend='conv1d'")


class iSTFT(STFTBase):
    """Inverse STFT, nnAudio 0.3 compatible: inverse-DFT kernels (trainable) or inverse FFT.

    Args:
        n_fft, win_length, freq_bins, hop_length, window, freq_scale, center, fmin, fmax, sr: as
            the forward :class:`STFT` (``freq_scale`` must be "no"; ``freq_bins`` is accepted).
        trainable_kernels (bool): inverse-DFT kernels are ``nn.Parameter``s. Default False.
        trainable_window (bool): the synthesis window is an ``nn.Parameter``. Default False.
        verbose (bool): accepted; logs at debug level only. Default True.
        refresh_win (bool): accepted for compatibility (the window normalisation is always
            recomputed; it is cheap). Default True.
        backend (str): "auto" (fft unless kernels are trainable), "conv1d" (matmul kernels) or "fft".

    Shape:
        X: (B, F, N, 2) or complex (B, F, N) (leading dims allowed); F = n_fft // 2 + 1 or n_fft
        output: (B, T)

    Example:
        >>> from nnaudio_data.features import STFT
        >>> x = torch.randn(2, 400)
        >>> X = STFT(n_fft=64, hop_length=16)(x)
        >>> y = iSTFT(n_fft=64, hop_length=16)(X, onesided=True, length=400)
        >>> bool(torch.allclose(x, y, atol=1e-4))
        True
    """

    window_mask: Tensor  # buffers, or Parameters when trainable (declared for the type checker)
    kernel_cos: Tensor  # conv1d backend only
    kernel_sin: Tensor

    def __init__(self, n_fft: int = 2048, win_length: Optional[int] = None,
                 freq_bins: Optional[int] = None, hop_length: Optional[int] = None, window="hann",
                 freq_scale: str = "no", center: bool = True, fmin: float = 50, fmax: float = 6000,
                 sr: float = 22050, trainable_kernels: bool = False, trainable_window: bool = False,
                 verbose: bool = True, refresh_win: bool = True, backend: str = "auto"):
        super().__init__()
        win_length, hop_length = _base.check_frames(n_fft, win_length, hop_length)
        check_arg(freq_scale == "no", "freq_scale", "'no' for an inverse", freq_scale)
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.stride, self.center, self.pad_amount = hop_length, center, n_fft // 2
        self.refresh_win = refresh_win
        self.trainable_kernels, self.trainable_window = trainable_kernels, trainable_window
        self.backend = _base.resolve_backend(backend, trainable_kernels)
        register_kernel(self, "window_mask", pad_window(window, win_length, n_fft), trainable_window)
        if self.backend == "conv1d":
            kernel_cos, kernel_sin = _dft_kernels(n_fft)
            register_kernel(self, "kernel_cos", kernel_cos, trainable_kernels)
            register_kernel(self, "kernel_sin", kernel_sin, trainable_kernels)
        self.register_load_state_dict_pre_hook(_from_nnaudio_state)
        _base.quiet(verbose, f"iSTFT kernels built: {self.summary()}")

    def forward(self, X: Tensor, onesided: bool = False, length: Optional[int] = None,
                refresh_win: Optional[bool] = None) -> Tensor:
        """Waveform of ``X``. A spectrum with n_fft // 2 + 1 bins is taken as onesided whatever
        ``onesided`` says (nnAudio's default ``onesided=False`` would fail on it). ``refresh_win``
        (nnAudio: recompute the window envelope, or reuse the previous call's) is accepted for old
        code: the envelope is computed for every call, the correct result for any ``length``."""
        if refresh_win is not None and not isinstance(refresh_win, bool):
            raise TypeError(f"refresh_win must be a bool or None, got {refresh_win!r}")
        re, im, lead = split_complex(X)
        half = self.n_fft // 2 + 1
        if re.shape[1] not in (half, self.n_fft):
            raise ValueError(f"X must have n_fft // 2 + 1 ({half}) or n_fft ({self.n_fft}) bins, "
                             f"got {re.shape[1]}")
        if self.backend == "conv1d":
            if re.shape[1] == half and half != self.n_fft:
                re, im = onesided_to_full(re, im, self.n_fft)
            frames = frames_matmul(re, im, like(self.kernel_cos, re), like(self.kernel_sin, re))
        else:
            frames = frames_irfft(re, im, self.n_fft)
        y = overlap_add(frames, like(self.window_mask, re), self.hop_length, self.center, length)
        return y.reshape(*lead, y.shape[-1])

    def summary(self) -> List[Tuple[str, Any]]:
        out: List[Tuple[str, Any]] = [("n_fft", self.n_fft), ("hop_length", self.hop_length),
                                      ("backend", self.backend)]
        if self.trainable_kernels:
            out.append(("trainable_kernels", True))
        if self.trainable_window:
            out.append(("trainable_window", True))
        return out
