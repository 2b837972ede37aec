"""nn.Modules owning spectrogram kernels (buffers, or Parameters when trainable), with nnAudio 0.3's
class names, constructor parameters and defaults.

- ``stft.py``        :class:`STFT` (conv1d or FFT backend, ``.inverse``)
- ``istft.py``       :class:`iSTFT` (trainable inverse kernels and window)
- ``filterbank.py``  power spectrogram -> filterbank, shared by Mel and Gammatone
- ``mel.py``         :class:`MelSpectrogram`
"""
from .istft import iSTFT
from .mel import MelSpectrogram
from .registry import KINDS, make_transform
from .stft import STFT

__all__ = ["KINDS", "MelSpectrogram", "STFT", "iSTFT", "make_transform"]
