"""The multirate engine shared by the constant-Q family: decimate once per octave, frame, multiply.

A transform is a *plan*: for each octave, the output bins it fills, the decimation level (halvings of
the input rate) it reads, its hop, padding and first-frame offset at that rate, and a complex kernel
(F_o, W_o) applied to each frame. Two decimators: FFT (the band below a raised-cosine taper,
inverse-transformed at half the length: zero phase, no aliasing; once to the first level, then one
halving per level, as librosa cascades) and FIR (nnAudio's strided ``firwin2`` convolutions, kept to
reproduce its CQT2010v2 / VQT).
Two backends per octave: ``"conv"`` (frames x time-domain kernel, one strided conv1d) and ``"fft"``
(one-sided FFT of the frames x the kernel's frequency band).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..functional._cqt_plan import Octave, Plan
from ..functional._spectral import PAD_MODES
from ._base import OUTPUT_FORMATS, flat_signal, restore
from .._checks import check_choice
from ._nnaudio_state import from_nnaudio_state
from ._transform import Transform

NORMALIZATIONS = ("librosa", "convolutional", "wrap")
BACKENDS = ("auto", "conv", "fft")


def _fft_size(n: int, multiple: int) -> int:
    """Smallest m >= n, a multiple of ``multiple`` whose quotient has no prime factor above 5."""
    q = -(-n // multiple)
    while True:
        r = q
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return q * multiple
        q += 1


def fft_downsample(x: Tensor, k: int, passband: float = 0.9) -> Tensor:
    """Decimate ``x`` (..., T) by ``2 ** k`` to ``ceil(T / 2 ** k)`` samples in the frequency domain.

    The band below ``passband`` of the new Nyquist frequency is kept untouched, a raised cosine
    takes it to zero at that frequency; amplitude is preserved and sample ``m`` sits at input time
    ``m * 2 ** k`` (zero phase). The clip is zero-extended so that the filter's tails do not wrap.
    """
    t, f = x.shape[-1], 1 << k
    n = _fft_size(t + (int(math.ceil(8.0 / (1.0 - passband))) << k), f)
    bins = (n >> k) // 2 + 1
    spec = torch.fft.rfft(x, n=n)[..., :bins]
    y = torch.fft.irfft(spec * _taper(bins, passband, f, x.dtype, x.device), n=n >> k)
    return y[..., : -(-t // f)]


_TAPERS: Dict[tuple, Tensor] = {}


def _taper(bins: int, passband: float, factor: int, dtype: torch.dtype, device: torch.device
           ) -> Tensor:
    """The decimation filter's response on ``bins`` one-sided bins, divided by ``factor`` (cached)."""
    key = (bins, passband, factor, dtype, device)
    if key not in _TAPERS:
        if len(_TAPERS) > 256:
            _TAPERS.clear()
        g = torch.linspace(0.0, 1.0, bins, dtype=torch.float64)
        w = 0.5 + 0.5 * torch.cos(math.pi * ((g - passband) / (1.0 - passband)).clamp(0.0, 1.0))
        _TAPERS[key] = (w / factor).to(device=device, dtype=dtype)
    return _TAPERS[key]


def fft_decimate(x: Tensor, levels: Sequence[int], passband: float = 0.9) -> Dict[int, Tensor]:
    """Signals at each of ``levels`` (halvings of the rate): one :func:`fft_downsample` to the first
    level, then one halving per level, each cropped as it goes (librosa's cascade, so that edges
    agree with it)."""
    lv = sorted(set(levels))
    y = fft_downsample(x, lv[0], passband) if lv[0] else x
    out = {lv[0]: y}
    for d in range(lv[0] + 1, lv[-1] + 1):
        y = fft_downsample(y, 1, passband)
        out[d] = y
    return out


