"""The framing ops shared by every framed transform: forward spectrum by conv1d (trainable kernels)
or by FFT (``torch.stft``), and the inverse by matmul or inverse FFT followed by overlap-add.

Every function takes (B, T) signals or (B, F, N) spectra with all parameters explicit.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

PAD_MODES = ("reflect", "constant")


def pad_signal(x: Tensor, n_fft: int, center: bool, pad_mode: str) -> Tensor:
    """Pad ``n_fft // 2`` samples on both sides when ``center`` (frame n centred at n * hop).

    Shape:
        x: (B, T); output: (B, T + 2 * (n_fft // 2)) when center, else (B, T)

    Example:
        >>> pad_signal(torch.arange(4.)[None], 4, True, "reflect")
        tensor([[2., 1., 0., 1., 2., 3., 2., 1.]])
    """
    _check_length(x, n_fft, center, pad_mode)
    if not center:
        return x
    return F.pad(x[:, None], (n_fft // 2, n_fft // 2), mode=pad_mode)[:, 0]


def _check_length(x: Tensor, n_fft: int, center: bool, pad_mode: str) -> None:
    p = n_fft // 2
    if center and pad_mode == "reflect" and x.shape[-1] <= p:
        raise ValueError(f"signal length must be > n_fft // 2 ({p}) for pad_mode='reflect', "
                         f"got {x.shape[-1]}")
    if x.shape[-1] + (2 * p if center else 0) < n_fft:
        raise ValueError(f"signal length must be >= n_fft ({n_fft}) when center=False, "
                         f"got {x.shape[-1]}")


def spectrum_conv1d(x: Tensor, kernel: Tensor, hop_length: int, center: bool = True,
                    pad_mode: str = "reflect") -> Tuple[Tensor, Tensor]:
    """Spectrum by one conv1d with stacked ``[wcos; wsin]`` kernels (the nnAudio way).

    Args:
        x (Tensor): signals.
        kernel (Tensor): (2F, 1, n_fft), cosine rows then sine rows (see ``fourier_kernels``).
        hop_length (int): stride between frames.
        center (bool): pad ``n_fft // 2`` on both sides first. Default True.
        pad_mode (str): "reflect" or "constant". Default "reflect".

    Shape:
        x: (B, T); output: real (B, F, N), imag (B, F, N)

    Example:
        >>> k = torch.cat([torch.ones(1, 1, 4), torch.zeros(1, 1, 4)])
        >>> re, im = spectrum_conv1d(torch.ones(1, 8), k, 4, center=False)
        >>> re.tolist(), bool((im == 0).all())
        ([[[4.0, 4.0]]], True)
    """
    y = F.conv1d(pad_signal(x, kernel.shape[-1], center, pad_mode)[:, None], kernel,
                 stride=hop_length)
    n = kernel.shape[0] // 2
    return y[:, :n], -y[:, n:]


def spectrum_fft(x: Tensor, window: Tensor, hop_length: int, freq_bins: int, center: bool = True,
                 pad_mode: str = "reflect") -> Tuple[Tensor, Tensor]:
    """Spectrum by ``torch.stft`` with a window already padded to ``n_fft``.

    Args:
        x (Tensor): signals.
        window (Tensor): (n_fft,) window, zero-padded to n_fft.
        hop_length (int): stride between frames.
        freq_bins (int): bins kept, counted from 0 Hz (up to ``n_fft``).
        center, pad_mode: as :func:`spectrum_conv1d`.

    Shape:
        x: (B, T); output: real (B, F, N), imag (B, F, N) (strided views, no copy)

    Example:
        >>> re, im = spectrum_fft(torch.ones(1, 8), torch.ones(4), 4, 3, center=False)
        >>> torch.allclose(re[0, :, 0], torch.tensor([4.0, 0.0, 0.0]), atol=1e-6)
        True
    """
    n_fft = window.shape[-1]
    _check_length(x, n_fft, center, pad_mode)
    spec = torch.stft(x, n_fft, hop_length, window=window, center=center, pad_mode=pad_mode,
                      onesided=freq_bins <= n_fft // 2 + 1, return_complex=True)
    r = torch.view_as_real(spec[:, :freq_bins])
    return r[..., 0], r[..., 1]


def onesided_to_full(real: Tensor, imag: Tensor, n_fft: int) -> Tuple[Tensor, Tensor]:
    """Extend a onesided spectrum (n_fft // 2 + 1 bins) to all ``n_fft`` bins by Hermitian symmetry.

    Shape:
        real, imag: (B, n_fft // 2 + 1, N); output: (B, n_fft, N) each

    Example:
        >>> re, im = onesided_to_full(torch.tensor([[[1.], [2.], [3.]]]), torch.zeros(1, 3, 1), 4)
        >>> re.flatten().tolist()
        [1.0, 2.0, 3.0, 2.0]
    """
    stop = n_fft - real.shape[1] + 1
    return (torch.cat([real, real[:, 1:stop].flip(1)], 1),
            torch.cat([imag, -imag[:, 1:stop].flip(1)], 1))


def overlap_add(frames: Tensor, window: Tensor, hop_length: int, center: bool = True,
                length: Optional[int] = None) -> Tensor:
    """Window, overlap-add and normalise time-domain frames (the last step of an inverse STFT).

    Samples are divided by the overlap-added squared window wherever it exceeds 1e-10; with
    ``center`` the ``n_fft // 2`` padding is cut off, and the result is trimmed or zero-padded to
    ``length`` when given.

    Args:
        frames (Tensor): inverse-transformed frames, unwindowed.
        window (Tensor): (n_fft,) synthesis window (the analysis window, zero-padded).
        hop_length (int): stride between frames.
        center (bool): frames were centred (remove ``n_fft // 2`` on both sides). Default True.
        length (int, optional): output length.

    Shape:
        frames: (B, n_fft, N); output: (B, T)

    Example:
        >>> overlap_add(torch.ones(1, 4, 3), torch.ones(4), 2, center=False).tolist()
        [[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]
    """
    n_fft, n_frames = frames.shape[1], frames.shape[2]
    full = n_fft + hop_length * (n_frames - 1)
    fold = dict(output_size=(1, full), kernel_size=(1, n_fft), stride=(1, hop_length))
    y = F.fold(frames * window[:, None], **fold)[:, 0, 0]
    wsq = (window * window)[None, :, None].expand(1, n_fft, n_frames)
    norm = F.fold(wsq, **fold)[0, 0]
    y = y / torch.where(norm > 1e-10, norm, torch.ones_like(norm))
    start = n_fft // 2 if center else 0
    if length is None:
        return y[:, start: full - start]
    y = y[:, start: start + length]
    return F.pad(y, (0, length - y.shape[-1])) if y.shape[-1] < length else y


def frames_irfft(real: Tensor, imag: Tensor, n_fft: int) -> Tensor:
    """Time-domain frames from a spectrum by inverse FFT (onesided or full ``n_fft`` bins).

    Shape:
        real, imag: (B, F, N); output: (B, n_fft, N)

    Example:
        >>> y = frames_irfft(torch.full((1, 3, 1), 4.), torch.zeros(1, 3, 1), 4).flatten()
        >>> torch.allclose(y, torch.tensor([4.0, 0.0, 0.0, 0.0]), atol=1e-6)
        True
    """
    spec = torch.complex(real, imag)
    if real.shape[1] == n_fft:
        return torch.fft.ifft(spec, n=n_fft, dim=1).real
    return torch.fft.irfft(spec, n=n_fft, dim=1)


def frames_matmul(real: Tensor, imag: Tensor, kernel_cos: Tensor, kernel_sin: Tensor) -> Tensor:
    """Time-domain frames by matmul with full inverse-DFT kernels (trainable, nnAudio's iSTFT).

    ``frame[n] = sum_k real[k] cos[k, n] - imag[k] sin[k, n]`` divided by ``n_fft``.

    Shape:
        real, imag: (B, n_fft, N) (full spectrum); kernels: (n_fft, n_fft); output: (B, n_fft, N)

    Example:
        >>> c, s = torch.ones(2, 2), torch.zeros(2, 2)
        >>> frames_matmul(torch.ones(1, 2, 1), torch.zeros(1, 2, 1), c, s).flatten().tolist()
        [1.0, 1.0]
    """
    n_fft = kernel_cos.shape[-1]
    return (torch.matmul(kernel_cos.T, real) - torch.matmul(kernel_sin.T, imag)) / n_fft
