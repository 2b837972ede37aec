"""Stateless maths, every input explicit: windows, Fourier / mel / CQT kernel builders.

- ``windows.py``     analysis windows
- ``fourier.py``     windowed DFT kernels for the conv1d STFT, bin frequencies
- ``spectral.py``    the framing ops every framed transform shares (conv1d / FFT, overlap-add)
- ``mel.py``         mel filterbank, DCT-II matrix, power to dB
- ``gammatone.py``   gammatone filterbank
- ``filterbank.py``  filterbank application that skips the zeros of banded filters
"""
from .filterbank import apply_filterbank, band_blocks
from .fourier import bin_frequencies, fourier_kernels, pad_window
from .gammatone import gammatone_filterbank
from .mel import dct_matrix, hz_to_mel, mel_filterbank, mel_to_hz, power_to_db
from .spectral import (frames_irfft, frames_matmul, onesided_to_full, overlap_add, pad_signal,
                       spectrum_conv1d, spectrum_fft)
from .windows import get_window

__all__ = ["apply_filterbank", "band_blocks", "bin_frequencies", "dct_matrix", "fourier_kernels",
           "frames_irfft", "frames_matmul", "gammatone_filterbank", "get_window", "hz_to_mel",
           "mel_filterbank", "mel_to_hz", "onesided_to_full", "overlap_add", "pad_signal",
           "pad_window", "power_to_db", "spectrum_conv1d", "spectrum_fft"]