def fir_decimate(x: Tensor, levels: Sequence[int], first: Optional[Tensor], first_factor: int,
                 halfband: Tensor) -> Dict[int, Tensor]:
    """nnAudio's chain: level ``levels[0]`` by ``first`` (stride ``first_factor``), each further level
    by ``halfband`` with stride 2; both convolutions zero-padded by ``(taps - 1) // 2``."""
    def down(y: Tensor, k: Tensor, stride: int) -> Tensor:
        k = k.to(y.dtype).view(1, 1, -1)
        return F.conv1d(y.unsqueeze(1), k, stride=stride, padding=(k.shape[-1] - 1) // 2).squeeze(1)

    lv = sorted(set(levels))
    y = down(x, first, first_factor) if first is not None else x
    out = {lv[0]: y}
    for d in range(lv[0] + 1, lv[-1] + 1):
        y = down(y, halfband, 2)
        out[d] = y
    return out


def band_of(kernel: np.ndarray, tol: float = 1e-7) -> Tuple[int, int]:
    """One-sided FFT bins [lo, hi) outside which the frame spectrum does not reach the output."""
    w = kernel.shape[-1]
    kh = np.fft.ifft(kernel, axis=-1) * w
    mag = np.abs(kh[:, : w // 2 + 1]) + np.abs(np.roll(kh[:, ::-1], 1, axis=-1)[:, : w // 2 + 1])
    keep = np.nonzero(mag.max(axis=0) > tol * mag.max())[0]
    return int(keep[0]), int(keep[-1]) + 1


def spectral_kernel(k: Tensor, band: Tuple[int, int]) -> Tensor:
    """Real (2 * n_band, 2 * F) matrix taking [Re | Im] of a frame's one-sided FFT (band bins) to
    [Re | Im] of the output, for the time-domain kernel ``k`` laid out as (W, 2F) [Re | Im]."""
    w, f2 = k.shape
    kc = torch.complex(k[:, : f2 // 2], k[:, f2 // 2:]).T  # (F, W)
    kh = torch.fft.ifft(kc, dim=-1)  # sum_n k[n] e^{+2 pi i k n / W} / W
    neg = torch.roll(kh.flip(-1), 1, dims=-1)  # kh[-k]
    idx = torch.arange(w // 2 + 1, device=k.device)
    single = (idx == 0) | (idx == w // 2)
    neg = torch.where(single, torch.zeros_like(neg[..., : w // 2 + 1]), neg[..., : w // 2 + 1])
    pos = kh[..., : w // 2 + 1]
    p, m = (pos + neg), 1j * (pos - neg)
    lo, hi = band
    p, m = p[:, lo:hi].T, m[:, lo:hi].T  # (n_band, F)
    return torch.cat([torch.cat([p.real, p.imag], 1), torch.cat([m.real, m.imag], 1)], 0)


def apply_octave(y: Tensor, k: Tensor, oc: Octave, n_frames: int, pad_mode: str, backend: str,
                 band: Tuple[int, int]) -> Tensor:
    """Frames of the level signal ``y`` (B, T_d) times kernel ``k`` (W, 2F): (B, 2F, N)."""
    w = k.shape[0]
    if oc.pad:
        mode = "reflect" if pad_mode == "reflect" and y.shape[-1] > oc.pad else "constant"
        y = F.pad(y.unsqueeze(1), (oc.pad, oc.pad), mode=mode).squeeze(1)
    y = y[..., oc.offset:]
    need = (n_frames - 1) * oc.hop + w
    if y.shape[-1] < need:
        y = F.pad(y, (0, need - y.shape[-1]))
    if backend == "fft":
        frames = y[..., :need].unfold(-1, w, oc.hop)
        spec = torch.fft.rfft(frames)[..., band[0]: band[1]]
        out = torch.cat([spec.real, spec.imag], -1) @ spectral_kernel(k, band)
        return out.transpose(1, 2)
    return F.conv1d(y[..., :need].unsqueeze(1), k.T.unsqueeze(1), stride=oc.hop)




class MultirateCQ(Transform):
    """Base module: owns a plan's kernels (buffers, or Parameters when trainable); subclasses build
    the plan. Not public."""

    hop_length: int  # set by each subclass
    kernels: Optional[nn.ParameterList]  # the kernels when trainable; else buffers kernel_<i>
    halfband: Tensor  # FIR decimation only
    early_filter: Optional[Tensor]

    def _setup(self, plan: Plan, trainable: bool, backend: str, output_format: str,
               pad_mode: str) -> None:
        check_choice("backend", backend, BACKENDS)
        check_choice("output_format", output_format, OUTPUT_FORMATS)
        check_choice("pad_mode", pad_mode, PAD_MODES)
        self.octaves, self.n_bins, self.trainable = list(plan.octaves), len(plan.freqs), trainable
        self.backend, self.output_format, self.pad_mode = backend, output_format, pad_mode
        self.frequencies, self._pre_pad, self._full_width = plan.freqs, plan.pre_pad, plan.full_width
        self.bands = [band_of(k) for k in plan.kernels]
        self.kernels = nn.ParameterList() if trainable else None
        for i, k in enumerate(plan.kernels):  # (F, W) complex -> (W, 2F) [Re | Im]
            t = torch.from_numpy(np.concatenate([k.real, k.imag], 0).T.astype(np.float32).copy())
            if self.kernels is not None:  # trainable
                self.kernels.append(nn.Parameter(t))
            else:
                self.register_buffer(f"kernel_{i}", t)
        self._n_kernels = len(plan.kernels)
        for name, s in plan.scales.items():
            self.register_buffer(f"scale_{name}", torch.from_numpy(s.astype(np.float32)))
        self._fir = plan.fir is not None
        self.register_load_state_dict_pre_hook(from_nnaudio_state)
        if plan.fir is not None:
            self._factor = plan.fir["factor"]
            self.register_buffer("halfband", torch.from_numpy(plan.fir["halfband"]))
            first = plan.fir["first"]
            self.register_buffer("early_filter", None if first is None else torch.from_numpy(first))

    def _use_full_layout(self, n_taps: int) -> None:
        """Switch an nnAudio-mode CQT1992v2 to nnAudio's layout (one octave, full-width kernels at
        the full rate), to hold kernels that the per-octave layout cannot (trained ones)."""
        for i in range(self._n_kernels):
            if not self.trainable:
                delattr(self, f"kernel_{i}")
        shape = (n_taps, 2 * self.n_bins)
        if self.trainable:
            self.kernels = nn.ParameterList([nn.Parameter(torch.zeros(shape))])
        else:
            self.register_buffer("kernel_0", torch.zeros(shape))
        self.octaves = [Octave(0, self.n_bins, 0, self.hop_length, 0, 0, 0)]
        self._n_kernels, self.bands = 1, [(0, n_taps // 2 + 1)]

    def _use_kernel_per_octave(self, shapes: Sequence[Tuple[int, int]]) -> None:
        """Give octave ``i`` its own (W_i, 2F) kernel (to hold nnAudio's VQT(gamma=0), whose kernels
        are per octave and, after early downsampling, of other widths than ours)."""
        widths = [w for w, _ in shapes]
        kernels = self.kernels  # None unless trainable
        for i, shape in enumerate(shapes):
            t = torch.zeros(shape)
            if kernels is None:
                self.register_buffer(f"kernel_{i}", t)
            elif i < len(kernels):
                kernels[i] = nn.Parameter(t)
            else:
                kernels.append(nn.Parameter(t))
        self.octaves = [dataclasses.replace(o, kernel=i, pad=w // 2)
                        for i, (o, w) in enumerate(zip(self.octaves, widths))]
        self.bands = [(0, w // 2 + 1) for w in widths]
        self._n_kernels = len(widths)

    def _kernel(self, i: int) -> Tensor:
        return self.kernels[i] if self.kernels is not None else getattr(self, f"kernel_{i}")

    @property
    def kernel_nbytes(self) -> int:
        """Bytes held by the constant-Q kernels."""
        return sum(self._kernel(i).numel() * self._kernel(i).element_size()
                   for i in range(self._n_kernels))

    def _backend(self, x: Tensor, oc: Octave) -> str:
        """``auto`` is conv1d: on CPU it timed as fast as the FFT path for librosa mode's sparse
        kernels and twice as fast for nnAudio mode's; on CUDA both are left to the benchmark."""
        return "conv" if self.backend == "auto" else self.backend

    def _levels(self, x: Tensor) -> Dict[int, Tensor]:
        if self._pre_pad:
            mode = self.pad_mode if x.shape[-1] > self._pre_pad else "constant"
            x = F.pad(x.unsqueeze(1), (self._pre_pad, self._pre_pad), mode=mode).squeeze(1)
        levels = [o.level for o in self.octaves]
        if self._fir:
            return fir_decimate(x, levels, self.early_filter, self._factor, self.halfband)
        return fft_decimate(x, levels)

    def _octave_frames(self, levels: Dict[int, Tensor], o: Octave) -> int:
        return (levels[o.level].shape[-1] + 2 * o.pad - o.offset - self._kernel(o.kernel).shape[0]) \
            // o.hop + 1

    def _n_frames(self, t: int, levels: Dict[int, Tensor]) -> int:
        """Output frames: one full-rate convolution's count, else the fewest of any octave (when
        the hop does not halve evenly, octaves differ: librosa crops to the fewest; in mode
        "nnaudio" the others are resampled to it, as nnAudio's VQT does)."""
        if self._full_width is not None:  # one full-rate convolution's frame count
            hop = self.octaves[0].hop << self.octaves[0].level
            return (t + 2 * self._pre_pad - self._full_width) // hop + 1
        return min(self._octave_frames(levels, o) for o in self.octaves)

    def _transform(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """(B, T) -> real and imaginary parts (B, F, N), convolutional normalisation."""
        levels = self._levels(x)
        n = self._n_frames(x.shape[-1], levels)
        if n < 1:
            raise ValueError(f"x must hold at least one frame, got {x.shape[-1]} samples")
        re, im = [], []
        for oc in reversed(self.octaves):  # lowest bins first
            k = self._kernel(oc.kernel).to(x.dtype)
            n_o = self._octave_frames(levels, oc) if self._fir else n
            r = apply_octave(levels[oc.level], k, oc, n_o, self.pad_mode, self._backend(x, oc),
                             self.bands[oc.kernel])
            if n_o != n:  # nnAudio's VQT: an octave with more frames is resampled linearly in time
                r = F.interpolate(r, size=n, mode="linear", align_corners=False)
            f, skip = k.shape[1] // 2, max(0, -oc.lo)
            re.append(r[:, skip:f, :n])
            im.append(r[:, f + skip:, :n])
        return torch.cat(re, 1), torch.cat(im, 1)

    def forward(self, x: Tensor, output_format: Optional[str] = None,
                normalization_type: str = "librosa") -> Tensor:
        """Transform ``x``; see the class docstring for shapes and formats."""
        output_format = output_format or self.output_format
        check_choice("output_format", output_format, OUTPUT_FORMATS)
        check_choice("normalization_type", normalization_type, NORMALIZATIONS)
        flat, lead = flat_signal(x)
        dtype = flat.dtype
        re, im = self._transform(flat)
        scale = getattr(self, f"scale_{normalization_type}").to(dtype).view(-1, 1)
        if output_format == "Magnitude":
            if self.trainable:  # as nnAudio: a floor under the root keeps the gradient finite
                out = torch.sqrt((re * scale) ** 2 + (im * scale) ** 2 + 1e-8)
            else:
                out = torch.sqrt(re * re + im * im) * scale
        elif output_format == "Complex":
            out = torch.stack((re * scale, im * scale), -1)
        else:
            ang = torch.atan2(im, re)
            out = torch.stack((torch.cos(ang), torch.sin(ang)), -1)
        out = restore(out, lead)
        return out if x.dtype == dtype else out.to(x.dtype)
