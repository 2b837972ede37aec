"""STFT magnitude and Mel spectrogram, side by side in one run: nnaudio_data (both backends),
torch.stft + filterbank done torchaudio's way, librosa clip by clip, and nnAudio when importable.

Prints seconds per system, speed-ups of nnaudio_data over each peer, and the bytes each
transform's kernels hold; returns the same figures as a dict.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable, Dict, Optional

import torch

from ..features import STFT, MelSpectrogram
from ..functional.mel import mel_filterbank

TRANSFORMS = ("stft", "mel")
_SETTLE_S = 0.3  # idle time before each timed pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("spectrogram")
    g.add_argument("--spec-n-fft", type=int, default=2048, help="n_fft (default 2048)")
    g.add_argument("--spec-hop", type=int, default=512, help="hop length (default 512)")
    g.add_argument("--spec-n-mels", type=int, default=128, help="mel bands (default 128)")
    g.add_argument("--spec-batch", type=int, default=16, help="clips per batch for the batched "
                   "systems (default 16)")
    g.add_argument("--spec-repeats", type=int, default=3, help="passes per system; the fastest "
                   "counts (default 3)")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _pass(fn: Callable[[torch.Tensor], object], batches, device: torch.device) -> float:
    """Seconds for one pass of ``fn`` over all batches."""
    start = time.perf_counter()
    for b in batches:
        fn(b)
    _sync(device)
    return time.perf_counter() - start


def _time_all(systems, batches, device: torch.device, repeats: int) -> Dict[str, Dict[str, float]]:
    """Fastest of ``repeats`` passes per system and transform. The systems take turns within each
    repeat, in an order rotated every repeat, so that load from other processes spreads over all
    of them; before each pass the process sleeps briefly, so that thread pools the previous system
    left spinning (numpy's BLAS after librosa's mel matmul) do not steal the cores from the next."""
    seconds: Dict[str, Dict[str, float]] = {t: {} for t in TRANSFORMS}
    runs = [(name, t, fns[t]) for name, fns in systems.items() for t in TRANSFORMS]
    for _, _, fn in runs:  # warm-up: one batch each
        fn(batches[0])
    for r in range(repeats):
        for name, t, fn in runs[r % len(runs):] + runs[: r % len(runs)]:
            time.sleep(_SETTLE_S)
            s = _pass(fn, batches, device)
            seconds[t][name] = min(s, seconds[t].get(name, float("inf")))
        print(f"  repeat {r + 1}/{repeats}: " + ", ".join(
            f"{t} {n} {seconds[t][n]:.3f}" for t in TRANSFORMS for n in systems), flush=True)
    return seconds


def kernel_bytes(module: torch.nn.Module) -> int:
    """Bytes held by a module's buffers and parameters (its kernels)."""
    return sum(t.numel() * t.element_size() for t in [*module.buffers(), *module.parameters()])


