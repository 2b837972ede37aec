"""Multirate plans for the constant-Q family: which octave reads which decimation level, with which
kernel, hop, padding and offset (pure functions; the engine in ``features/_multirate.py`` runs them).

- :func:`librosa_plan`: ``librosa.vqt`` / ``librosa.cqt`` (early downsampling, one halving per octave
  while the hop is even, frames of ``n_fft`` centred with ``n_fft // 2`` padding at each level).
- :func:`nnaudio_direct_plan`: nnAudio's CQT1992v2 (one full-rate convolution with full-width
  kernels), evaluated per octave at the lowest rate that still holds each octave's band: same numbers,
  a fraction of the work.
- :func:`nnaudio_fir_plan`: nnAudio's CQT2010v2 and VQT (its FIR decimation chain, one kernel reused
  per octave, or one per octave with ``gamma``).

Kernels are "convolutional"-normalised: a unit-amplitude tone at a bin's centre gives about 0.5;
``scales`` holds the per-bin factors for ``normalization_type`` ("librosa", "convolutional", "wrap").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ._cqt import (cqt_frequencies, early_downsample_count, librosa_lengths, librosa_octave_kernel,
                  nnaudio_kernels, nnaudio_lowpass, two_factors)


@dataclass(frozen=True)
class Octave:
    """One octave: output bins [lo, hi) (``lo < 0``: drop the kernel's first ``-lo`` rows), read at
    ``level`` halvings of the input rate, padded by ``pad`` each side, framed from ``offset`` every
    ``hop`` samples, multiplied by kernel number ``kernel``."""

    lo: int
    hi: int
    level: int
    hop: int
    pad: int
    offset: int
    kernel: int


@dataclass
class Plan:
    octaves: List[Octave]
    kernels: List[np.ndarray]  # complex (F_o, W_o), applied as sum_n x[n] k[n]
    scales: Dict[str, np.ndarray]  # normalization_type -> (n_bins,)
    freqs: np.ndarray
    pre_pad: int = 0  # full-rate padding each side before decimation
    fir: Optional[dict] = field(default=None)  # {"first": taps or None, "factor": int, "halfband": taps}
    full_width: Optional[int] = None  # frames counted as one full-rate convolution of this width


def _scales(lengths: np.ndarray) -> Dict[str, np.ndarray]:
    n = len(lengths)
    return {"librosa": np.sqrt(lengths), "convolutional": np.ones(n), "wrap": np.full(n, 2.0)}


def _octave_bins(n_bins: int, per: int, i: int) -> tuple:
    hi = n_bins - i * per
    return hi - per, hi


def librosa_plan(sr: float, hop: int, fmin: float, n_bins: int, bins_per_octave: int,
                 filter_scale: float = 1, norm: Optional[float] = 1, window="hann", gamma: float = 0.0,
                 sparsity: float = 0.01, earlydownsample: bool = True) -> Plan:
    """``librosa.vqt(y, sr, hop, fmin, n_bins, gamma=gamma, tuning=0, ...)`` as a plan.

    Example:
        >>> p = librosa_plan(22050, 512, 32.70, 84, 12)
        >>> [(o.level, o.hop, o.kernel) for o in p.octaves][:3], p.kernels[0].shape, len(p.kernels)
        ([(0, 512, 0), (1, 256, 0), (2, 128, 0)], (12, 256), 1)
    """
    freqs = cqt_frequencies(fmin, n_bins, bins_per_octave)
    lengths, cutoff = librosa_lengths(freqs, sr, window, filter_scale, gamma, bins_per_octave)
    if cutoff > sr / 2:
        raise ValueError(f"the top filter must end below sr / 2 ({sr / 2}), got {cutoff:.1f} Hz: "
                         "reduce n_bins or fmin")
    n_oct = -(-n_bins // bins_per_octave)
    per = min(bins_per_octave, n_bins)
    level = early_downsample_count(sr / 2, cutoff, two_factors(hop), n_oct) if earlydownsample else 0
    my_hop = hop >> level
    octaves: List[Octave] = []
    kernels: List[np.ndarray] = []
    for i in range(n_oct):
        lo, hi = _octave_bins(n_bins, per, i)
        lo = max(lo, 0)
        k, n_fft = librosa_octave_kernel(sr / 2 ** level, freqs[lo:hi], lengths[lo:hi] / 2 ** level,
                                         norm, window, sparsity)
        k = k * (2.0 ** level / lengths[lo:hi, None])
        same = kernels and kernels[-1].shape == k.shape and np.allclose(
            kernels[-1], k, rtol=0, atol=1e-9 * np.abs(k).max())
        if not same:  # one octave down at half the rate is the same kernel: store it once
            kernels.append(k)
        octaves.append(Octave(lo, hi, level, my_hop, n_fft // 2, 0, len(kernels) - 1))
        if my_hop % 2 == 0:
            my_hop //= 2
            level += 1
    return Plan(octaves, kernels, _scales(lengths), freqs)


def _out_of_band(kernels: np.ndarray, sr: float, edge: float) -> float:
    """Largest share (amplitude, sqrt of energy) of a kernel's spectrum above ``edge`` Hz."""
    energy = np.abs(np.fft.fft(kernels, axis=1)) ** 2
    out = np.abs(np.fft.fftfreq(kernels.shape[1], 1.0 / sr)) > edge
    return float(np.sqrt((energy[:, out].sum(1) / energy.sum(1)).max()))


def nnaudio_direct_plan(sr: float, hop: int, freqs: np.ndarray, bins_per_octave: int,
                        filter_scale: float = 1, norm: Optional[float] = 1, window="hann",
                        center: bool = True, passband: float = 0.9, tol: float = 3e-6,
                        full: bool = False) -> Plan:
    """nnAudio's CQT1992v2 (full-rate kernels of width W, input padded by W // 2 when centred).

    Octave ``o`` is read at the deepest level ``d`` (halvings of the rate, dividing the hop) whose
    flat band (``passband`` of its Nyquist frequency) holds all but ``tol`` of each of the octave's
    kernels (share of spectral amplitude); the kernel is cropped to its support and subsampled by
    ``2 ** d``. For band-limited kernels this is the same sum as the full-rate one; what a level
    drops is the kernels' spectrum beyond its band (for Hann windows, sidelobes some 30 bins away).
    Level 0 is the full-rate sum itself, so windows with heavy sidelobes stay exact, only slower.
    ``full=True`` keeps nnAudio's layout instead: one octave, all bins, the full-width kernels at the
    full rate (what a trainable transform needs, so that every tap of nnAudio's kernels is held).

    Example:
        >>> p = nnaudio_direct_plan(22050, 512, cqt_frequencies(32.70, 84, 12), 12)
        >>> [o.level for o in p.octaves], p.pre_pad
        ([0, 0, 1, 2, 3, 4, 5], 8192)
    """
    q = float(filter_scale) / (2 ** (1 / bins_per_octave) - 1)
    kern, lengths = nnaudio_kernels(q, sr, freqs, norm, window)
    kern = np.conj(kern)
    n_bins, width = kern.shape
    pre_pad = width // 2 if center else 0
    if full:
        return Plan([Octave(0, n_bins, 0, hop, 0, 0, 0)], [kern], _scales(lengths), freqs,
                    pre_pad=pre_pad, full_width=width)
    octaves, kernels = [], []
    for i in range(-(-n_bins // bins_per_octave)):
        lo, hi = _octave_bins(n_bins, bins_per_octave, i)
        lo = max(lo, 0)
        cols = np.nonzero(np.abs(kern[lo:hi]).max(axis=0))[0]
        d = 0
        while hop % 2 ** (d + 1) == 0 and \
                _out_of_band(kern[lo:hi], sr, passband * sr / 2 ** (d + 2)) <= tol:
            d += 1
        a, b = (cols[0] >> d) << d, -(-(cols[-1] + 1) >> d) << d
        kernels.append(kern[lo:hi, a:b:2 ** d] * 2 ** d)
        octaves.append(Octave(lo, hi, d, hop >> d, 0, a >> d, i))
    return Plan(octaves, kernels, _scales(lengths), freqs, pre_pad=pre_pad, full_width=width)


def nnaudio_fir_plan(sr: float, hop: int, fmin: float, n_bins: int, bins_per_octave: int,
                     filter_scale: float = 1, basis_norm: Optional[float] = 1, gamma: float = 0.0,
                     earlydownsample: bool = True, per_octave: bool = False) -> Plan:
    """nnAudio's CQT2010v2 (``per_octave=False``: one top-octave kernel for all octaves) and VQT
    (``per_octave=True``: kernels built per octave, with ``gamma``, at the rates nnAudio uses).

    Example:
        >>> p = nnaudio_fir_plan(22050, 512, 32.70, 84, 12)
        >>> p.fir["factor"], [o.hop for o in p.octaves][:3], len(p.kernels)
        (1, [512, 256, 128], 1)
    """
    q = float(filter_scale) / (2 ** (1 / bins_per_octave) - 1)
    per = min(bins_per_octave, n_bins)
    n_oct = -(-n_bins // bins_per_octave)
    rem = n_bins % bins_per_octave
    fmax_t = fmin * 2 ** (n_oct - 1) * 2 ** (((rem or bins_per_octave) - 1) / bins_per_octave)
    fmin_t = fmax_t / 2 ** (1 - 1 / bins_per_octave)
    if fmax_t > sr / 2:
        raise ValueError(f"the top bin must be <= sr / 2 ({sr / 2}), got {fmax_t:.1f} Hz: reduce n_bins")
    count = 0
    if earlydownsample:
        cutoff = fmax_t * (1 + 0.5 * 1.5 / q)
        count = early_downsample_count(sr // 2, cutoff, int(np.ceil(np.log2(hop))), n_oct, margin=0.85)
    factor = 2 ** count
    sr_e, hop_e = sr / factor, hop // factor
    first = nnaudio_lowpass(1 / factor, 256, 0.03) if factor > 1 else None
    freqs = cqt_frequencies(fmin, n_bins, bins_per_octave)
    alpha = 2.0 ** (1.0 / bins_per_octave) - 1.0
    lengths = np.ceil(q * sr_e / (freqs + gamma / alpha))
    octaves, kernels = [], []
    for i in range(n_oct if per_octave else 1):
        # nnAudio's VQT builds octave i at sr / 2**i from the *input* rate, even after early
        # downsampling; kept as is so that the numbers match.
        k_sr = sr / 2 ** i if per_octave else sr_e
        k, _ = nnaudio_kernels(q, k_sr, cqt_frequencies(fmin_t * 2.0 ** -i, per, bins_per_octave),
                               basis_norm, "hann", gamma, bins_per_octave)
        kernels.append(np.conj(k.astype(np.complex64)).astype(np.complex128) * factor)
    for i in range(n_oct):
        lo, hi = _octave_bins(n_bins, per, i)
        k = kernels[i if per_octave else 0]
        octaves.append(Octave(lo, hi, count + i, hop_e // 2 ** i, k.shape[1] // 2, 0,
                              i if per_octave else 0))
    fir = {"first": first, "factor": factor, "halfband": nnaudio_lowpass(0.5, 256, 0.001)}
    return Plan(octaves, kernels, _scales(lengths), freqs, fir=fir)
