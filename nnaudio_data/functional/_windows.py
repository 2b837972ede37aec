"""Analysis windows as torch tensors (scipy's definitions, periodic by default as librosa uses)."""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

from .._checks import check_arg

WindowSpec = Union[str, tuple, float, np.ndarray, torch.Tensor]

# scipy.signal's cosine-sum windows, computed here as scipy computes them (bit for bit), so that
# building a kernel with a common window does not import scipy.signal (seconds on a busy machine,
# in every process that builds one). Other windows still come from scipy.
_COSINE_SUMS = {"hann": (0.5, 0.5), "hamming": (0.54, 1.0 - 0.54), "blackman": (0.42, 0.50, 0.08),
                "boxcar": (1.0,)}


def _cosine_sum(coefficients: tuple, m: int, fftbins: bool) -> np.ndarray:
    """``scipy.signal.windows.general_cosine`` (periodic when ``fftbins``), float64."""
    if m <= 1:
        return np.ones(m)
    n = m + 1 if fftbins else m
    fac = np.linspace(-np.pi, np.pi, n)
    w = np.zeros(n)
    for k, a in enumerate(coefficients):
        w += a * np.cos(k * fac)
    return w[:-1] if fftbins else w


def get_window(window: WindowSpec, win_length: int, fftbins: bool = True,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Return a window of ``win_length`` samples as a 1-D tensor.

    Args:
        window (str | tuple | float | array): a scipy window name ("hann", "hamming", "ones",
            ("kaiser", 8.0), ...) or explicit samples of length ``win_length``.
        win_length (int): number of samples, > 0.
        fftbins (bool): periodic window (True, as for spectral analysis) or symmetric. Default True.
        dtype (torch.dtype): dtype of the result. Default float32.

    Shape:
        output: (win_length,)

    Example:
        >>> get_window("hann", 4)
        tensor([0.0000, 0.5000, 1.0000, 0.5000])
    """
    check_arg(isinstance(win_length, int) and not win_length <= 0, "win_length", "a positive int", win_length)
    if isinstance(window, (np.ndarray, torch.Tensor)):
        w = torch.as_tensor(np.asarray(window), dtype=torch.float64)
        if w.shape != (win_length,):
            raise ValueError(f"window must have shape ({win_length},) to match win_length, "
                             f"got {tuple(w.shape)}")
        return w.to(dtype)
    name = "boxcar" if window in ("ones", "rectangular", "rect", None) else window
    if isinstance(name, str) and name in _COSINE_SUMS:
        return torch.as_tensor(_cosine_sum(_COSINE_SUMS[name], win_length, fftbins), dtype=dtype)
    import scipy.signal  # here, not at import time: scipy.signal costs ~1 s to import

    try:
        w = scipy.signal.get_window(name, win_length, fftbins=fftbins)
    except ValueError as e:
        raise ValueError(f"window must be a scipy window name or array, got {window!r}: {e}") from None
    return torch.as_tensor(w, dtype=dtype)
