"""``augment`` section: throughput (clips/s) of one augmentation chain, the same work for every
system, with every transform at p = 1:

- waveform (B, 1, T): gain (-12..12 dB) + pink noise at an SNR of 3..30 dB + circular time shift
  (up to half a clip);
- spectrogram: one frequency mask (width <= 27 bins) and one time mask (width <= 40 frames), per
  example, on a fixed magnitude spectrogram (``torch.stft``, n_fft 1024, hop 256) computed once
  outside the timed loop: the kernel is not what this section measures. nnaudio_data and the
  audiomentations side fill the spectrogram in place (as the collate does with a spectrogram it
  owns); torch-audiomentations' peer (torchaudio masks) has no in-place mode and copies.

Systems: nnaudio_data (batched torch, ``--aug-batch`` clips per call), audiomentations (numpy, clip
by clip: Gain + AddColorNoise + Shift, and a numpy mask per clip), torch-audiomentations (batched
torch; measured by ``augment_tam.py`` in its own environment, only with ``--tam-python``: it needs
torchaudio, which pins its own torch). Ratios are nnaudio_data's clips/s over each peer's.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch

N_FFT, HOP, FREQ_W, TIME_W = 1024, 256, 27, 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--aug-batch", type=int, default=64, help="augment: clips per batch (default 64)")
    parser.add_argument("--tam-python", default=None,
                        help="augment: python of an environment with torch-audiomentations (optional)")


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


def _tam(python: str, args: argparse.Namespace, batch: int) -> Optional[Dict[str, Any]]:
    script = os.path.join(os.path.dirname(__file__), "augment_tam.py")
    cmd = [python, script, "--clips", str(args.clips), "--length", str(args.length), "--sr", str(args.sr),
           "--batch", str(batch), "--threads", str(args.threads), "--freq-width", str(FREQ_W),
           "--time-width", str(TIME_W), "--n-fft", str(N_FFT), "--hop", str(HOP)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"torch-audiomentations: failed ({done.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> Dict[str, Any]:
    batch = getattr(args, "aug_batch", 64)
    n_calls = max(1, -(-args.clips // batch))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, 1, args.length))).float() * 0.1
    spec = torch.stft(x[:, 0], N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs()
    out: Dict[str, Any] = {"batch": batch, "clips_timed": n_calls * batch,
                           "chain": "gain + pink noise at SNR + time shift; freq + time masks"}
    dev = torch.device(args.device)
    out["nnaudio_data"] = _clips_per_s(_ours(x.to(dev), spec.to(dev), args.sr), n_calls, batch)
    print(f"nnaudio_data ({dev}): {out['nnaudio_data']:.1f} clips/s", flush=True)
    try:
        am_rate = _clips_per_s(_audiomentations(x.numpy(), spec.numpy(), args.sr), n_calls, batch)
        out["audiomentations"] = am_rate
        out["ratio_vs_audiomentations"] = out["nnaudio_data"] / am_rate
        print(f"audiomentations: {am_rate:.1f} clips/s  ->  ratio {out['ratio_vs_audiomentations']:.2f}x")
    except ImportError as e:
        print(f"audiomentations: skipped ({e})")
    python = getattr(args, "tam_python", None)
    if python:
        tam = _tam(python, args, batch)
        if tam is not None:
            out["torch_audiomentations"] = tam["clips_per_s"]
            out["torch_audiomentations_env"] = {k: v for k, v in tam.items() if k != "clips_per_s"}
            out["ratio_vs_torch_audiomentations"] = out["nnaudio_data"] / tam["clips_per_s"]
            print(f"torch-audiomentations: {tam['clips_per_s']:.1f} clips/s  ->  ratio "
                  f"{out['ratio_vs_torch_audiomentations']:.2f}x")
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from nnaudio_data.bench import add_arguments as common

    common(p)
    a = p.parse_args()
    a.device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(a.threads)
    print(json.dumps(run(a), indent=2), file=sys.stdout)
