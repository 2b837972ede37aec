"""Deterministic test signals for the spectral tests: music-like (chords of harmonic tones with
envelopes), speech-like (noise bursts through formant resonators) and pure sines."""
from __future__ import annotations

import numpy as np
import scipy.signal


def sine(freq: float, sr: float, n: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


def chords(sr: float, n: int, seed: int = 0) -> np.ndarray:
    """Three chords of harmonic tones, each with a decaying envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    out = np.zeros(n)
    seg = n // 3
    for i, root in enumerate(rng.uniform(110, 330, size=3)):
        env = np.zeros(n)
        env[i * seg:(i + 1) * seg] = np.exp(-3 * np.arange(seg) / sr * 4)
        for ratio in (1.0, 1.25, 1.5):
            for h in range(1, 5):
                out += env * np.sin(2 * np.pi * root * ratio * h * t + rng.uniform(0, 6)) / (3 * h)
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def speech_like(sr: float, n: int, seed: int = 0) -> np.ndarray:
    """Noise bursts (syllables) shaped by three formant resonators, with silences between."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    gate = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.05, 0.15) * sr)
        gate[pos:pos + length] = np.hanning(min(length, n - pos) + 2)[1:-1]
        pos += length + int(rng.uniform(0.02, 0.08) * sr)
    y = np.zeros(n)
    for formant, bw in ((500, 80), (1500, 120), (2500, 160)):
        r = np.exp(-np.pi * bw / sr)
        a = [1, -2 * r * np.cos(2 * np.pi * formant / sr), r * r]
        y += scipy.signal.lfilter([1 - r], a, x * gate)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


SIGNALS = {"chords": chords, "speech": speech_like}
