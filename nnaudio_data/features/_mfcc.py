"""MFCC: mel spectrogram -> dB -> DCT-II (nnAudio 0.3's ``MFCC``)."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from ..functional._mel import dct_matrix
from .._checks import check_arg, check_positive_int
from ._base import like
from ._mel import MelSpectrogram
from ._transform import Transform


def _drop_dct(module: "MFCC", state: dict, prefix: str, *args) -> None:
    """States saved before the DCT matrix became derived hold it as ``dct``: drop it."""
    state.pop(prefix + "dct", None)


class MFCC(Transform):
    """Mel-frequency cepstral coefficients, nnAudio 0.3 compatible (type-II DCT).

    Args:
        sr (int): sample rate. Default 22050.
        n_mfcc (int): coefficients, <= n_mels. Default 20.
        norm ("ortho" | None): DCT normalisation. Default "ortho".
        verbose (bool): accepted; logs at debug level only. Default True.
        ref (float): dB reference power. Default 1.0.
        amin (float): floor on the power before the log, > 0. Default 1e-10.
        top_db (float, optional): floor at the peak minus top_db, per clip (and channel).
            Default 80.0.
        **kwargs: :class:`MelSpectrogram` arguments (n_fft, hop_length, n_mels, htk, fmin, fmax,
            trainable_mel, trainable_STFT, backend, ...).

    Shape:
        x: (T,), (B, T), (B, 1, T) or (B, C, T)
        output: (B, n_mfcc, N) ((1, n_mfcc, N) for (T,), (B, C, n_mfcc, N) for C > 1)

    Example:
        >>> import torch
        >>> mfcc = MFCC(sr=16000, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
        >>> mfcc(torch.randn(2, 16000)).shape
        torch.Size([2, 13, 101])
    """

    amin: Tensor  # buffers (declared for the type checker)
    ref: Tensor
    dct: Tensor

    def __init__(self, sr: float = 22050, n_mfcc: int = 20, norm: Optional[str] = "ortho",
                 verbose: bool = True, ref: float = 1.0, amin: float = 1e-10,
                 top_db: Optional[float] = 80.0, **kwargs: Any):
        super().__init__()
        check_positive_int("n_mfcc", n_mfcc)
        check_arg(amin > 0, "amin", "> 0", amin)
        check_arg(not (top_db is not None and top_db < 0), "top_db", ">= 0 or None", top_db)
        self.melspec_layer = MelSpectrogram(sr=sr, verbose=verbose, **kwargs)
        n_mels = self.melspec_layer.n_mels
        check_arg(not n_mfcc > n_mels, "n_mfcc", f"<= n_mels ({n_mels})", n_mfcc)
        self.n_mfcc, self.norm, self.top_db = n_mfcc, norm, top_db
        # nnAudio's state: ``amin`` and ``|ref|`` as (1,) buffers; the DCT matrix is derived, not saved
        self.register_buffer("amin", torch.tensor([float(amin)]))
        self.register_buffer("ref", torch.tensor([abs(float(ref))]))
        self.register_buffer("dct", dct_matrix(n_mfcc, n_mels, norm).to(torch.float32),
                             persistent=False)
        self.register_load_state_dict_pre_hook(_drop_dct)

    def forward(self, x: Tensor) -> Tensor:
        mel = self.melspec_layer(x)
        amin, ref = like(self.amin, mel), like(self.ref, mel)
        db = 10.0 * torch.log10(torch.maximum(mel, amin)) - 10.0 * torch.log10(torch.maximum(amin, ref))
        if self.top_db is not None:  # floored per clip (and channel), as nnAudio
            db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - self.top_db)
        return torch.matmul(like(self.dct, db), db)

    def summary(self) -> List[Tuple[str, Any]]:
        return [("n_mfcc", self.n_mfcc), ("norm", self.norm), ("top_db", self.top_db)]
