"""``nnaudio-data gpu-check``: every GPU claim of the project, measured in one run on one CUDA GPU
(an estimate of under 10 minutes, from the sizes below; not yet timed on a GPU), ending with a
verdict table. ``--dry`` runs the same steps on CPU with tiny sizes, to check the wiring (a test
runs it): every row of a dry run is WIRED (or FAIL), none PASS, since CPU was compared with CPU.

Steps (each a row of the verdict table):

1. ``cuda tests``: ``pytest -m cuda`` (dry: collected only);
2. ``backends <kind>``: every transform kind, each backend, on the device against the CPU output;
3. ``seed bench <task>``: the nnAudio paper's shape (1,770 clips x 80,000 samples at 44.1 kHz):
   STFT, Mel, CQT, ours against nnAudio and ``torch.stft`` (+ filterbank), on the device;
4. ``overlap``: a small CNN trained from shards with on-the-fly Mel via ``DeviceLoader``, against
   the same CNN on precomputed spectrograms held in device memory: step-time ratio (goal >= 0.95)
   and the host's wait for data per step;
5. ``memory`` and ``H2D``: peak device memory of the overlap run, host-to-device bandwidth of a
   pinned copy and the bandwidth the training run used.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout
GOAL_OVERLAP = 0.95
BACKEND_RTOL = 1e-3  # float32 on two devices: different FFT/conv kernels, summation orders
KIND_ARGS = {  # small, fast kernels; the same on both devices
    "stft": dict(n_fft=1024, hop_length=256), "log": dict(n_fft=1024, hop_length=256, sr=22050),
    "mel": dict(sr=22050, n_fft=1024, hop_length=256, n_mels=64), "mfcc": dict(sr=22050),
    "cqt": dict(sr=22050, hop_length=256), "vqt": dict(sr=22050, hop_length=256),
    "gammatone": dict(sr=22050, n_fft=1024, hop_length=256)}
BACKENDS = ("conv1d", "fft", "conv")  # framed transforms: conv1d / fft; constant-Q: conv / fft


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry", action="store_true", help="CPU, tiny sizes: check the wiring only")
    parser.add_argument("--device", default="cuda", help="device to check (default cuda)")
    parser.add_argument("--out", default="gpu-check.json", help="JSON of every figure (default gpu-check.json)")
    parser.add_argument("--skip-tests", action="store_true", help="leave out pytest -m cuda")


class Row(dict):
    """One verdict: step, what was measured, the goal, and PASS / FAIL / INFO / SKIP / WIRED."""


def _row(step: str, measured: str, goal: str, verdict: str) -> Row:
    return Row(step=step, measured=measured, goal=goal, verdict=verdict)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_cuda_tests(dry: bool) -> List[Row]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", "tests"]
    done = subprocess.run(cmd + (["--collect-only"] if dry else []), cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": ROOT})
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if dry:
        return [_row("cuda tests", last, "collected", "WIRED" if done.returncode == 0 else "FAIL")]
    return [_row("cuda tests", last, "all pass", "PASS" if done.returncode == 0 else "FAIL")]


def step_backends(device: torch.device, n: int) -> List[Row]:
    from ..features import make_transform
    from ..features._kinds import KINDS

    x = torch.randn(4, n, generator=torch.Generator().manual_seed(0)) * 0.1
    rows = []
    for kind in KINDS:
        for backend in BACKENDS:
            try:
                mod = make_transform(kind, backend=backend, verbose=False, **KIND_ARGS[kind])
            except (TypeError, ValueError):
                continue  # this kind has no such backend
            with torch.no_grad():
                ref = mod(x)
                got = mod.to(device)(x.to(device)).cpu()
            err = float((got - ref).norm() / ref.norm().clamp_min(1e-12))
            # on a CPU "device" both sides ran on CPU: the row shows the wiring, it measures nothing
            verdict = "FAIL" if not err < BACKEND_RTOL else "PASS" if device.type != "cpu" else "WIRED"
            rows.append(_row(f"backends {kind}/{backend}", f"rel. error {err:.1e}"
                             + (" (CPU vs CPU)" if device.type == "cpu" else ""), f"< {BACKEND_RTOL:g} vs CPU", verdict))
    return rows


def _timed(fn: Callable[[torch.Tensor], Any], batches: List[torch.Tensor], device: torch.device) -> float:
    with torch.no_grad():
        fn(batches[0])
        _sync(device)
        start = time.perf_counter()
        for b in batches:
            fn(b)
        _sync(device)
    return time.perf_counter() - start


def step_seed_bench(device: torch.device, clips: int, length: int, sr: int, batch: int) -> List[Row]:
    from .bench.cqt import COMMON, piano_clips
    from .bench.spectrogram import _build

    cfg = dict(spec_n_fft=2048, spec_hop=512, spec_n_mels=128, sr=sr)
    data = torch.randn(batch, length, generator=torch.Generator().manual_seed(0)).to(device) * 0.1
    batches = [data] * (-(-clips // batch))
    systems = {}
    for name in ("ours-fft", "ours-conv1d", "torch.stft", "nnAudio"):
        try:
            systems[name] = _build(name, cfg, device)
        except ImportError:
            pass
    rows, figures = [], {}
    for task in ("stft", "mel"):
        secs = {name: _timed(fns[task], batches, device) for name, fns in systems.items()}
        figures[task] = secs
        best_ours = min(v for k, v in secs.items() if k.startswith("ours"))
        peers = {k: v for k, v in secs.items() if not k.startswith("ours")}
        measured = ", ".join(f"{k} {v:.3f} s" for k, v in secs.items())
        ratio = min(peers.values()) / best_ours if peers else float("nan")
        rows.append(_row(f"seed bench {task}", measured, "ours faster than every peer",
                         f"{'PASS' if ratio >= 1 else 'INFO'} ({ratio:.2f}x best peer)"))
    from ..features._cqt import CQT1992v2

    cqt_batches = [piano_clips(batch, length, sr).to(device)] * (-(-clips // batch))
    mods = {"ours": CQT1992v2(sr=sr, **COMMON, mode="librosa", pad_mode="constant")}
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from nnAudio import features as nnf

            mods["nnAudio CQT1992v2"] = nnf.CQT1992v2(sr=sr, **COMMON, verbose=False)
    except ImportError:
        pass
    secs = {k: _timed(m.to(device), cqt_batches, device) for k, m in mods.items()}
    figures["cqt"] = secs
    ratio = secs.get("nnAudio CQT1992v2", float("nan")) / secs["ours"]
    rows.append(_row("seed bench cqt", ", ".join(f"{k} {v:.3f} s" for k, v in secs.items()),
                     "ours faster than nnAudio", f"{'PASS' if ratio >= 1 else 'INFO'} ({ratio:.2f}x)"))
    return rows


class SmallCNN(nn.Module):
    """log-mel (B, F, N) -> logits (B, K): three conv layers, pooled, one linear layer."""

    def __init__(self, n_classes: int, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, n_classes))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return self.net(torch.log(spec + 1e-6)[:, None])


def _train(model, opt, batches, device) -> Dict[str, float]:
    """Seconds per step and host seconds waiting in ``next()`` per step, over ``batches``."""
    it, steps, wait = iter(batches), 0, 0.0
    _sync(device)
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        try:
            spec, labels = next(it)
        except StopIteration:
            break
        wait += time.perf_counter() - t0
        loss = nn.functional.cross_entropy(model(spec), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    _sync(device)
    total = time.perf_counter() - start
    return {"step_s": total / max(1, steps), "wait_s": wait / max(1, steps), "steps": steps, "total_s": total}


def step_overlap(device: torch.device, clips: int, sr: int, batch: int, workers: int, width: int) -> List[Row]:
    from torch.utils.data import DataLoader

    from .. import DeviceLoader, GPUSpectrogramCollate, ShardedAudioDataset
    from .demo import write_demo_shards
    from .synth import CLASSES

    mel: Dict[str, Any] = dict(sr=sr, n_fft=512, hop_length=160, n_mels=64)
    with tempfile.TemporaryDirectory() as tmp:
        urls = write_demo_shards(tmp, clips, sr, 1.0, per_shard=max(1, clips // (2 * max(1, workers))))
        ds = ShardedAudioDataset(urls, sr=sr, length=sr, seed=0)
        collate = GPUSpectrogramCollate("mel", device=device, **mel)
        loader = DeviceLoader(DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=collate,
                                         pin_memory=device.type == "cuda", persistent_workers=workers > 0))

        def on_the_fly():
            for b in loader:
                yield b.spec, b.labels.to(device, non_blocking=True)

        torch.manual_seed(0)
        model = SmallCNN(len(CLASSES), width).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        _train(model, opt, on_the_fly(), device)  # warm-up epoch: workers, kernels, allocator
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        live = _train(model, opt, on_the_fly(), device)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
        specs, labels = [], []
        with torch.no_grad():
            for b in on_the_fly():  # precompute every spectrogram once, kept in device memory
                specs.append(b[0].clone())
                labels.append(b[1].clone())

        def precomputed():
            return zip(specs, labels)

        _train(model, opt, precomputed(), device)
        base = _train(model, opt, precomputed(), device)
    ratio = base["step_s"] / live["step_s"]
    moved = live["steps"] * batch * sr * 4 / live["total_s"]
    rows = [_row("overlap step time", f"precomputed {1e3 * base['step_s']:.2f} ms / on-the-fly "
                 f"{1e3 * live['step_s']:.2f} ms = {ratio:.2f}", f">= {GOAL_OVERLAP}",
                 "PASS" if ratio >= GOAL_OVERLAP else "FAIL"),
            _row("overlap data wait", f"{1e3 * live['wait_s']:.2f} ms/step (host, in next())",
                 "small vs step time", "INFO"),
            _row("memory peak", f"{peak / 2**20:.0f} MiB (on-the-fly epoch)", "", "INFO"),
            _row("H2D used", f"{moved / 1e9:.3f} GB/s of waveforms (on-the-fly epoch)", "", "INFO")]
    return rows


def step_h2d(device: torch.device, mbytes: int) -> List[Row]:
    host = torch.empty(mbytes * 2**20, dtype=torch.uint8, pin_memory=device.type == "cuda")
    host.to(device, non_blocking=True)
    _sync(device)
    start = time.perf_counter()
    for _ in range(5):
        host.to(device, non_blocking=True)
    _sync(device)
    rate = 5 * host.numel() / (time.perf_counter() - start)
    return [_row("H2D pinned copy", f"{rate / 1e9:.2f} GB/s ({mbytes} MiB x 5)", "", "INFO")]


def print_table(rows: List[Row]) -> None:
    w = [max(len(r[k]) for r in rows + [Row(step="step", measured="measured", goal="goal", verdict="verdict")])
         for k in ("step", "measured", "goal", "verdict")]
    for r in [Row(step="step", measured="measured", goal="goal", verdict="verdict")] + rows:
        print("  ".join(r[k].ljust(n) for k, n in zip(("step", "measured", "goal", "verdict"), w)))


def run(args: argparse.Namespace) -> int:
    dry = args.dry
    device = torch.device("cpu" if dry else args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("nnaudio-data gpu-check: no CUDA device here; --dry checks the wiring on CPU")
    size = (dict(n=4000, clips=4, length=22050, sr=22050, batch=2, oclips=16, obatch=4, workers=1, width=4, mb=1)
            if dry else dict(n=44100, clips=1770, length=80_000, sr=44100, batch=64, oclips=4096, obatch=64,
                             workers=min(8, os.cpu_count() or 1), width=64, mb=256))
    steps = [("backends", lambda: step_backends(device, size["n"])),
             ("seed bench", lambda: step_seed_bench(device, size["clips"], size["length"], size["sr"],
                                                    size["batch"])),
             ("overlap", lambda: step_overlap(device, size["oclips"], 8000 if dry else 16000,
                                              size["obatch"], size["workers"], size["width"])),
             ("H2D", lambda: step_h2d(device, size["mb"]))]
    if not args.skip_tests:
        steps.insert(0, ("cuda tests", lambda: step_cuda_tests(dry)))
    rows: List[Row] = []
    start = time.perf_counter()
    for name, fn in steps:
        t0 = time.perf_counter()
        try:
            new = fn()
        except Exception as e:  # one broken step is a FAIL row, not the end of the check
            new = [_row(name, f"{type(e).__name__}: {e}"[:200], "", "FAIL")]
        else:
            if dry and name in ("seed bench", "overlap", "H2D"):  # CPU timings judge nothing
                for r in new:
                    r["verdict"] = "WIRED"
        rows += new
        print(f"[{time.perf_counter() - t0:6.1f} s] {name}: " + "; ".join(r["verdict"] for r in new), flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    print(f"\nnnaudio-data gpu-check on {name}, torch {torch.__version__}, "
          f"{time.perf_counter() - start:.0f} s\n")
    print_table(rows)
    with open(args.out, "w") as f:
        json.dump({"device": name, "dry": dry, "torch": torch.__version__, "rows": rows}, f, indent=1)
    return 1 if any(r["verdict"].startswith("FAIL") for r in rows) else 0
