"""nnAudio's first constant-Q classes, kept for old code: :class:`CQT1992` (one STFT of full-width
frames times frequency-domain kernels) and :class:`CQT2010` (the same per octave, the input halved
with nnAudio's FIR filters). Same numbers and state dict keys as nnAudio 0.3; for new code prefer
:class:`~nnaudio_data.features.CQT1992v2` / :class:`~nnaudio_data.features.CQT2010v2`.

Without ``trainable_STFT`` the frames' spectra come from ``torch.fft.rfft`` instead of nnAudio's
(W/2+1, 1, W) sine and cosine kernels (half a gigabyte each at W = 16384), which are then not held;
nnAudio's states still load (those Fourier kernels are checked and dropped).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..functional._cqt import nnaudio_kernels
from ..functional._cqt_plan import nnaudio_fir_plan
from ..functional._spectral import PAD_MODES
from ._base import OUTPUT_FORMATS, flat_signal, register_kernel, restore
from .._checks import check_choice
from ._multirate import NORMALIZATIONS, fir_decimate
from ._transform import Transform
from ._cqt import bin_frequencies, check_args


def _pad(x: Tensor, n: int, mode: str) -> Tensor:
    """nnAudio's centring: reflect (constant when the clip is too short to reflect) or zeros."""
    mode = "reflect" if mode == "reflect" and x.shape[-1] > n else "constant"
    return F.pad(x.unsqueeze(1), (n, n), mode=mode).squeeze(1)


def _drop_fourier(module: "_LegacyCQT", state: dict, prefix: str, local_metadata, strict,
                  missing_keys, unexpected_keys, error_msgs) -> None:
    """Fixed-STFT modules hold no Fourier kernels: check nnAudio's and drop them."""
    if module.trainable_STFT or prefix + "wcos" not in state:
        return
    wcos, wsin = state.pop(prefix + "wcos"), state.pop(prefix + "wsin", None)
    rows = [0, 1, wcos.shape[0] - 1]
    w = module.n_fft
    phase = 2 * math.pi * (torch.tensor(rows, dtype=torch.float64)[:, None]
                           * torch.arange(w, dtype=torch.float64) % w) / w
    ok = torch.allclose(wcos[rows, 0].double(), phase.cos(), atol=1e-5) and (
        wsin is None or torch.allclose(wsin[rows, 0].double(), phase.sin(), atol=1e-5))
    if not ok:
        error_msgs.append(f"{prefix}wcos/wsin: the state holds Fourier kernels that differ from the "
                          f"DFT's (trained?); build {type(module).__name__}(trainable_STFT=True)")


