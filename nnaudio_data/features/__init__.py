"""nn.Modules owning spectrogram kernels (buffers, or Parameters when trainable), with nnAudio 0.3's
class names, constructor parameters and defaults.

- ``_stft.py``       :class:`STFT` (conv1d or FFT backend, ``.inverse``), :class:`STFTBase`
- ``_istft.py``      :class:`iSTFT` (trainable inverse kernels and window)
- ``_filterbank.py`` power spectrogram -> filterbank, shared by Mel and Gammatone
- ``_mel.py``        :class:`MelSpectrogram`
- ``_mfcc.py``       :class:`MFCC` (Mel -> dB -> DCT)
- ``_gammatone.py``  :class:`Gammatonegram`
- ``_griffin_lim.py`` :class:`Griffin_Lim` (phase from a magnitude)
- ``_cqt.py``        :class:`CQT1992v2`, :class:`CQT2010v2`, :class:`CQT` (constant-Q, multirate engine)
- ``_cqt_legacy.py`` :class:`CQT1992`, :class:`CQT2010` (nnAudio's first CQTs, kept for old code)
- ``_vqt.py``        :class:`VQT` (variable-Q, ``gamma``)
- ``_cfp.py``        :class:`CFP`, :class:`Combined_Frequency_Periodicity` (frequency x periodicity)
- ``_db.py``         :class:`PowerToDB`, :class:`AmplitudeToDB`, :class:`LogSpectrogram` ("logmel", "logstft")
- ``_kinds.py``      kinds by name for ``GPUSpectrogramCollate(kind)``
- ``_base.py``       what every kernel shares: buffer or Parameter (one rule), the backend, input shapes
- ``_transform.py``  :class:`Transform`, the base ``nn.Module``: records the arguments given, for the repr
- ``_multirate.py``  the constant-Q engine: decimate once per octave, frame, multiply
- ``_nnaudio_state.py`` nnAudio 0.3's constant-Q state dicts, translated to ours
"""
from ._cfp import CFP, Combined_Frequency_Periodicity
from ._cqt import CQT, CQT1992v2, CQT2010v2
from ._cqt_legacy import CQT1992, CQT2010
from ._db import AmplitudeToDB, LogSpectrogram, PowerToDB
from ._gammatone import Gammatonegram
from ._griffin_lim import Griffin_Lim
from ._istft import iSTFT
from ._mel import MelSpectrogram
from ._mfcc import MFCC
from ._kinds import KINDS, make_transform
from ._stft import STFT, STFTBase
from ._vqt import VQT

__all__ = ["AmplitudeToDB", "CFP", "CQT", "CQT1992", "CQT1992v2", "CQT2010", "CQT2010v2",
           "Combined_Frequency_Periodicity", "Gammatonegram", "Griffin_Lim", "KINDS", "LogSpectrogram",
           "MFCC", "MelSpectrogram", "PowerToDB", "STFT", "STFTBase", "VQT", "iSTFT", "make_transform"]
