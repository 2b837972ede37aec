"""nn.Modules owning spectrogram kernels (buffers, or Parameters when trainable), with nnAudio 0.3's
class names, constructor parameters and defaults.

- ``stft.py``        :class:`STFT` (conv1d or FFT backend, ``.inverse``), :class:`STFTBase`
- ``istft.py``       :class:`iSTFT` (trainable inverse kernels and window)
- ``filterbank.py``  power spectrogram -> filterbank, shared by Mel and Gammatone
- ``mel.py``         :class:`MelSpectrogram`
- ``mfcc.py``        :class:`MFCC` (Mel -> dB -> DCT)
- ``gammatone.py``   :class:`Gammatonegram`
- ``griffin_lim.py`` :class:`Griffin_Lim` (phase from a magnitude)
- ``cqt.py``         :class:`CQT1992v2`, :class:`CQT2010v2`, :class:`CQT` (constant-Q, multirate engine)
- ``cqt_legacy.py`` :class:`CQT1992`, :class:`CQT2010` (nnAudio's first CQTs, kept for old code)
- ``vqt.py``         :class:`VQT` (variable-Q, ``gamma``)
- ``cfp.py``         :class:`CFP`, :class:`Combined_Frequency_Periodicity` (frequency x periodicity)
- ``db.py``          :class:`PowerToDB`, :class:`AmplitudeToDB`, :class:`LogSpectrogram` ("logmel", "logstft")
- ``registry.py``    kinds by name for ``GPUSpectrogramCollate(kind)``
"""
from .cfp import CFP, Combined_Frequency_Periodicity
from .cqt import CQT, CQT1992v2, CQT2010v2
from .cqt_legacy import CQT1992, CQT2010
from .db import AmplitudeToDB, LogSpectrogram, PowerToDB
from .gammatone import Gammatonegram
from .griffin_lim import Griffin_Lim
from .istft import iSTFT
from .mel import MelSpectrogram
from .mfcc import MFCC
from .registry import KINDS, make_transform
from .stft import STFT, STFTBase
from .vqt import VQT

__all__ = ["AmplitudeToDB", "CFP", "CQT", "CQT1992", "CQT1992v2", "CQT2010", "CQT2010v2",
           "Combined_Frequency_Periodicity", "Gammatonegram", "Griffin_Lim", "KINDS", "LogSpectrogram",
           "MFCC", "MelSpectrogram", "PowerToDB", "STFT", "STFTBase", "VQT", "iSTFT", "make_transform"]
