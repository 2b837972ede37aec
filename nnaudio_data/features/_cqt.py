"""Constant-Q transforms with nnAudio 0.3's names and arguments: :class:`CQT1992v2`, :class:`CQT2010v2`,
:class:`CQT` (= CQT1992v2). ``mode="nnaudio"`` reproduces nnAudio's numbers, ``mode="librosa"`` those
of ``librosa.cqt``; both run on the multirate engine (per-octave decimation, small kernels)."""
from __future__ import annotations

import math
from numbers import Integral


from ..functional._cqt import cqt_frequencies
from ..functional._cqt_plan import librosa_plan, nnaudio_direct_plan, nnaudio_fir_plan
from .._checks import check_arg, check_choice
from ._multirate import MultirateCQ

MODES = ("nnaudio", "librosa")
LAYOUTS = ("octaves", "full")


def check_args(sr, hop_length, fmin, fmax, n_bins, bins_per_octave, filter_scale, mode,
               gamma=0.0, sparsity=0.01) -> None:
    """Argument checks shared by the constant-Q family (errors name argument, rule and value)."""
    check_arg(sr > 0, "sr", "> 0", sr)
    check_arg(isinstance(hop_length, Integral) and not hop_length <= 0, "hop_length",
              "a positive int", hop_length)
    check_arg(fmin > 0, "fmin", "> 0", fmin)
    check_arg(not (fmax is not None and fmax > sr / 2), "fmax", f"<= sr / 2 ({sr / 2})", fmax)
    check_arg(not (fmax is not None and fmax <= fmin), "fmax", f"> fmin ({fmin})", fmax)
    check_arg(isinstance(n_bins, Integral) and not n_bins < 1, "n_bins", "a positive int", n_bins)
    check_arg(isinstance(bins_per_octave, Integral) and not bins_per_octave < 1, "bins_per_octave",
              "a positive int", bins_per_octave)
    check_arg(filter_scale > 0, "filter_scale", "> 0", filter_scale)
    check_arg(not gamma < 0, "gamma", ">= 0", gamma)
    check_choice("mode", mode, MODES)
    check_arg(0 <= sparsity < 1, "sparsity", "in [0, 1)", sparsity)


def bin_frequencies(sr, fmin, fmax, n_bins, bins_per_octave):
    """``(n_bins, centre frequencies)``: ``fmax``, when given, sets ``n_bins`` (as nnAudio); the top
    bin must lie at or below ``sr / 2``."""
    if fmax is not None:
        n_bins = int(math.ceil(bins_per_octave * math.log2(fmax / fmin)))
    freqs = cqt_frequencies(fmin, n_bins, bins_per_octave)
    if freqs[-1] > sr / 2:
        raise ValueError(f"the top bin must be <= sr / 2 ({sr / 2}), got {freqs[-1]:.1f} Hz: "
                         "reduce n_bins or fmin")
    return n_bins, freqs


class CQT1992v2(MultirateCQ):
    """Constant-Q transform, nnAudio's ``CQT1992v2`` (Brown & Puckette kernels, one hop for all bins).

    Args:
        sr (float): sample rate in Hz. Default 22050.
        hop_length (int): hop in samples. Default 512.
        fmin (float): centre frequency of the lowest bin in Hz. Default 32.70 (C1).
        fmax (float | None): if given, ``n_bins = ceil(bins_per_octave * log2(fmax / fmin))``.
        n_bins (int): number of bins. Default 84.
        bins_per_octave (int): Default 12.
        filter_scale (float): multiplies the filter lengths. Default 1.
        norm (int | None): kernel normalisation (1: L1, 2: L2). Default 1.
        window (str | tuple): window of each filter (scipy name). Default "hann".
        center (bool): frame ``n`` centred at sample ``n * hop_length``. Default True.
        pad_mode (str): "reflect" or "constant" padding when centred. Default "reflect".
        trainable (bool): kernels as ``nn.Parameter``. Default False.
        output_format (str): "Magnitude", "Complex" or "Phase". Default "Magnitude".
        verbose (bool): accepted for compatibility; nothing is printed.
        mode (str): "nnaudio" (nnAudio's numbers) or "librosa" (``librosa.cqt``'s: its relative
            bandwidth, multirate analysis, sparse basis; use ``pad_mode="constant"`` for its default).
        backend (str): "conv" (strided conv1d per octave), "fft" (one-sided FFT of the frames times
            the kernel's frequency band) or "auto" (= "conv", which timed as fast as or faster than
            "fft" on CPU). Both give the same numbers; ``nnaudio-data bench --only cqt`` times both
            on the device at hand, CUDA included.
        sparsity (float): librosa mode: share of each kernel's L1 mass dropped. Default 0.01.
        layout (str): mode "nnaudio": "full" (default: nnAudio's one full-rate convolution with
            full-width kernels, so its float32 numbers, rounding in near-silent bins included:
            the drop-in) or "octaves" (each octave at the lowest rate that holds its band: about
            100x less kernel memory and closer to the float64 result than nnAudio's own float32
            output). ``trainable=True`` always uses "full", so that every tap of nnAudio's kernels
            is held (and its state dicts load exactly).

    Shape:
        x: (T,), (B, T), (B, 1, T) -> (B, F, N); (B, C, T) -> (B, C, F, N);
        "Complex" and "Phase" add a last axis of 2 (real, imaginary / cos, sin).
        N = T // hop_length + 1 when centred. float16 / bfloat16 are computed in float32.

    ``load_state_dict`` accepts nnAudio's state (``cqt_kernels_real`` / ``_imag``, ``lenghts``);
    kernels that differ from the built ones (trained) switch the module to the "full" layout.

    ``forward(x, output_format=None, normalization_type="librosa")``: "librosa" scales bin ``f`` by
    the square root of its filter length (librosa's ``scale=True``), "convolutional" leaves the L1
    kernels as they are (a unit tone gives 0.5), "wrap" doubles them (a unit tone gives 1).

    Example:
        >>> import torch
        >>> cqt = CQT1992v2(sr=8000, fmin=55.0, n_bins=48, hop_length=256)
        >>> cqt(torch.randn(2, 4000)).shape
        torch.Size([2, 48, 16])
    """

    def __init__(self, sr=22050, hop_length=512, fmin=32.70, fmax=None, n_bins=84, bins_per_octave=12,
                 filter_scale=1, norm=1, window="hann", center=True, pad_mode="reflect",
                 trainable=False, output_format="Magnitude", verbose=True, *, mode="nnaudio",
                 backend="auto", sparsity=0.01, layout="full"):
        super().__init__()
        check_choice("layout", layout, LAYOUTS)
        check_args(sr, hop_length, fmin, fmax, n_bins, bins_per_octave, filter_scale, mode,
                   sparsity=sparsity)
        hop_length, n_bins, bins_per_octave = int(hop_length), int(n_bins), int(bins_per_octave)
        n_bins, freqs = bin_frequencies(sr, fmin, fmax, n_bins, bins_per_octave)
        if mode == "librosa":
            if not center:
                raise ValueError("center must be True in mode='librosa' (librosa always centres)")
            plan = librosa_plan(sr, hop_length, fmin, n_bins, bins_per_octave, filter_scale, norm,
                                window, 0.0, sparsity)
        else:
            plan = nnaudio_direct_plan(sr, hop_length, freqs, bins_per_octave, filter_scale, norm,
                                       window, center, full=trainable or layout == "full")
        self.sr, self.hop_length, self.mode, self.center = sr, hop_length, mode, center
        self._setup(plan, trainable, backend, output_format, pad_mode)


