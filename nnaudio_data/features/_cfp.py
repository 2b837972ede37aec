"""Combined frequency and periodicity (CFP) with nnAudio 0.3's names and arguments: :class:`CFP` and
the four-output :class:`Combined_Frequency_Periodicity`.

A multi-pitch feature (Su & Yang, 2015): the spectrum and the cepstrum, each compressed by a power
law, both mapped onto the same log-spaced bins and multiplied, so that only pitches that show both
harmonics (frequency) and periodicity (quefrency) stay.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..functional._cfp import cfp_logfreq_matrices
from ..functional._windows import get_window
from ._base import flat_signal, restore
from ._transform import Transform
from .._checks import check_arg

_EPS = 1e-8  # inside log() for a layer with g = 0, as nnAudio


def _stft_magnitude(x: Tensor, n_fft: int, hop_length: int, window: Tensor) -> Tensor:
    """Two-sided |STFT| of (B, T), frames centred with zero padding: (B, N, n_fft)."""
    spec = torch.stft(x, n_fft, hop_length=hop_length, win_length=window.shape[-1], window=window,
                      center=True, pad_mode="constant", onesided=False, return_complex=True)
    return spec.abs().transpose(1, 2)


def _from_nnaudio_state(module: "CFP", state: dict, prefix: str, *args) -> None:
    """nnAudio names the Blackman-Harris window ``h``."""
    if prefix + "h" in state:
        state[prefix + "window"] = state.pop(prefix + "h")


class CFP(Transform):
    """Combined frequency and periodicity feature ``Z = tfrLF * tfrLQ``, nnAudio's ``CFP``.

    Args:
        fr (float): frequency resolution in Hz (the STFT has ``N = fs / fr`` points). Default 2.
        fs (int): sample rate in Hz. Default 16000.
        hop_length (int): hop in samples. Default 320.
        window_size (int): Blackman-Harris window length, <= N. Default 2049.
        fc (float): lowest frequency in Hz. Default 80.
        tc (float): 1 / highest frequency in Hz, with 1 / tc <= fs / 2. Default 1 / 1000.
        g (sequence of float): power-law exponent of each layer (0: log). Default [0.24, 0.6, 1].
        NumPerOct (int): log bins per octave. Default 48.

    Shape:
        x: (T,), (B, T), (B, 1, T) -> (B, F, N); (B, C, T) -> (B, C, F, N), with
        F = number of centre frequencies - 1 and N = T // hop_length + 1.

    As nnAudio, row 0 of the output is zero. Unlike nnAudio, a layer's cutoff of 0 bins zeroes nothing
    (nnAudio's ``X[..., -0:] = 0`` zeroes the whole layer).

    Example:
        >>> cfp = CFP(fs=8000, fr=4, fc=100, tc=1 / 2000, window_size=1025, hop_length=160)
        >>> cfp(torch.randn(2, 8000)).shape
        torch.Size([2, 207, 51])
    """

    window: Tensor  # buffers (declared for the type checker)
    freq2logfreq_matrix: Tensor
    quef2logfreq_matrix: Tensor

    def __init__(self, fr=2, fs=16000, hop_length=320, window_size=2049, fc=80, tc=1 / 1000,
                 g: Sequence[float] = [0.24, 0.6, 1], NumPerOct=48):  # nnAudio's default (a list)
        super().__init__()
        check_arg(fr > 0, "fr", "> 0", fr)
        check_arg(fs > 0, "fs", "> 0", fs)
        n = int(fs / float(fr))
        check_arg(isinstance(hop_length, int) and not hop_length <= 0, "hop_length",
                  "a positive int", hop_length)
        check_arg(isinstance(window_size, int) and 0 < window_size <= n, "window_size",
                  f"an int in (0, fs / fr] = (0, {n}]", window_size)
        check_arg(0 < fc < 1 / tc, "fc", f"in (0, 1 / tc) = (0, {1 / tc})", fc)
        if 1 / tc > fs / 2:
            raise ValueError(f"1 / tc must be <= fs / 2 ({fs / 2}), got {1 / tc}")
        if len(g) < 2:
            raise ValueError(f"g must hold at least 2 layer exponents, got {list(g)!r}")
        self.fr, self.fs, self.hop_length, self.window_size, self.N = fr, fs, hop_length, window_size, n
        self.g = [float(v) for v in g]
        self.tc_idx, self.fc_idx = int(round(fs * tc)), int(round(fc / fr))
        self.high_freq_idx, self.high_quef_idx = int(round((1 / tc) / fr) + 1), int(round(fs / fc) + 1)
        freq, quef = cfp_logfreq_matrices(fs, fr, fc, tc, NumPerOct)
        self.register_buffer("window", get_window("blackmanharris", window_size, fftbins=False))  # symmetric
        self.register_buffer("freq2logfreq_matrix", torch.tensor(freq, dtype=torch.float32))
        self.register_buffer("quef2logfreq_matrix", torch.tensor(quef, dtype=torch.float32))
        self.register_load_state_dict_pre_hook(_from_nnaudio_state)

    def _layer(self, x: Tensor, g: float, cutoff: int) -> Tensor:
        x = torch.fft.fft(x).real / np.sqrt(self.N)
        x = torch.log(x.relu() + _EPS) if g == 0 else x.relu()
        if cutoff:
            keep = torch.ones(x.shape[-1], dtype=x.dtype, device=x.device)
            keep[:cutoff] = 0
            keep[-cutoff:] = 0
            x = x * keep
        return x if g == 0 else x.pow(g)

    def _parts(self, x: Tensor, drop_edges: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
        """(B', T) -> |STFT| (B', N, n_fft) and the last spectrum and cepstrum layers."""
        window = self.window.to(x.dtype)
        tfr0 = _stft_magnitude(x, self.N, self.hop_length, window) / torch.linalg.norm(window)
        if drop_edges:
            tfr0 = tfr0[:, 1:-1]
        spec = tfr0.relu().pow(self.g[0])
        ceps = spec
        for i, g in enumerate(self.g[1:], start=1):
            if i % 2:
                ceps = self._layer(spec, g, self.tc_idx)
            else:
                spec = self._layer(ceps, g, self.fc_idx)
        return tfr0, spec, ceps

    def _log_bins(self, spec: Tensor, quef: bool = False) -> Tensor:
        """(B', N, n_fft) -> (B', F, N) on the log-spaced bins."""
        half = int(round(self.N / 2))
        if quef:
            return self.quef2logfreq_matrix.to(spec.dtype) @ \
                spec[..., :half][..., : self.high_quef_idx].transpose(1, 2)
        return self.freq2logfreq_matrix.to(spec.dtype) @ \
            spec[..., :half][..., : self.high_freq_idx].transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        """Z for ``x``; see the class docstring for shapes."""
        flat, lead = flat_signal(x)
        _, tfr, ceps = self._parts(flat)
        z = self._log_bins(tfr) * self._log_bins(ceps, quef=True)
        z = restore(z, lead)
        return z if x.dtype == z.dtype else z.to(x.dtype)


class Combined_Frequency_Periodicity(CFP):
    """nnAudio's ``Combined_Frequency_Periodicity``: :class:`CFP` without the first and last frames,
    returning its four layers ``(Z, tfrL0, tfrLF, tfrLQ)``.

    Args:
        as :class:`CFP`.

    Shape:
        x: (T,), (B, T), (B, 1, T) -> four (B, F, N - 2) tensors ((B, C, F, N - 2) for C > 1):
        ``Z = tfrLF * tfrLQ``; ``tfrL0`` the magnitude spectrum, ``tfrLF`` the last spectrum layer,
        ``tfrLQ`` the last cepstrum layer, all on the log-spaced bins. N = T // hop_length + 1.

    Example:
        >>> cfp = Combined_Frequency_Periodicity(fs=8000, fr=4, fc=100, tc=1 / 2000,
        ...                                      window_size=1025, hop_length=160)
        >>> [tuple(t.shape) for t in cfp(torch.randn(2, 8000))][0]
        (2, 207, 49)
    """

    # nnAudio's API: this subclass returns four tensors where CFP returns Z alone
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:  # type: ignore[override]
        """(Z, tfrL0, tfrLF, tfrLQ) for ``x``; see the class docstring for shapes."""
        flat, lead = flat_signal(x)
        tfr0, tfr, ceps = self._parts(flat, drop_edges=True)
        lf, lq = self._log_bins(tfr), self._log_bins(ceps, quef=True)
        out = (lf * lq, self._log_bins(tfr0), lf, lq)
        return tuple(restore(t, lead).to(x.dtype if x.is_floating_point() else t.dtype)
                     for t in out)
