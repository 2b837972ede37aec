"""Stateless maths, every input explicit: windows, Fourier / mel / CQT kernel builders.

- ``_windows.py``    analysis windows
- ``_fourier.py``    windowed DFT kernels for the conv1d STFT, bin frequencies
- ``_spectral.py``   the framing ops every framed transform shares (conv1d / FFT, overlap-add)
- ``_threaded.py``   the power spectrum on the CPU without autograd: cache-sized chunks on threads
- ``_mel.py``        mel filterbank, DCT-II matrix, power to dB
- ``_gammatone.py``  gammatone filterbank
- ``_filterbank.py`` filterbank application that skips the zeros of banded filters
- ``_cqt.py``, ``_cqt_plan.py``, ``_cfp.py`` constant-Q kernels and plans, CFP's log-frequency matrices

The package exports the kernel builders (``__all__``). The framing ops and the filterbank
application (``_spectral.py``, ``_threaded.py``, ``_filterbank.py``) and the constant-Q plans are the features'
implementation: import them from their module when needed, e.g.
``from nnaudio_data.functional._spectral import overlap_add``.
"""
from ._fourier import bin_frequencies, fourier_kernels, pad_window
from ._gammatone import gammatone_filterbank
from ._mel import dct_matrix, hz_to_mel, mel_filterbank, mel_to_hz, power_to_db
from ._windows import get_window

__all__ = ["bin_frequencies", "dct_matrix", "fourier_kernels", "gammatone_filterbank", "get_window",
           "hz_to_mel", "mel_filterbank", "mel_to_hz", "pad_window", "power_to_db"]
