"""``augment`` section: throughput (clips/s) of one augmentation chain, the same work for every
system, with every transform at p = 1:

- waveform (B, 1, T): gain (-12..12 dB) + pink noise at an SNR of 3..30 dB + circular time shift
  (up to half a clip);
- spectrogram: one frequency mask (width <= 27 bins) and one time mask (width <= 40 frames), per
  example, on a fixed magnitude spectrogram (``torch.stft``, n_fft 1024, hop 256) computed once
  outside the timed loop: the kernel is not what this section measures. nnaudio_data and the
  audiomentations side fill the spectrogram in place (as the collate does with a spectrogram it
  owns); torch-audiomentations' peer (torchaudio masks) has no in-place mode and copies.

Systems, each round in a fresh process: nnaudio_data (batched torch, ``--aug-batch`` clips per
call), audiomentations (numpy, clip by clip: Gain + AddColorNoise + Shift, and a numpy mask per
clip), torch-audiomentations (batched torch; measured by ``augment_tam.py`` in its own environment,
only with ``--tam-python``: it needs torchaudio, which pins its own torch). Ratios are
nnaudio_data's clips/s over each peer's, by round.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch

SYSTEMS = ("nnaudio_data", "audiomentations", "torch-audiomentations")
N_FFT, HOP, FREQ_W, TIME_W = 1024, 256, 27, 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("augment")
    g.add_argument("--aug-batch", type=int, default=64, help="clips per batch (default 64)")
    g.add_argument("--tam-python", default=None,
                   help="python of an environment with torch-audiomentations (optional)")


def _clips_per_s(step: Callable[[], Any], n_calls: int, clips_per_call: int) -> float:
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n_calls):
        step()
    return n_calls * clips_per_call / (time.perf_counter() - t0)


def _ours(x: torch.Tensor, spec: torch.Tensor, sr: int) -> Callable[[], Any]:
    from nnaudio_data.augment import (AddColoredNoise, Compose, FrequencyMasking, Gain, TimeMasking,
                                      TimeShift)

    wave = Compose([Gain((-12.0, 12.0)), AddColoredNoise((3.0, 30.0), color="pink"), TimeShift(0.5)])
    masks = Compose([FrequencyMasking(FREQ_W, inplace=True), TimeMasking(TIME_W, inplace=True)])
    g = torch.Generator().manual_seed(0)

    def step():
        y = wave(x, generator=g).x
        s = masks(spec, generator=g).x
        if y.is_cuda:
            torch.cuda.synchronize()
        return y, s

    return step


def _audiomentations(x: np.ndarray, spec: np.ndarray, sr: int) -> Callable[[], Any]:
    import audiomentations as am

    chain = am.Compose([am.Gain(-12.0, 12.0, p=1.0),
                        am.AddColorNoise(3.0, 30.0, min_f_decay=-3.01, max_f_decay=-3.01, p=1.0),
                        am.Shift(-0.5, 0.5, rollover=True, fade_duration=0.0, p=1.0)])
    rng = np.random.default_rng(0)

    def mask(s: np.ndarray) -> np.ndarray:  # in place, as nnaudio_data's side
        w = rng.integers(0, min(FREQ_W, s.shape[0]) + 1)
        f0 = rng.integers(0, s.shape[0] - w + 1)
        s[f0:f0 + w] = 0.0
        w = rng.integers(0, min(TIME_W, s.shape[1]) + 1)
        t0 = rng.integers(0, s.shape[1] - w + 1)
        s[:, t0:t0 + w] = 0.0
        return s

    def step():
        return [chain(c, sample_rate=sr) for c in x[:, 0]], [mask(s) for s in spec]

    return step


def systems(cfg: Dict[str, Any]) -> List[str]:
    return [s for s in SYSTEMS if s != "torch-audiomentations" or cfg.get("tam_python")]


def external_command(system: str, cfg: Dict[str, Any]) -> Optional[List[str]]:
    if system != "torch-audiomentations":
        return None
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "augment_tam.py")
    return [cfg["tam_python"], script, "--clips", str(cfg["clips"]), "--length", str(cfg["length"]),
            "--sr", str(cfg["sr"]), "--batch", str(cfg["aug_batch"]), "--threads", str(cfg["threads"]),
            "--freq-width", str(FREQ_W), "--time-width", str(TIME_W), "--n-fft", str(N_FFT),
            "--hop", str(HOP)]


def measure(system: str, cfg: Dict[str, Any]) -> Dict[str, float]:
    """clips/s of the chain over ``clips`` clips in batches of ``aug_batch``."""
    batch = cfg["aug_batch"]
    n_calls = max(1, -(-cfg["clips"] // batch))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, 1, cfg["length"]))).float() * 0.1
    spec = torch.stft(x[:, 0], N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs()
    if system == "nnaudio_data":
        dev = torch.device(cfg["device"])
        step = _ours(x.to(dev), spec.to(dev), cfg["sr"])
    elif system == "audiomentations":
        step = _audiomentations(x.numpy(), spec.numpy(), cfg["sr"])
    else:
        raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")
    return {"chain": _clips_per_s(step, n_calls, batch)}


def summarize(raw, once, cfg) -> Dict[str, Any]:
    from .stats import compare

    return compare(raw, ["chain"], ["nnaudio_data"], higher_is_better=True)


def markdown(fig: Dict[str, Any], cfg: Dict[str, Any]) -> str:
    from .report import ratio_rows, value_rows

    return "\n".join([
        f"Gain + pink noise at 3-30 dB SNR + circular shift on ({cfg.get('aug_batch')}, 1, "
        f"{cfg.get('length')}) batches, then one frequency and one time mask on the batch's "
        f"magnitude spectrogram (n_fft {N_FFT}, hop {HOP}), p = 1; clips/s, median (range).", "",
        "| system | clips/s |", "|---|---:|", value_rows(fig["values"].get("chain", {}), 0), "",
        "| | ratio (ours clips/s / peer's, by round) |", "|---|---:|",
        ratio_rows(fig["ratios"].get("chain", {}))])


def headline(fig: Dict[str, Any]) -> List[str]:
    from .stats import fmt_ratio

    r = fig["ratios"].get("chain", {})
    return [("Augmentation chain: " + ", ".join(f"{fmt_ratio(v)} {k[len('nnaudio_data vs '):]}"
                                               for k, v in r.items()))] if r else []
