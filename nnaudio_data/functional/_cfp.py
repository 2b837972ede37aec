"""Combined frequency and periodicity (CFP) builders: the log-frequency matrices that map a spectrum
(frequency axis) and a cepstrum (quefrency axis) onto the same log-spaced bins (Su & Yang, 2015;
nnAudio's ``CFP``). Pure numpy."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def cfp_centre_frequencies(fc: float, tc: float, num_per_oct: int) -> np.ndarray:
    """Log-spaced centre frequencies from ``fc`` up to (not including) ``1 / tc``.

    Example:
        >>> cfp_centre_frequencies(100.0, 1 / 200.0, 2).round(1).tolist()
        [100.0, 141.4]
    """
    n = int(np.ceil(np.log2((1 / tc) / fc)) * num_per_oct)
    cf = fc * 2.0 ** (np.arange(n) / float(num_per_oct))
    return cf[cf < 1 / tc]


def _triangles(x: np.ndarray, lo: float, mid: float, hi: float) -> np.ndarray:
    """Triangular weights of the points ``x`` (0 at ``lo`` and ``hi``, 1 at ``mid``, strict ends)."""
    up = np.where((x > lo) & (x < mid), (x - lo) / (mid - lo), 0.0)
    return up + np.where((x > mid) & (x < hi), (hi - x) / (hi - mid), 0.0)


def cfp_logfreq_matrices(fs: float, fr: float, fc: float, tc: float, num_per_oct: int
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """The (M, n_freq) and (M, n_quef) triangular filterbanks of nnAudio's CFP, ``M = len(cf) - 1``.

    Row ``i`` (1 <= i <= M - 1) is a triangle over centre frequencies ``cf[i - 1], cf[i], cf[i + 1]``,
    on the STFT frequencies ``fs * linspace(0, 0.5, N // 2)[:1 / (tc fr) + 1]`` (``N = fs / fr``) and
    on the quefrencies ``1 / q``, ``q = arange(fs / fc + 1) / fs``; row 0 is zero, as in nnAudio.
    A triangle narrower than one frequency step becomes a single 1 at its lower edge.

    Example:
        >>> f2l, q2l = cfp_logfreq_matrices(16000, 2, 80, 1 / 1000, 48)
        >>> f2l.shape, q2l.shape
        ((174, 501), (174, 201))
    """
    n = int(fs / float(fr))
    f = (fs * np.linspace(0, 0.5, int(np.round(n // 2)), endpoint=True))[: int(round((1 / tc) / fr) + 1)]
    q = np.arange(int(round(fs / fc) + 1)) / float(fs)
    cf = cfp_centre_frequencies(fc, tc, num_per_oct)
    freq = np.zeros((len(cf) - 1, len(f)))
    quef = np.zeros((len(cf) - 1, len(q)))
    with np.errstate(divide="ignore"):
        inv_q = 1.0 / q
    for i in range(1, len(cf) - 1):
        lo, hi = int(round(cf[i - 1] / fr)), int(round(cf[i + 1] / fr) + 1)
        if lo >= hi - 1:
            freq[i, lo] = 1.0
        else:
            freq[i, lo:hi] = _triangles(f[lo:hi], cf[i - 1], cf[i], cf[i + 1])
        lo, hi = int(round(fs / cf[i + 1])), int(round(fs / cf[i - 1]) + 1)
        quef[i, lo:hi] = _triangles(inv_q[lo:hi], cf[i - 1], cf[i], cf[i + 1])
    return freq, quef
