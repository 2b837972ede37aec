"""STFT magnitude and Mel spectrogram, side by side in one run: nnaudio_data (both backends),
torch.stft + filterbank done torchaudio's way, librosa clip by clip, and nnAudio when importable.

Each system is timed in a fresh process (the allocations of one system can slow the next one
down in the same process), on the same deterministic clips. Prints seconds per system, speed-ups
of nnaudio_data over each peer, and the bytes each transform's kernels hold; returns the same
figures as a dict.
"""
from __future__ import annotations

import argparse
import multiprocessing
import time
from typing import Callable, Dict, Optional

import torch

from ..features import STFT, MelSpectrogram
from ..functional.mel import mel_filterbank

TRANSFORMS = ("stft", "mel")
SYSTEMS = ("ours-fft", "ours-conv1d", "torch.stft", "nnAudio", "librosa")
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
    g.add_argument("--spec-systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                   help="systems to time (default: all)")
    g.add_argument("--spec-same-process", action="store_true", help="time every system in this "
                   "process instead of one fresh process each (faster to start, but a system's "
                   "allocations can slow the next: torch.stft ran 2.5x slower after a conv1d one)")


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


def kernel_bytes(module: torch.nn.Module) -> int:
    """Bytes held by a module's buffers and parameters (its kernels)."""
    return sum(t.numel() * t.element_size() for t in [*module.buffers(), *module.parameters()])


def _build(name: str, a: argparse.Namespace, device: torch.device) -> Optional[Dict[str, Callable]]:
    """The STFT-magnitude and Mel callables of one system, or None when it is not importable."""
    cfg = dict(n_fft=a.spec_n_fft, hop_length=a.spec_hop)
    mel_cfg = dict(sr=a.sr, n_mels=a.spec_n_mels, **cfg)
    if name.startswith("ours-"):
        backend = name[len("ours-"):]
        return {"stft": STFT(output_format="Magnitude", backend=backend, **cfg).to(device),
                "mel": MelSpectrogram(backend=backend, **mel_cfg).to(device)}
    if name == "torch.stft":
        window = torch.hann_window(a.spec_n_fft, device=device)
        fb_t = mel_filterbank(a.sr, a.spec_n_fft, a.spec_n_mels).float().T.contiguous().to(device)

        def torch_stft(x):
            return torch.stft(x, a.spec_n_fft, a.spec_hop, window=window, center=True,
                              pad_mode="reflect", return_complex=True).abs()

        def torchaudio_mel(x):  # torchaudio's Spectrogram(power=2) then MelScale, (F, M) filterbank
            return torch.matmul(torch_stft(x).pow(2).transpose(-1, -2), fb_t).transpose(-1, -2)

        return {"stft": torch_stft, "mel": torchaudio_mel}
    try:
        if name == "nnAudio":
            import nnAudio.features as nna

            return {"stft": nna.STFT(output_format="Magnitude", verbose=False, **cfg).to(device),
                    "mel": nna.MelSpectrogram(verbose=False, **mel_cfg).to(device)}
        import librosa

        def per_clip(f):
            return lambda x: [f(clip) for clip in x.cpu().numpy()]

        return {"stft": per_clip(lambda y: abs(librosa.stft(y, pad_mode="reflect", **cfg))),
                "mel": per_clip(lambda y: librosa.feature.melspectrogram(y=y, pad_mode="reflect",
                                                                         **mel_cfg))}
    except ImportError as e:
        print(f"{name} not importable: skipped ({e})")
        return None


def _batches(a: argparse.Namespace, device: torch.device):
    gen = torch.Generator().manual_seed(0)
    pool = torch.randn(min(a.clips, 4 * a.spec_batch), a.length, generator=gen) * 0.1
    n_batches = -(-a.clips // a.spec_batch)
    return [pool.roll(i, 0)[: min(a.spec_batch, a.clips - i * a.spec_batch)].to(device)
            for i in range(n_batches)]


def _measure(name: str, config: Dict[str, object]) -> Optional[Dict[str, float]]:
    """Fastest of ``spec_repeats`` passes over all clips for one system's STFT and Mel, which
    take turns. Each pass follows a one-batch warm-up and a short sleep (so that thread pools left
    spinning by earlier work, e.g. numpy's BLAS, do not steal the cores)."""
    a = argparse.Namespace(**config)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    fns = _build(name, a, device)
    if fns is None:
        return None
    batches = _batches(a, device)
    best: Dict[str, float] = {}
    for _ in range(a.spec_repeats):
        for t in TRANSFORMS:
            fns[t](batches[0])
            _sync(device)
            time.sleep(_SETTLE_S)
            best[t] = min(_pass(fns[t], batches, device), best.get(t, float("inf")))
    return best


def _time_all(a: argparse.Namespace) -> Dict[str, Dict[str, float]]:
    """Seconds per transform and system; each system in a fresh process unless told otherwise."""
    config = {k: v for k, v in vars(a).items() if isinstance(v, (int, float, str, bool, list))}
    seconds: Dict[str, Dict[str, float]] = {t: {} for t in TRANSFORMS}
    ctx = multiprocessing.get_context("spawn")
    for name in a.spec_systems:
        if a.spec_same_process:
            result = _measure(name, config)
        else:
            with ctx.Pool(1) as pool:
                result = pool.apply(_measure, (name, config))
        if result is None:
            continue
        for t in TRANSFORMS:
            seconds[t][name] = result[t]
        print(f"  {name:12s} " + "  ".join(f"{t} {result[t]:.3f} s" for t in TRANSFORMS), flush=True)
    return seconds


def run(args: argparse.Namespace) -> Dict[str, object]:
    defaults = dict(spec_n_fft=2048, spec_hop=512, spec_n_mels=128, spec_batch=16, spec_repeats=3,
                    spec_systems=list(SYSTEMS), spec_same_process=False)
    a = argparse.Namespace(**{**defaults, **vars(args)})  # run() also works without add_arguments
    seconds = _time_all(a)
    ours = [n for n in ("ours-fft", "ours-conv1d") if n in seconds["stft"]]
    speedup = {t: {f"{o} vs {peer}": seconds[t][peer] / seconds[t][o] for o in ours
                   for peer in seconds[t] if not peer.startswith("ours")} for t in TRANSFORMS}
    kbytes = {}
    for name in ("ours-fft", "ours-conv1d", "nnAudio"):
        fns = _build(name, a, torch.device("cpu"))
        kbytes.update({f"{name}/{t}": kernel_bytes(fns[t]) for t in TRANSFORMS} if fns else {})
    _print_table(seconds, kbytes, a)
    figures = {"seconds": seconds, "speedup": speedup, "kernel_bytes": kbytes,
               "config": {"n_fft": a.spec_n_fft, "hop_length": a.spec_hop, "n_mels": a.spec_n_mels,
                          "batch": a.spec_batch, "clips": a.clips, "length": a.length,
                          "same_process": a.spec_same_process}}
    from .report import write_chart

    write_chart(seconds, a.out, "spectrogram")
    return figures


def _print_table(seconds, kbytes, a) -> None:
    names = list(seconds["stft"])
    base = "ours-fft" if "ours-fft" in names else names[0]
    print(f"\n{a.clips} clips x {a.length} samples @ {a.sr} Hz, n_fft={a.spec_n_fft}, "
          f"hop={a.spec_hop}, n_mels={a.spec_n_mels}, device={a.device}, threads={a.threads}")
    print(f"{'system':14s}" + "".join(f"{t + ' s':>12s}" for t in TRANSFORMS)
          + "".join(f"{'fft x ' + t:>12s}" for t in TRANSFORMS))
    for n in names:
        ratios = [seconds[t][n] / seconds[t][base] for t in TRANSFORMS]
        print(f"{n:14s}" + "".join(f"{seconds[t][n]:12.3f}" for t in TRANSFORMS)
              + "".join(f"{r:12.2f}" for r in ratios))
    print(f"(fft x: the system's seconds / {base} seconds; > 1 means {base} is faster)")
    print("kernel bytes: " + ", ".join(f"{k} {v:,}" for k, v in kbytes.items()))
