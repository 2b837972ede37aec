"""A power spectrogram followed by a filterbank over its bins: what Mel and Gammatone share."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from torch import Tensor

from ..functional._filterbank import apply_filterbank, band_blocks
from ..functional._threaded import power_threaded
from ._base import as_batch, like, nonnegative, register_kernel, restore
from ._stft import STFT
from ._transform import Transform
from .._checks import check_arg


def check_band(sr: float, fmin: float, fmax: Optional[float]) -> float:
    """Validate a filterbank's frequency range; return fmax (default sr / 2)."""
    fmax = sr / 2 if fmax is None else fmax
    check_arg(not fmin < 0, "fmin", ">= 0", fmin)
    check_arg(not fmax > sr / 2, "fmax", f"<= sr / 2 ({sr / 2})", fmax)
    check_arg(not fmin >= fmax, "fmin", f"< fmax ({fmax})", fmin)
    return fmax


def _refresh_blocks(module: "FilterbankSpectrogram", incompatible_keys: Any) -> None:
    if module._blocks is not None:
        module._blocks = band_blocks(module.basis)


class FilterbankSpectrogram(Transform):
    """``basis @ |STFT(x)| ** power``: an :class:`STFT` (its ``.stft``) and a filterbank matrix.

    Args:
        basis (Tensor): (M, n_fft // 2 + 1) filterbank.
        basis_name (str): attribute name of the filterbank ("mel_basis", "gammatone_basis").
        trainable_basis (bool): the filterbank is an ``nn.Parameter``.
        nonnegative (bool, keyword, in ``stft_args``): a trainable filterbank stays >= 0: the
            weights used (:attr:`basis`) are ``|v|`` of the stored parameter ``v`` (see
            :func:`nnaudio_data.features._base.nonnegative`). False trains the raw weights, which
            a gradient step may push below zero (and a log of the output to NaN). Default True.
        power (float): exponent of the magnitude, > 0 (2 = power spectrogram).
        verbose (bool): accepted; logs at debug level only.
        **stft_args: arguments of :class:`STFT` (n_fft, hop_length, trainable, backend, ...).

    Shape:
        x: (T,), (B, T), (B, 1, T) or (B, C, T); output: (B, M, N) or (B, C, M, N) for C > 1

    Example:
        >>> import torch
        >>> bands = FilterbankSpectrogram(torch.ones(2, 33), "basis2", False, 2.0, False, n_fft=64)
        >>> bands(torch.randn(3, 256)).shape
        torch.Size([3, 2, 17])
    """

    def __init__(self, basis: Tensor, basis_name: str, trainable_basis: bool, power: float,
                 verbose: bool, **stft_args: Any):
        super().__init__()
        check_arg(power > 0, "power", "> 0", power)
        self.nonnegative = bool(stft_args.pop("nonnegative", True)) and trainable_basis
        self.stft = STFT(freq_bins=None, freq_scale="no", output_format="Magnitude", verbose=verbose,
                         **stft_args)
        self.power, self.basis_name = float(power), basis_name
        self.n_fft, self.stride, self.hop_length = self.stft.n_fft, self.stft.stride, self.stft.hop_length
        self.center, self.pad_mode = self.stft.center, self.stft.pad_mode
        register_kernel(self, basis_name, basis, trainable_basis)
        # a fixed filterbank is applied band by band (its zeros skipped); a trainable one densely.
        # The bands follow the basis: derived here and again after load_state_dict.
        self._blocks = None if trainable_basis else band_blocks(basis)
        self.register_load_state_dict_post_hook(_refresh_blocks)

    @property
    def basis(self) -> Tensor:
        """The filterbank applied (M, F): the stored one, or ``|v|`` of it when non-negative."""
        v = getattr(self, self.basis_name)
        return nonnegative(v) if self.nonnegative else v

    def forward(self, x: Tensor) -> Tensor:
        x, lead = as_batch(x)
        if self._blocks is not None and self.stft.threaded(x):  # CPU, no gradient: per chunk
            st = self.stft
            return restore(power_threaded(x, like(st.window, x), st.hop_length, st.freq_bins,
                                          st.center, st.pad_mode, self.power / 2,
                                          (self.basis, self._blocks)), lead)
        p = self.stft.power(x)
        if self.power != 2.0:
            eps = 1e-8 if self.stft.trainable and self.power < 2 else 0.0  # finite grad at 0
            p = (p + eps).pow(self.power / 2)
        # band by band pays on CPU; on an accelerator one dense matmul beats 8 small launches
        blocks = self._blocks if p.device.type == "cpu" else None
        return restore(apply_filterbank(p, like(self.basis, p), blocks), lead)

    def summary(self) -> List[Tuple[str, Any]]:
        return [(self.basis_name, tuple(self.basis.shape)), ("power", self.power)]