class CQT2010v2(MultirateCQ):
    """Constant-Q transform, nnAudio's ``CQT2010v2`` (one top-octave kernel, the input halved per
    octave with nnAudio's FIR filters).

    Args:
        sr, hop_length, fmin, n_bins, bins_per_octave, filter_scale, window, pad_mode, trainable,
        output_format, verbose, mode, backend, sparsity: as :class:`CQT1992v2`.
        fmax: accepted and ignored, as nnAudio does.
        norm (bool): accepted for compatibility (nnAudio does not use it).
        basis_norm (int | None): kernel normalisation (1: L1, 2: L2). Default 1.
        earlydownsample (bool): decimate the input before the top octave when the bins allow. Default True.

    Shape:
        as :class:`CQT1992v2`; N = T // hop_length + 1. When the hop does not halve evenly down
        the octaves, octaves differ in frame count: N is the fewest; mode "librosa" crops the
        others to it (as librosa), mode "nnaudio" resamples them to it linearly in time (as
        nnAudio's VQT; nnAudio's CQT2010v2 raises there).

    Example:
        >>> import torch
        >>> cqt = CQT2010v2(sr=8000, fmin=55.0, n_bins=48, hop_length=256)
        >>> cqt(torch.randn(4000)).shape
        torch.Size([1, 48, 16])
    """

    gamma = 0.0
    _per_octave = False

    def __init__(self, sr=22050, hop_length=512, fmin=32.70, fmax=None, n_bins=84, filter_scale=1,
                 bins_per_octave=12, norm=True, basis_norm=1, window="hann", pad_mode="reflect",
                 earlydownsample=True, trainable=False, output_format="Magnitude", verbose=True, *,
                 mode="nnaudio", backend="auto", sparsity=0.01):
        super().__init__()
        self._build(sr, hop_length, fmin, fmax, n_bins, filter_scale, bins_per_octave, basis_norm,
                    window, pad_mode, earlydownsample, trainable, output_format, mode, backend, sparsity)

    def _build(self, sr, hop_length, fmin, fmax, n_bins, filter_scale, bins_per_octave, basis_norm,
               window, pad_mode, earlydownsample, trainable, output_format, mode, backend, sparsity):
        check_args(sr, hop_length, fmin, fmax, n_bins, bins_per_octave, filter_scale, mode, self.gamma,
                   sparsity)
        hop_length, n_bins, bins_per_octave = int(hop_length), int(n_bins), int(bins_per_octave)
        if mode == "librosa":
            plan = librosa_plan(sr, hop_length, fmin, n_bins, bins_per_octave, filter_scale, basis_norm,
                                window, self.gamma, sparsity, earlydownsample)
        else:
            plan = nnaudio_fir_plan(sr, hop_length, fmin, n_bins, bins_per_octave, filter_scale,
                                    basis_norm, self.gamma, earlydownsample, self._per_octave)
        self.sr, self.hop_length, self.mode = sr, hop_length, mode
        self._setup(plan, trainable, backend, output_format, pad_mode)


class CQT(CQT1992v2):
    """An alias of :class:`CQT1992v2`, as in nnAudio."""
