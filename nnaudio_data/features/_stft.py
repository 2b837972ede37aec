"""STFT: the short-time Fourier transform as a module (nnAudio 0.3's ``STFT``), by conv1d kernels
(trainable) or by FFT, with its inverse."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from ..functional._fourier import FREQ_SCALES, fourier_kernels, pad_window
from ..functional._spectral import PAD_MODES, spectrum_conv1d, spectrum_fft
from ..functional._threaded import power_threaded
from . import _base
from ._base import as_batch, like, register_kernel, restore
from .._checks import check_arg, check_choice, check_positive_int
from ._transform import Transform


def _power(re: Tensor, im: Tensor) -> Tensor:
    """``re**2 + im**2`` in two passes and one allocation (no complex abs, no sqrt)."""
    return re.square().addcmul_(im, im)


def _from_nnaudio_state(module: "STFT", state: dict, prefix: str, local_metadata, strict,
                        missing_keys, unexpected_keys, error_msgs) -> None:
    """Translate an nnAudio ``STFT`` state (``wcos``, ``wsin`` (F, 1, n_fft), ``window_mask``
    (1, n_fft, 1)) to ours (``kernel`` (2F, 1, n_fft), ``window`` (n_fft,)) before loading."""
    if prefix + "window_mask" in state:
        state[prefix + "window"] = state.pop(prefix + "window_mask").reshape(-1)
    for key in ("kernel_sin_inv", "kernel_cos_inv"):  # nnAudio's fixed inverse kernels
        state.pop(prefix + key, None)
    if prefix + "wcos" not in state or prefix + "wsin" not in state:
        return
    kernel = torch.cat([state.pop(prefix + "wcos"), state.pop(prefix + "wsin")])
    if module.backend == "conv1d":
        state[prefix + "kernel"] = kernel
    elif not torch.allclose(kernel.to(module.window), module._kernels(), rtol=1e-4, atol=1e-5):
        error_msgs.append(f"{prefix}wcos/wsin: the state holds Fourier kernels that differ from "
                          "the built ones (trained?); load them into an STFT with backend='conv1d'")


class STFTBase(Transform):
    """The base class of :class:`STFT` and :class:`~nnaudio_data.features.iSTFT`, as in nnAudio
    (where it holds their shared inverse); kept so that ``isinstance`` checks and subclasses of old
    code keep working. It adds nothing to ``nn.Module``.
    """


class STFT(STFTBase):
    """Short-time Fourier transform, nnAudio 0.3 compatible.

    Args:
        n_fft (int): frame size. Default 2048.
        win_length (int, optional): window length (<= n_fft, zero-padded). Default n_fft.
        freq_bins (int, optional): bins. Default n_fft // 2 + 1.
        hop_length (int, optional): stride. Default win_length // 4.
        window (str | tuple | array): scipy window spec. Default "hann".
        freq_scale (str): "no" (FFT bins), "linear", "log" or "log2" (fmin..fmax). Default "no".
        center (bool): frames centred at n * hop (pad n_fft // 2). Default True.
        pad_mode (str): "reflect" or "constant". Default "reflect".
        iSTFT (bool): accepted for compatibility; :meth:`inverse` always works. Default False.
        fmin, fmax (float): range for scaled bins. Default 50, 6000.
        sr (int): sample rate. Default 22050.
        trainable (bool): Fourier kernels are ``nn.Parameter``s (conv1d backend). Default False.
        output_format (str): "Complex" (trailing real/imag axis of 2), "Magnitude" or "Phase".
            Default "Complex".
        verbose (bool): accepted; logs at debug level only. Default True.
        backend (str): "auto" (fft unless trainable or freq_scale != "no"), "conv1d" or "fft".
        return_complex (bool): "Complex" output as a complex tensor without the trailing axis.
            Default False.

    Shape:
        x: (T,), (B, T), (B, 1, T) or (B, C, T)
        output: (B, F, N) ((1, F, N) for (T,), (B, C, F, N) for C > 1), plus a trailing axis of 2
        for "Complex". float16 / bfloat16 inputs are computed and returned in float32; float64
        stays float64.

    Example:
        >>> stft = STFT(n_fft=64, hop_length=16, output_format="Magnitude")
        >>> stft(torch.randn(2, 256)).shape
        torch.Size([2, 33, 17])
    """

    window: Tensor  # buffers, or Parameters when trainable (declared for the type checker)
    kernel: Tensor  # conv1d backend only

    def __init__(self, n_fft: int = 2048, win_length: Optional[int] = None,
                 freq_bins: Optional[int] = None, hop_length: Optional[int] = None,
                 window="hann", freq_scale: str = "no", center: bool = True,
                 pad_mode: str = "reflect", iSTFT: bool = False, fmin: float = 50,
                 fmax: float = 6000, sr: float = 22050, trainable: bool = False,
                 output_format: str = "Complex", verbose: bool = True, backend: str = "auto",
                 return_complex: bool = False):
        super().__init__()
        win_length, hop_length = _base.check_frames(n_fft, win_length, hop_length)
        freq_bins = n_fft // 2 + 1 if freq_bins is None else freq_bins
        check_positive_int("freq_bins", freq_bins)
        check_choice("freq_scale", freq_scale, FREQ_SCALES)
        check_choice("pad_mode", pad_mode, PAD_MODES)
        check_choice("output_format", output_format, _base.OUTPUT_FORMATS)
        check_arg(not (freq_scale == "no" and freq_bins > n_fft), "freq_bins",
                  f"<= n_fft ({n_fft}) for freq_scale='no'", freq_bins)
        if freq_scale != "no":
            if not 0 < fmin < fmax <= sr / 2:
                raise ValueError(f"fmin and fmax must satisfy 0 < fmin < fmax <= sr / 2 ({sr / 2}), "
                                 f"got fmin={fmin}, fmax={fmax}")
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.stride = hop_length  # nnAudio's name
        self.freq_bins, self.freq_scale, self.sr = freq_bins, freq_scale, sr
        self.center, self.pad_mode, self.pad_amount = center, pad_mode, n_fft // 2
        self.output_format, self.return_complex = output_format, return_complex
        self.trainable, self.iSTFT = trainable, iSTFT
        self.backend = _base.resolve_backend(backend, trainable, fft_ok=freq_scale == "no")
        self.register_buffer("window", pad_window(window, win_length, n_fft, torch.float32))
        if self.backend == "conv1d":
            wcos, wsin, _, freqs = fourier_kernels(n_fft, win_length, freq_bins, window,
                                                   freq_scale, fmin, fmax, sr)
            register_kernel(self, "kernel", torch.cat([wcos, wsin])[:, None], trainable)
        else:
            freqs = torch.arange(freq_bins, dtype=torch.float64).numpy() * sr / n_fft
        self.bins2freq = freqs.tolist()
        self.register_load_state_dict_pre_hook(_from_nnaudio_state)
        _base.quiet(verbose, f"STFT kernels built: {self.summary()}")

    @property
    def wcos(self) -> Tensor:
        """Windowed cosine kernels (F, 1, n_fft) (conv1d backend; built on demand for fft)."""
        return self._kernels()[: self.freq_bins]

    @property
    def wsin(self) -> Tensor:
        """Windowed sine kernels (F, 1, n_fft)."""
        return self._kernels()[self.freq_bins:]

    def _kernels(self) -> Tensor:
        if self.backend == "conv1d":
            return self.kernel
        window = self.window.detach().double().cpu().numpy()
        wcos, wsin, _, _ = fourier_kernels(self.n_fft, self.n_fft, self.freq_bins, window)
        return torch.cat([wcos, wsin])[:, None].to(self.window)

    def spectrum(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Real and imaginary parts of the spectrum of (B, T) signals, each (B, F, N)."""
        if self.backend == "conv1d":
            return spectrum_conv1d(x, like(self.kernel, x), self.hop_length, self.center, self.pad_mode)
        return spectrum_fft(x, like(self.window, x), self.hop_length, self.freq_bins, self.center,
                            self.pad_mode)

    def threaded(self, x: Tensor) -> bool:
        """Whether the power and magnitude of ``x`` take the CPU path without autograd
        (``functional/_threaded.py``): fft backend, a plain CPU tensor, no gradient wanted."""
        return (self.backend == "fft" and type(x) is Tensor and x.device.type == "cpu"
                and self.freq_bins <= self.n_fft // 2 + 1
                and not (torch.is_grad_enabled() and x.requires_grad))

    def power(self, x: Tensor, magnitude: bool = False) -> Tensor:
        """Power spectrum ``real**2 + imag**2`` of (B, T) signals, (B, F, N): what Mel builds on
        (its square root when ``magnitude``)."""
        if self.threaded(x):
            return power_threaded(x, like(self.window, x), self.hop_length, self.freq_bins,
                                  self.center, self.pad_mode, 0.5 if magnitude else 1.0)
        p = _power(*self.spectrum(x))
        if not magnitude:
            return p
        if self.trainable:
            return torch.sqrt(p + 1e-8)  # finite gradient at 0
        return p.sqrt() if p.requires_grad else p.sqrt_()

    def forward(self, x: Tensor, output_format: Optional[str] = None) -> Tensor:
        """Spectrogram of ``x`` in ``output_format`` (default: the constructor's)."""
        output_format = output_format or self.output_format
        check_choice("output_format", output_format, _base.OUTPUT_FORMATS)
        x, lead = as_batch(x)
        if output_format == "Magnitude":
            return restore(self.power(x, magnitude=True), lead)
        re, im = self.spectrum(x)
        if output_format == "Phase":
            out = torch.atan2(im + 0.0, re)  # + 0.0 turns -0.0 into 0.0
        elif self.return_complex:
            out = torch.complex(re, im)
        else:
            out = torch.stack((re, im), -1)
        return restore(out, lead)

    def inverse(self, X: Tensor, onesided: bool = True, length: Optional[int] = None,
                refresh_win: bool = True) -> Tensor:
        """Waveform from a "Complex" spectrogram of this STFT (see :class:`iSTFT`).

        Args:
            X (Tensor): the spectrum, real/imaginary pairs or complex.
            onesided (bool): ``X`` holds the n_fft // 2 + 1 non-negative frequencies (True, what
                this STFT outputs) or all n_fft (False); the bin count must say the same, else a
                ``ValueError``. Default True.
            length (int, optional): output length in samples. Default: what the frames cover.
            refresh_win (bool): nnAudio's switch to recompute the window envelope for this call
                (False reuses the one cached by the previous call). Here the envelope is computed
                for every call, which is what True asks for, so both values give the same, correct
                result for any ``length``. Default True.

        Shape:
            X: (B, F, N, 2) or complex (B, F, N) (also with a channel axis); output: (B, T)
        """
        if self.freq_scale != "no":
            raise ValueError(f"inverse needs freq_scale='no', got {self.freq_scale!r}")
        if not isinstance(onesided, bool) or not isinstance(refresh_win, bool):
            raise TypeError(f"onesided and refresh_win must be bool, got onesided={onesided!r}, "
                            f"refresh_win={refresh_win!r}")
        from ._istft import inverse_stft, split_complex

        bins = split_complex(X)[0].shape[1]
        want = self.n_fft // 2 + 1 if onesided else self.n_fft
        if bins != want:
            raise ValueError(f"X must have {want} frequency bins for onesided={onesided} "
                             f"({'n_fft // 2 + 1' if onesided else 'n_fft'}, n_fft={self.n_fft}), got "
                             f"{bins}; pass onesided={not onesided} if X holds "
                             f"{'all n_fft' if onesided else 'n_fft // 2 + 1'} bins")
        return inverse_stft(X, self.window, self.n_fft, self.hop_length, self.center, length)

    def summary(self) -> List[Tuple[str, Any]]:
        out: List[Tuple[str, Any]] = [("n_fft", self.n_fft), ("hop_length", self.hop_length),
                                      ("backend", self.backend)]
        if self.win_length != self.n_fft:
            out.append(("win_length", self.win_length))
        if self.freq_scale != "no":
            out += [("freq_scale", self.freq_scale), ("freq_bins", self.freq_bins)]
        if self.trainable:
            out.append(("trainable", True))
        return out + [("output_format", self.output_format)]
