"""``nnaudio-data bench --only cqt``: the constant-Q family against librosa.cqt (clip by clip) and
nnAudio's CQT1992v2 / CQT2010v2, side by side in one run, on the same synthetic piano-like clips.

Reports seconds, ratios (peer / ours), relative error against librosa.cqt on the first clips, and the
bytes held by each transform's kernels.
"""
from __future__ import annotations

import argparse
import time
import warnings
from typing import Callable, Dict

import numpy as np
import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cqt-batch", type=int, default=32, help="clips per batch for the torch "
                        "transforms in the cqt section (default 32)")
    parser.add_argument("--cqt-repeat", type=int, default=2, help="timed passes per transform "
                        "(librosa included), the fastest kept (default 2)")
    parser.add_argument("--cqt-check", type=int, default=4, help="clips compared with librosa.cqt "
                        "for the error figures (default 4)")


def piano_clips(n: int, length: int, sr: int, seed: int = 0) -> torch.Tensor:
    """``n`` clips of decaying harmonic notes (3 to 5 notes each, MIDI 28-96) plus faint noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64) / sr
    out = torch.empty(n, length)
    for i in range(n):
        x = 0.003 * torch.randn(length, generator=g, dtype=torch.float64)
        for _ in range(int(torch.randint(3, 6, (1,), generator=g))):
            f0 = 440.0 * 2 ** ((float(torch.randint(28, 97, (1,), generator=g)) - 69) / 12)
            onset = float(torch.rand(1, generator=g)) * t[-1] * 0.5
            env = torch.exp(-(t - onset).clamp(min=0) * 3.0) * (t >= onset)
            for h in range(1, 6):
                if f0 * h < sr / 2:
                    x += env * 0.3 / h * torch.sin(2 * np.pi * f0 * h * t)
        out[i] = x.float()
    return out


def _timed(fn: Callable[[], object], device: str) -> float:
    time.sleep(0.3)  # let the previous library's spinning worker threads go idle first
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _batched(mod, clips: torch.Tensor, batch: int, device: str) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            for i in range(0, len(clips), batch):
                mod(clips[i: i + batch].to(device))
    return run


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def run(args: argparse.Namespace) -> Dict[str, object]:
    from nnaudio_data.features.cqt import CQT1992v2

    sr, device = args.sr, args.device
    batch, n_check = getattr(args, "cqt_batch", 32), getattr(args, "cqt_check", 4)
    clips = piano_clips(args.clips, args.length, sr)
    repeat = getattr(args, "cqt_repeat", 2)
    common = dict(sr=sr, hop_length=512, fmin=32.70, n_bins=84, bins_per_octave=12)
    mods = {f"ours[{mode},{backend}]": CQT1992v2(**common, mode=mode, backend=backend,
                                                 pad_mode="constant" if mode == "librosa" else "reflect")
            for mode in ("librosa", "nnaudio") for backend in ("auto", "conv", "fft")}
    peers = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from nnAudio import features as nnf
            peers["nnAudio CQT1992v2"] = nnf.CQT1992v2(**common, verbose=False)
            peers["nnAudio CQT2010v2"] = nnf.CQT2010v2(**common, verbose=False)
    except ImportError as e:
        print(f"nnAudio skipped: {e}")
    seconds: Dict[str, float] = {}
    kernel_bytes: Dict[str, int] = {}
    runs: Dict[str, Callable[[], object]] = {}
    for name, mod in {**mods, **peers}.items():
        mod.to(device)
        runs[name] = _batched(mod, clips, batch, device)
        _batched(mod, clips[: 2 * batch], batch, device)()  # warm-up: kernels, FFT plans, conv primitives
        kernel_bytes[name] = (mod.kernel_nbytes if hasattr(mod, "kernel_nbytes") else
                              sum(b.numel() * b.element_size() for n, b in mod.named_buffers()
                                  if "kernel" in n))
    try:
        import librosa

        audio = clips.numpy()
        lk = dict(sr=sr, hop_length=512, fmin=32.70, n_bins=84, bins_per_octave=12)
        librosa.cqt(audio[0], **lk)  # warm-up (filter cache)
        runs["librosa.cqt"] = lambda: [librosa.cqt(a, **lk) for a in audio]
    except ImportError as e:
        librosa = None
        print(f"librosa skipped: {e}")
    for _ in range(repeat):  # round robin, so that every transform sees the same machine load
        for name, fn in runs.items():
            t = _timed(fn, "cpu" if name == "librosa.cqt" else device)
            seconds[name] = min(seconds.get(name, float("inf")), t)
    errors: Dict[str, float] = {}
    if librosa is not None:
        ref = np.stack([np.abs(librosa.cqt(a, **lk)) for a in audio[:n_check]])
        with torch.no_grad():
            for name, mod in {**mods, **peers}.items():
                out = mod(clips[:n_check].to(device)).cpu().numpy()
                errors[name] = _rel(out[..., : ref.shape[-1]], ref)
    print(f"{len(clips)} clips x {args.length} samples at {sr} Hz, device {device}, "
          f"{torch.get_num_threads()} threads, batch {batch}")
    print(f"{'transform':28s} {'seconds':>9s} {'vs librosa':>11s} {'vs nnAudio1992':>15s} "
          f"{'rel.err vs librosa':>19s} {'kernel bytes':>13s}")
    for name, s in seconds.items():
        lib = seconds.get("librosa.cqt", float("nan")) / s
        nn92 = seconds.get("nnAudio CQT1992v2", float("nan")) / s
        err = errors.get(name, float("nan"))
        kb = kernel_bytes.get(name, 0)
        print(f"{name:28s} {s:9.3f} {lib:10.1f}x {nn92:14.1f}x {err:19.4f} {kb:13,d}")
    return {"seconds": seconds, "rel_error_vs_librosa": errors, "kernel_bytes": kernel_bytes,
            "batch": batch}