class _LegacyCQT(Transform):
    """Shared by CQT1992 and CQT2010: kernels, the frame spectra, the kernel product, output."""

    n_fft: int  # set here; the rest by each subclass
    pad_mode: str
    output_format: str
    lenghts: Tensor  # buffers, or Parameters when trainable (declared for the type checker)
    wcos: Tensor  # trainable_STFT only
    wsin: Tensor
    cqt_kernels_real: Tensor
    cqt_kernels_imag: Tensor

    def _kernels(self, basis: np.ndarray, lengths: np.ndarray, trainable_STFT: bool,
                 trainable_CQT: bool) -> None:
        self.n_fft, self.trainable_STFT = basis.shape[-1], trainable_STFT
        half = np.fft.fft(basis.astype(np.complex64), axis=1)[:, : self.n_fft // 2 + 1]
        self.register_buffer("lenghts", torch.tensor(lengths, dtype=torch.float32))
        if trainable_STFT:  # nnAudio's conv1d DFT kernels, (W/2+1, 1, W)
            w = self.n_fft
            phase = 2 * np.pi * (np.arange(w // 2 + 1)[:, None] * np.arange(w)[None, :] % w) / w
            for name, k in (("wsin", np.sin(phase)), ("wcos", np.cos(phase))):
                register_kernel(self, name, torch.tensor(k[:, None, :], dtype=torch.float32), True)
        for name, k in (("cqt_kernels_real", half.real), ("cqt_kernels_imag", half.imag)):
            register_kernel(self, name, torch.tensor(k, dtype=torch.float32), trainable_CQT)
        self.register_load_state_dict_pre_hook(_drop_fourier)

    def _cqt(self, x: Tensor, hop: int, center: bool = True) -> Tensor:
        """(B, T) -> (B, F, N, 2): frames of W samples (centred) every ``hop``, times the kernels;
        nnAudio's ``complex_mul`` result (its CQT1992 negates the imaginary part, CQT2010 not)."""
        if center:
            x = _pad(x, self.n_fft // 2, self.pad_mode)
        if self.trainable_STFT:
            fr = F.conv1d(x.unsqueeze(1), self.wcos.to(x), stride=hop)
            fi = F.conv1d(x.unsqueeze(1), self.wsin.to(x), stride=hop)
        else:
            spec = torch.fft.rfft(x.unfold(-1, self.n_fft, hop)).transpose(1, 2)
            fr, fi = spec.real, -spec.imag
        kr, ki = self.cqt_kernels_real.to(x), self.cqt_kernels_imag.to(x)
        return torch.stack((kr @ fr - ki @ fi, kr @ fi + ki @ fr), -1)

    def _output(self, cqt: Tensor, output_format, normalization_type: str, lead) -> Tensor:
        output_format = output_format or self.output_format
        check_choice("output_format", output_format, OUTPUT_FORMATS)
        if normalization_type == "librosa":
            cqt = cqt * torch.sqrt(self.lenghts.to(cqt).view(-1, 1, 1)) / self.n_fft
        elif normalization_type == "wrap":
            cqt = cqt * (2.0 / self.n_fft)
        elif normalization_type != "convolutional":
            raise ValueError(f"normalization_type must be one of {NORMALIZATIONS}, "
                             f"got {normalization_type!r}")
        if output_format == "Magnitude":
            out = torch.sqrt(cqt.pow(2).sum(-1))
        elif output_format == "Complex":
            out = cqt
        else:
            ang = torch.atan2(-cqt[..., 1], cqt[..., 0]) if self._phase_conj else \
                torch.atan2(cqt[..., 1], cqt[..., 0])
            out = torch.stack((torch.cos(ang), torch.sin(ang)), -1)
        return restore(out, lead)



class CQT1992(_LegacyCQT):
    """nnAudio's ``CQT1992``: frames of the kernel width W, their DFT (conv1d kernels when
    ``trainable_STFT``, else an FFT), times frequency-domain constant-Q kernels.

    Args:
        sr, hop_length, fmin, fmax, n_bins, bins_per_octave, filter_scale, norm, window, center,
        pad_mode, output_format: as :class:`~nnaudio_data.features.CQT1992v2` (``fmin`` defaults to
        220 as in nnAudio, whose other defaults then put the top bin above sr / 2: pass ``fmin``).
        trainable_STFT (bool): the DFT kernels ``wsin`` / ``wcos`` as ``nn.Parameter``. Default False.
        trainable_CQT (bool): the constant-Q kernels as ``nn.Parameter``. Default False.

    Shape:
        x: (T,), (B, T), (B, 1, T) -> (B, F, N); (B, C, T) -> (B, C, F, N); "Complex" and "Phase"
        add a last axis of 2. N = T // hop_length + 1 when centred.

    Example:
        >>> import torch
        >>> cqt = CQT1992(sr=8000, fmin=55.0, n_bins=48, hop_length=256)
        >>> cqt(torch.randn(2, 4000)).shape
        torch.Size([2, 48, 16])
    """

    _phase_conj = True  # nnAudio's phase uses its pre-conjugation imaginary part

    def __init__(self, sr=22050, hop_length=512, fmin=220, fmax=None, n_bins=84,
                 trainable_STFT=False, trainable_CQT=False, bins_per_octave=12, filter_scale=1,
                 output_format="Magnitude", norm=1, window="hann", center=True, pad_mode="reflect"):
        super().__init__()
        check_args(sr, hop_length, fmin, fmax, n_bins, bins_per_octave, filter_scale, "nnaudio")
        n_bins, freqs = bin_frequencies(sr, fmin, fmax, n_bins, bins_per_octave)
        check_choice("output_format", output_format, OUTPUT_FORMATS)
        check_choice("pad_mode", pad_mode, PAD_MODES)
        q = float(filter_scale) / (2 ** (1 / bins_per_octave) - 1)
        basis, lengths = nnaudio_kernels(q, sr, freqs, norm, window)
        self.hop_length, self.center, self.pad_mode = int(hop_length), center, pad_mode
        self.output_format, self.frequencies = output_format, freqs
        self._kernels(basis, lengths, trainable_STFT, trainable_CQT)

    def forward(self, x: Tensor, output_format=None, normalization_type="librosa") -> Tensor:
        """Transform ``x``; see the class docstring for shapes and formats."""
        x, lead = flat_signal(x)
        cqt = self._cqt(x, self.hop_length, self.center) * x.new_tensor([1.0, -1.0])
        return self._output(cqt, output_format, normalization_type, lead)


class CQT2010(_LegacyCQT):
    """nnAudio's ``CQT2010``: :class:`CQT1992`'s frame-spectrum product for the top octave, the input
    halved with nnAudio's FIR low-pass for each octave below (one kernel for all octaves).

    Args:
        sr, hop_length, fmin, fmax, n_bins, bins_per_octave, filter_scale, window, pad_mode,
        output_format, earlydownsample: as :class:`~nnaudio_data.features.CQT2010v2` (``fmax`` is
        ignored, ``norm`` is accepted and unused, as in nnAudio).
        basis_norm (int | None): kernel normalisation. Default 1.
        trainable_STFT, trainable_CQT (bool): as :class:`CQT1992`. Default False.
        verbose (bool): accepted for compatibility; nothing is printed.

    Shape:
        as :class:`CQT1992`.

    Example:
        >>> import torch
        >>> cqt = CQT2010(sr=8000, fmin=55.0, n_bins=48, hop_length=256)
        >>> cqt(torch.randn(4000)).shape
        torch.Size([1, 48, 16])
    """

    _phase_conj = False

    lowpass_filter: Tensor  # buffers (declared for the type checker)
    early_downsample_filter: Optional[Tensor]

    def __init__(self, sr=22050, hop_length=512, fmin=32.70, fmax=None, n_bins=84,
                 bins_per_octave=12, norm=True, basis_norm=1, window="hann", pad_mode="reflect",
                 trainable_STFT=False, filter_scale=1, trainable_CQT=False,
                 output_format="Magnitude", earlydownsample=True, verbose=True):
        super().__init__()
        check_args(sr, hop_length, fmin, None, n_bins, bins_per_octave, filter_scale, "nnaudio")
        check_choice("output_format", output_format, OUTPUT_FORMATS)
        check_choice("pad_mode", pad_mode, PAD_MODES)
        plan = nnaudio_fir_plan(sr, hop_length, fmin, n_bins, bins_per_octave, filter_scale,
                                basis_norm, 0.0, earlydownsample)
        factor = plan.fir["factor"]
        basis = np.conj(plan.kernels[0] / factor)  # the plan holds the applied, conjugated kernel
        self.hop_length, self.pad_mode, self.n_bins = int(hop_length), pad_mode, int(n_bins)
        self.output_format, self.frequencies, self._factor = output_format, plan.freqs, factor
        self._levels = [o.level for o in plan.octaves]
        self._hops = [o.hop for o in plan.octaves]
        self.register_buffer("lowpass_filter", torch.from_numpy(plan.fir["halfband"])[None, None])
        first = plan.fir["first"]
        self.register_buffer("early_downsample_filter",
                             None if first is None else torch.from_numpy(first)[None, None])
        self._kernels(basis, plan.scales["librosa"] ** 2, trainable_STFT, trainable_CQT)

    def forward(self, x: Tensor, output_format=None, normalization_type="librosa") -> Tensor:
        """Transform ``x``; see the class docstring for shapes and formats."""
        x, lead = flat_signal(x)
        first = None if self.early_downsample_filter is None else self.early_downsample_filter.view(-1)
        levels = fir_decimate(x, self._levels, first, self._factor, self.lowpass_filter.view(-1))
        parts = [self._cqt(levels[d], hop) for d, hop in zip(self._levels, self._hops)]
        cqt = torch.cat(parts[::-1], 1)[:, -self.n_bins:]
        return self._output(cqt, output_format, normalization_type, lead)
