"""Variable-Q transform with nnAudio 0.3's name and arguments: :class:`VQT` (``gamma`` widens the
low filters; ``gamma=0`` is a constant-Q transform)."""
from __future__ import annotations

from ._cqt import CQT2010v2
from .._checks import check_arg


class VQT(CQT2010v2):
    """Variable-Q transform, nnAudio's ``VQT``: filter lengths ``Q sr / (f + gamma / alpha)``.

    Args:
        sr, hop_length, fmin, fmax, n_bins, filter_scale, bins_per_octave, norm, basis_norm, window,
        pad_mode, earlydownsample, trainable, output_format, verbose, mode, backend, sparsity:
            as :class:`~nnaudio_data.features.CQT2010v2`.
        gamma (float): bandwidth offset in Hz, >= 0. Default 0.

    In mode "nnaudio" the kernels are built per octave exactly as nnAudio 0.3 builds them (including
    its use of the input rate for every octave after early downsampling), except that ``gamma=0``
    gives exactly :class:`~nnaudio_data.features.CQT2010v2`'s output (nnAudio's does not); in mode
    "librosa" the output matches ``librosa.vqt(..., gamma=gamma)``.

    Shape:
        x: (T,), (B, T), (B, 1, T) -> (B, F, N); (B, C, T) -> (B, C, F, N);
        "Complex" and "Phase" add a last axis of 2. N = T // hop_length + 1 (see
        :class:`~nnaudio_data.features.CQT2010v2` when the hop does not halve evenly).

    Example:
        >>> import torch
        >>> vqt = VQT(sr=8000, fmin=55.0, n_bins=48, hop_length=256, gamma=10.0)
        >>> vqt(torch.randn(2, 4000)).shape
        torch.Size([2, 48, 16])
    """

    def __init__(self, sr=22050, hop_length=512, fmin=32.70, fmax=None, n_bins=84, filter_scale=1,
                 bins_per_octave=12, norm=True, basis_norm=1, gamma=0, window="hann",
                 pad_mode="reflect", earlydownsample=True, trainable=False, output_format="Magnitude",
                 verbose=True, *, mode="nnaudio", backend="auto", sparsity=0.01):
        super(CQT2010v2, self).__init__()
        check_arg(isinstance(gamma, (int, float)) and not gamma < 0, "gamma", "a number >= 0", gamma)
        self.gamma = float(gamma)
        # gamma = 0 is CQT2010v2 exactly (one kernel for all octaves); nnAudio's VQT builds one per
        # octave even then, and its states (one kernel per octave) still load: see _nnaudio_state.
        self._per_octave = self.gamma != 0
        self._build(sr, hop_length, fmin, fmax, n_bins, filter_scale, bins_per_octave, basis_norm,
                    window, pad_mode, earlydownsample, trainable, output_format, mode, backend, sparsity)
