"""``cqt`` section: the constant-Q transform, seconds for all clips, on the same synthetic piano-like
clips (84 bins from 32.70 Hz, 12 per octave, hop 512), per system:

- ``ours[librosa]``, ``ours[librosa,fft]``: ``CQT1992v2(mode="librosa")``, backends auto and fft;
- ``ours[nnaudio]``: ``CQT1992v2(mode="nnaudio")`` (nnAudio's full-width kernels, its numbers);
- ``ours[nnaudio,octaves]``: ``CQT1992v2(mode="nnaudio", layout="octaves")`` (per-octave kernels);
- ``nnAudio CQT1992v2``, ``nnAudio CQT2010v2``;
- ``librosa.cqt``: called on each (B, T) batch (librosa accepts batches).

Once, in its own process: each transform's relative error against ``librosa.cqt`` on the first
``--cqt-check`` clips, and the bytes its kernels hold.
"""
from __future__ import annotations

import argparse
import time
import warnings
from typing import Any, Callable, Dict, List

import numpy as np

OURS = ("ours[librosa]", "ours[librosa,fft]", "ours[nnaudio]", "ours[nnaudio,octaves]")
PEERS = ("nnAudio CQT1992v2", "nnAudio CQT2010v2", "librosa.cqt")
COMMON: Dict[str, Any] = dict(hop_length=512, fmin=32.70, n_bins=84, bins_per_octave=12)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("cqt")
    g.add_argument("--cqt-batch", type=int, default=32, help="clips per batch (default 32)")
    g.add_argument("--cqt-check", type=int, default=4, help="clips compared with librosa.cqt "
                   "for the error figures (default 4)")


def piano_clips(n: int, length: int, sr: int, seed: int = 0):
    """``n`` clips of decaying harmonic notes (3 to 5 notes each, MIDI 28-96) plus faint noise."""
    import torch

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


def systems(cfg: Dict[str, Any]) -> List[str]:
    return list(OURS + PEERS)


def prepare(cfg: Dict[str, Any], workdir: str) -> Dict[str, Any]:
    """Synthesize the clips once (seconds of Python for hundreds of clips), for every process."""
    import os

    path = os.path.join(workdir, "clips.npy")
    np.save(path, piano_clips(cfg["clips"], cfg["length"], cfg["sr"]).numpy())
    return {"_clips_npy": path}


def _clips(cfg: Dict[str, Any], n: int):
    import torch

    if cfg.get("_clips_npy"):
        return torch.from_numpy(np.load(cfg["_clips_npy"], mmap_mode="r")[:n].copy())
    return piano_clips(n, cfg["length"], cfg["sr"])


def _module(name: str, sr: int):
    """The torch module of a system (librosa.cqt has none)."""
    if name.startswith("ours"):
        from ...features._cqt import CQT1992v2

        mode = "nnaudio" if "nnaudio" in name else "librosa"
        backend = "fft" if name.endswith(",fft]") else "auto"
        layout = "octaves" if name.endswith(",octaves]") else "full"
        return CQT1992v2(sr=sr, **COMMON, mode=mode, backend=backend, layout=layout,
                         pad_mode="constant" if mode == "librosa" else "reflect")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nnAudio import features as nnf

        cls = nnf.CQT1992v2 if name.endswith("1992v2") else nnf.CQT2010v2
        return cls(sr=sr, **COMMON, verbose=False)


def _runner(name: str, cfg: Dict[str, Any]) -> Callable[[Any], Any]:
    import torch

    if name == "librosa.cqt":
        import librosa

        return lambda x: librosa.cqt(x.numpy(), sr=cfg["sr"], **COMMON)
    mod = _module(name, cfg["sr"]).to(cfg["device"])

    def run(x):
        with torch.no_grad():
            y = mod(x.to(cfg["device"]))
        if cfg["device"].startswith("cuda"):
            torch.cuda.synchronize()
        return y

    return run


def measure(system: str, cfg: Dict[str, Any]) -> Dict[str, float]:
    """Seconds of one pass over all clips (after a one-batch warm-up)."""
    clips, b = _clips(cfg, cfg["clips"]), cfg["cqt_batch"]
    fn = _runner(system, cfg)
    fn(clips[:b])
    time.sleep(0.3)
    start = time.perf_counter()
    for i in range(0, len(clips), b):
        fn(clips[i: i + b])
    return {"cqt": time.perf_counter() - start}


def once(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Relative error against librosa.cqt on the first clips, and kernel bytes, per system."""
    import librosa
    import torch

    clips = _clips(cfg, cfg["cqt_check"])
    ref = np.abs(librosa.cqt(clips.numpy(), sr=cfg["sr"], **COMMON))
    errors, kbytes, failed = {}, {}, {}
    for name in OURS + PEERS[:2]:
        try:
            mod = _module(name, cfg["sr"])
            with torch.no_grad():
                out = mod(clips).numpy()[..., : ref.shape[-1]]
        except Exception as e:  # not importable, or clips too short for its kernels: said, not fatal
            failed[name] = f"{type(e).__name__}: {e}"[:200]
            continue
        errors[name] = float(np.linalg.norm(out - ref) / np.linalg.norm(ref))
        kbytes[name] = int(getattr(mod, "kernel_nbytes", 0) or sum(
            b.numel() * b.element_size() for n, b in mod.named_buffers() if "kernel" in n))
    return {"rel_error_vs_librosa": errors, "kernel_bytes": kbytes, "failed": failed}


def summarize(raw, once, cfg) -> Dict[str, Any]:
    from .stats import compare

    fig = compare(raw, ["cqt"], OURS)
    fig.update({k: (once or {}).get(k, {}) for k in ("rel_error_vs_librosa", "kernel_bytes")})
    return fig


def markdown(fig: Dict[str, Any], cfg: Dict[str, Any]) -> str:
    from .report import ratio_rows
    from .stats import fmt_value

    err, kb = fig.get("rel_error_vs_librosa", {}), fig.get("kernel_bytes", {})
    rows = [f"| {s} | {fmt_value(v)} | {f'{err[s]:.4f}' if s in err else '-'} | "
            f"{f'{kb[s]:,}' if s in kb else '-'} |" for s, v in fig["values"].get("cqt", {}).items()]
    return "\n".join([f"Batches of {cfg.get('cqt_batch')}; seconds for all clips; relative error "
                      f"against librosa.cqt on {cfg.get('cqt_check')} clips.", "",
                      "| system | seconds, median (range) | rel. error vs librosa | kernel bytes |",
                      "|---|---:|---:|---:|", *rows, "", "Speed-up (peer seconds / ours, by round):",
                      "", "| | ratio |", "|---|---:|", ratio_rows(fig["ratios"].get("cqt", {}))])


def headline(fig: Dict[str, Any]) -> List[str]:
    from .stats import fmt_ratio

    r = {k: v for k, v in fig["ratios"].get("cqt", {}).items() if k.startswith("ours[librosa] vs")}
    return [("CQT: " + ", ".join(f"{fmt_ratio(v)} {k[len('ours[librosa] vs '):]}" for k, v in r.items()))
            ] if r else []
