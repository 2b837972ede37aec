"""``spectrogram`` section: STFT magnitude and Mel spectrogram, seconds for all clips, per system:

- ``ours-fft``, ``ours-conv1d``: nnaudio_data's two backends;
- ``torch.stft``: ``torch.stft`` + the Mel filterbank as a matmul, torchaudio's own way;
- ``torchaudio``: torchaudio's ``Spectrogram(power=1)`` and ``MelSpectrogram``, measured by
  ``peer_torchaudio.py`` in the environment given by ``--torchaudio-python`` (torchaudio pins its
  own torch build);
- ``nnAudio``: nnAudio 0.3's ``STFT`` and ``MelSpectrogram``;
- ``librosa``: ``librosa.stft`` / ``librosa.feature.melspectrogram`` called on each (B, T) batch
  (librosa accepts batches).

Every system gets the same deterministic batches (``torch.randn`` from seed 0, in batches of
``--spec-batch``), a one-batch warm-up, then one timed pass per transform.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable, Dict, List, Optional

TASKS = ("stft", "mel")
SYSTEMS = ("ours-fft", "ours-conv1d", "torch.stft", "torchaudio", "nnAudio", "librosa")
OURS = ("ours-fft", "ours-conv1d")
_SETTLE_S = 0.3  # idle time before each timed pass: thread pools left spinning go idle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("spectrogram")
    g.add_argument("--spec-n-fft", type=int, default=2048, help="n_fft (default 2048)")
    g.add_argument("--spec-hop", type=int, default=512, help="hop length (default 512)")
    g.add_argument("--spec-n-mels", type=int, default=128, help="mel bands (default 128)")
    g.add_argument("--spec-batch", type=int, default=16, help="clips per batch (default 16)")
    g.add_argument("--spec-systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                   help="systems to time (default: all that are importable)")
    g.add_argument("--torchaudio-python", default=None, help="python of an environment with "
                   "torchaudio, for the torchaudio peer (optional)")


def systems(cfg: Dict[str, Any]) -> List[str]:
    return [s for s in cfg["spec_systems"] if s != "torchaudio" or cfg.get("torchaudio_python")]


def external_command(system: str, cfg: Dict[str, Any]) -> Optional[List[str]]:
    if system != "torchaudio":
        return None
    import json

    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_torchaudio.py")
    return [cfg["torchaudio_python"], script, json.dumps(cfg)]


def batches(cfg: Dict[str, Any], device) -> list:
    """The clips, as (B, T) float32 batches: ``peer_torchaudio.py`` builds the same ones."""
    import torch

    gen = torch.Generator().manual_seed(0)
    b, n = cfg["spec_batch"], cfg["clips"]
    pool = torch.randn(min(n, 4 * b), cfg["length"], generator=gen) * 0.1
    return [pool.roll(i, 0)[: min(b, n - i * b)].to(device) for i in range(-(-n // b))]


def _build(name: str, cfg: Dict[str, Any], device) -> Dict[str, Callable]:
    import torch

    stft_cfg = dict(n_fft=cfg["spec_n_fft"], hop_length=cfg["spec_hop"])
    mel_cfg = dict(sr=cfg["sr"], n_mels=cfg["spec_n_mels"], **stft_cfg)
    if name.startswith("ours-"):
        from ...features import STFT, MelSpectrogram

        backend = name[len("ours-"):]
        return {"stft": STFT(output_format="Magnitude", backend=backend, **stft_cfg).to(device),
                "mel": MelSpectrogram(backend=backend, **mel_cfg).to(device)}
    if name == "torch.stft":
        from ...functional._mel import mel_filterbank

        n_fft, hop = cfg["spec_n_fft"], cfg["spec_hop"]
        window = torch.hann_window(n_fft, device=device)
        fb_t = mel_filterbank(cfg["sr"], n_fft, cfg["spec_n_mels"]).float().T.contiguous().to(device)

        def torch_stft(x):
            return torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="reflect",
                              return_complex=True).abs()

        def torchaudio_way(x):  # Spectrogram(power=2) then MelScale's (F, M) matmul
            return torch.matmul(torch_stft(x).pow(2).transpose(-1, -2), fb_t).transpose(-1, -2)

        return {"stft": torch_stft, "mel": torchaudio_way}
    if name == "nnAudio":
        import nnAudio.features as nna

        return {"stft": nna.STFT(output_format="Magnitude", verbose=False, **stft_cfg).to(device),
                "mel": nna.MelSpectrogram(verbose=False, **mel_cfg).to(device)}
    if name == "librosa":
        import librosa
        import numpy as np

        def on_batch(f):
            return lambda x: f(x.cpu().numpy())

        return {"stft": on_batch(lambda y: np.abs(librosa.stft(y, pad_mode="reflect", **stft_cfg))),
                "mel": on_batch(lambda y: librosa.feature.melspectrogram(y=y, pad_mode="reflect",
                                                                         **mel_cfg))}
    raise ValueError(f"system must be one of {SYSTEMS}, got {name!r}")


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(system: str, cfg: Dict[str, Any]) -> Dict[str, float]:
    """Seconds of one pass over all clips, per transform (after a one-batch warm-up)."""
    import torch

    device = torch.device(cfg["device"])
    fns = _build(system, cfg, device)
    data = batches(cfg, device)
    out = {}
    with torch.no_grad():
        for t in TASKS:
            fns[t](data[0])
            _sync(device)
            time.sleep(_SETTLE_S)
            start = time.perf_counter()
            for b in data:
                fns[t](b)
            _sync(device)
            out[t] = time.perf_counter() - start
    return out


def kernel_bytes(module) -> int:
    """Bytes held by a module's buffers and parameters (its kernels)."""
    return sum(t.numel() * t.element_size() for t in [*module.buffers(), *module.parameters()])


