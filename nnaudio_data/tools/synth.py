"""Synthetic music-like clips (tones, chords, noise) for the demo, the benchmarks and the tests."""
from __future__ import annotations

import numpy as np

CLASSES = ("tone", "chord", "noise")


def music_clip(kind: str, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """One mono float32 clip of ``n`` samples: a decaying harmonic tone, a three-note chord, or
    band-limited noise bursts, at a random pitch and level.

    Shape:
        output: (n,)

    Example:
        >>> x = music_clip("chord", 16000, 800, np.random.default_rng(0)); x.shape, x.dtype
        ((800,), dtype('float32'))
    """
    t = np.arange(n) / sr
    env = np.exp(-t * rng.uniform(0.5, 3.0))
    if kind == "noise":
        x = rng.standard_normal(n)
        x = np.convolve(x, np.hanning(int(rng.integers(3, 32))), mode="same")
        x *= (np.sin(2 * np.pi * rng.uniform(1, 4) * t) > 0)  # bursts
    else:
        root = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        notes = [root] if kind == "tone" else [root, root * 2 ** (4 / 12), root * 2 ** (7 / 12)]
        x = sum((np.sin(2 * np.pi * f * h * t) / h for f in notes for h in (1, 2, 3) if f * h < sr / 2),
                np.zeros(n))
    x = env * x
    peak = np.abs(x).max() or 1.0
    return (rng.uniform(0.2, 0.9) * x / peak).astype(np.float32)


def music_clips(count: int, sr: int, n: int, seed: int = 0):
    """Yield ``(key, clip (n,), label index)`` for ``count`` clips cycling through :data:`CLASSES`."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        label = i % len(CLASSES)
        yield f"clip{i:06d}", music_clip(CLASSES[label], sr, n, rng), label
