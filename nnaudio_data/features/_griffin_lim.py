"""Griffin_Lim: a waveform whose STFT magnitude approaches a given one (nnAudio 0.3's
``Griffin_Lim``; the fast momentum variant of Perraudin et al., as ``librosa.griffinlim``)."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from .._checks import check_arg, check_positive_int
from ._stft import STFT
from ._transform import Transform


def _fill_window(module: "Griffin_Lim", state: dict, prefix: str, *args) -> None:
    """nnAudio's Griffin_Lim has an empty state dict: the window is the built one."""
    key = prefix + "stft.window"
    if key not in state and not any(k.startswith(prefix) for k in state):
        state[key] = module.stft.window.detach().clone()


class Griffin_Lim(Transform):
    """Phase reconstruction from a magnitude spectrogram by fast Griffin-Lim.

    Args:
        n_fft (int): frame size of the spectrogram.
        n_iter (int): iterations, >= 1. Default 32.
        hop_length (int, optional): stride. Default n_fft // 4.
        win_length (int, optional): window length. Default n_fft.
        window (str): window spec. Default "hann".
        center (bool): centred frames. Default True.
        pad_mode (str): "reflect" or "constant". Default "reflect".
        momentum (float): fast Griffin-Lim momentum, >= 0 (0 = classic Griffin-Lim). Default 0.99.
        device: accepted for compatibility (nnAudio's default "cpu"); the computation follows the
            input's device, whatever this says.

    Shape:
        S: (B, F, N) or (F, N) magnitude, F = n_fft // 2 + 1; output: (B, T)

    Example:
        >>> import torch
        >>> S = STFT(n_fft=64, hop_length=16, output_format="Magnitude")(torch.randn(2, 512))
        >>> Griffin_Lim(64, n_iter=4, hop_length=16)(S, length=512).shape
        torch.Size([2, 512])
    """

    def __init__(self, n_fft: int, n_iter: int = 32, hop_length: Optional[int] = None,
                 win_length: Optional[int] = None, window="hann", center: bool = True,
                 pad_mode: str = "reflect", momentum: float = 0.99, device="cpu"):
        super().__init__()
        check_positive_int("n_iter", n_iter)
        check_arg(momentum >= 0, "momentum", ">= 0", momentum)
        self.stft = STFT(n_fft=n_fft, win_length=win_length, hop_length=hop_length, window=window,
                         center=center, pad_mode=pad_mode, backend="fft", return_complex=True)
        self.n_fft, self.hop_length, self.n_iter, self.momentum = n_fft, self.stft.hop_length, n_iter, momentum
        self.register_load_state_dict_pre_hook(_fill_window)

    def forward(self, S: Tensor, length: Optional[int] = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """Waveform of magnitude ``S``; the random initial phase comes from ``generator`` (default:
        a fresh generator seeded with 0, so calls are repeatable)."""
        if S.dim() == 2:
            S = S[None]
        if S.dim() != 3 or S.shape[1] != self.n_fft // 2 + 1:
            raise ValueError(f"S must be a magnitude (B, {self.n_fft // 2 + 1}, N), got shape "
                             f"{tuple(S.shape)}")
        S = S if S.dtype == torch.float64 else S.to(torch.float32)
        if generator is None:
            generator = torch.Generator(S.device).manual_seed(0)
        phase = torch.rand(S.shape, generator=generator, device=S.device, dtype=S.dtype)
        angles = torch.polar(torch.ones_like(S), 2 * torch.pi * phase)
        if length is None:
            length = self.hop_length * (S.shape[-1] - 1) + (0 if self.stft.center else self.n_fft)
        rebuilt = torch.zeros_like(angles)
        beta = self.momentum / (1 + self.momentum)
        for _ in range(self.n_iter):
            previous = rebuilt
            rebuilt = self.stft(self.stft.inverse(S * angles, length=length))
            angles = rebuilt - beta * previous
            angles = angles / (angles.abs() + 1e-16)
        return self.stft.inverse(S * angles, length=length)

    def summary(self) -> List[Tuple[str, Any]]:
        return [("n_fft", self.n_fft), ("hop_length", self.hop_length), ("n_iter", self.n_iter),
                ("momentum", self.momentum)]