def once(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Kernel bytes of ours (both backends) and nnAudio."""
    import torch

    out = {}
    for name in ("ours-fft", "ours-conv1d", "nnAudio"):
        try:
            fns = _build(name, cfg, torch.device("cpu"))
        except ImportError:
            continue
        out.update({f"{name}/{t}": kernel_bytes(fns[t]) for t in TASKS})
    return {"kernel_bytes": out}


def summarize(raw, once, cfg) -> Dict[str, Any]:
    from .stats import compare

    fig = compare(raw, TASKS, OURS)
    fig["kernel_bytes"] = (once or {}).get("kernel_bytes", {})
    return fig


def markdown(fig: Dict[str, Any], cfg: Dict[str, Any]) -> str:
    from .report import ratio_rows, value_rows

    head = (f"n_fft {cfg.get('spec_n_fft')}, hop {cfg.get('spec_hop')}, {cfg.get('spec_n_mels')} "
            f"mels, batches of {cfg.get('spec_batch')}; seconds for all clips.")
    parts = [head]
    for t in TASKS:
        parts += ["", f"{t}: seconds, median (range)", "", "| system | seconds |", "|---|---:|",
                  value_rows(fig["values"].get(t, {})), "",
                  f"{t}: speed-up (peer seconds / ours, by round)", "", "| | ratio |", "|---|---:|",
                  ratio_rows(fig["ratios"].get(t, {}))]
    kb = fig.get("kernel_bytes", {})
    if kb:
        parts += ["", "Kernel bytes: " + ", ".join(f"{k} {v:,}" for k, v in kb.items())]
    return "\n".join(parts)


def headline(fig: Dict[str, Any]) -> List[str]:
    from .stats import fmt_ratio

    out = []
    for t in TASKS:
        r = {k: v for k, v in fig["ratios"].get(t, {}).items() if k.startswith("ours-fft vs")}
        if r:
            out.append(f"{t.upper() if t == 'stft' else 'Mel'}: " + ", ".join(
                f"{fmt_ratio(v)} {k[len('ours-fft vs '):]}" for k, v in r.items()))
    return out