def _systems(a: argparse.Namespace, device: torch.device) -> Dict[str, Dict[str, Optional[Callable]]]:
    cfg = dict(n_fft=a.spec_n_fft, hop_length=a.spec_hop)
    mel_cfg = dict(sr=a.sr, n_mels=a.spec_n_mels, **cfg)
    modules = {}
    for backend in ("fft", "conv1d"):
        modules[f"ours-{backend}"] = {
            "stft": STFT(output_format="Magnitude", backend=backend, **cfg).to(device),
            "mel": MelSpectrogram(backend=backend, **mel_cfg).to(device)}
    window = torch.hann_window(a.spec_n_fft, device=device)
    fb_t = mel_filterbank(a.sr, a.spec_n_fft, a.spec_n_mels).float().T.contiguous().to(device)

    def torch_stft(x):
        return torch.stft(x, a.spec_n_fft, a.spec_hop, window=window, center=True,
                          pad_mode="reflect", return_complex=True).abs()

    systems: Dict[str, Dict[str, Optional[Callable]]] = dict(modules)
    def torchaudio_mel(x):  # torchaudio's Spectrogram(power=2) then MelScale, (F, M) filterbank
        return torch.matmul(torch_stft(x).pow(2).transpose(-1, -2), fb_t).transpose(-1, -2)

    systems["torch.stft"] = {"stft": torch_stft, "mel": torchaudio_mel}
    try:
        import nnAudio.features as nna

        systems["nnAudio"] = {
            "stft": nna.STFT(output_format="Magnitude", verbose=False, **cfg).to(device),
            "mel": nna.MelSpectrogram(verbose=False, **mel_cfg).to(device)}
    except ImportError:
        print("nnAudio not importable: skipped")
    try:
        import librosa

        def per_clip(f):
            return lambda x: [f(clip) for clip in x.cpu().numpy()]

        systems["librosa"] = {
            "stft": per_clip(lambda y: abs(librosa.stft(y, pad_mode="reflect", **cfg))),
            "mel": per_clip(lambda y: librosa.feature.melspectrogram(y=y, pad_mode="reflect",
                                                                     **mel_cfg))}
    except ImportError:
        print("librosa not importable: skipped")
    return systems


def run(args: argparse.Namespace) -> Dict[str, object]:
    defaults = dict(spec_n_fft=2048, spec_hop=512, spec_n_mels=128, spec_batch=16, spec_repeats=3)
    a = argparse.Namespace(**{**defaults, **vars(args)})  # run() also works without add_arguments
    device = torch.device(a.device)
    gen = torch.Generator().manual_seed(0)
    pool = torch.randn(min(a.clips, 4 * a.spec_batch), a.length, generator=gen) * 0.1
    n_batches = -(-a.clips // a.spec_batch)
    batches = [pool.roll(i, 0)[: min(a.spec_batch, a.clips - i * a.spec_batch)].to(device)
               for i in range(n_batches)]
    systems = _systems(a, device)
    seconds = _time_all(systems, batches, device, a.spec_repeats)
    speedup = {t: {f"{ours} vs {peer}": seconds[t][peer] / seconds[t][ours]
                   for ours in ("ours-fft", "ours-conv1d") for peer in seconds[t]
                   if not peer.startswith("ours")} for t in TRANSFORMS}
    kbytes = {f"{name}/{t}": kernel_bytes(fns[t]) for name, fns in systems.items()
              for t in TRANSFORMS if isinstance(fns[t], torch.nn.Module)}
    _print_table(seconds, speedup, kbytes, a)
    figures = {"seconds": seconds, "speedup": speedup, "kernel_bytes": kbytes,
               "config": {"n_fft": a.spec_n_fft, "hop_length": a.spec_hop, "n_mels": a.spec_n_mels,
                          "batch": a.spec_batch, "clips": a.clips, "length": a.length}}
    from .report import write_chart

    write_chart(seconds, a.out, "spectrogram")
    return figures


def _print_table(seconds, speedup, kbytes, a) -> None:
    names = list(seconds["stft"])
    print(f"\n{a.clips} clips x {a.length} samples @ {a.sr} Hz, n_fft={a.spec_n_fft}, "
          f"hop={a.spec_hop}, n_mels={a.spec_n_mels}, device={a.device}, threads={a.threads}")
    print(f"{'system':14s}" + "".join(f"{t + ' s':>12s}" for t in TRANSFORMS)
          + "".join(f"{'fft x ' + t:>12s}" for t in TRANSFORMS))
    for n in names:
        ratios = [seconds[t][n] / seconds[t]["ours-fft"] for t in TRANSFORMS]
        print(f"{n:14s}" + "".join(f"{seconds[t][n]:12.3f}" for t in TRANSFORMS)
              + "".join(f"{r:12.2f}" for r in ratios))
    print("(fft x: the peer's seconds / ours-fft seconds; > 1 means ours is faster)")
    print("kernel bytes: " + ", ".join(f"{k} {v:,}" for k, v in kbytes.items()))
