"""``nnaudio-data demo``: the whole pipeline on an embedded default, end to end.

It writes a small shard set of synthesized music-like clips (tones, chords, noise) to a temporary
folder, streams it with :class:`ShardedAudioDataset` through ``GPUSpectrogramCollate("mel")`` (on
CUDA when present, else on CPU inside the workers), trains a tiny classifier for a few epochs and
prints clips/s and accuracy.
"""
from __future__ import annotations

import argparse
import io
import os
import tempfile
import time

import soundfile as sf
import torch
from torch import nn
from torch.utils.data import DataLoader

from .._collate import GPUSpectrogramCollate
from .._loader import DeviceLoader
from .synth import CLASSES, music_clips


def write_demo_shards(folder: str, clips: int, sr: int, seconds: float, per_shard: int = 100) -> str:
    """Write ``clips`` FLAC clips with a ``cls`` label into tar shards; return the brace pattern."""
    import webdataset as wds

    os.makedirs(folder, exist_ok=True)
    n = int(sr * seconds)
    pattern = os.path.join(folder, "demo-%06d.tar")
    with wds.ShardWriter(pattern, maxcount=per_shard, verbose=0) as sink:
        for key, x, label in music_clips(clips, sr, n):
            buf = io.BytesIO()
            sf.write(buf, x, sr, format="FLAC")
            sink.write({"__key__": key, "flac": buf.getvalue(), "cls": label})
    last = (clips - 1) // per_shard
    return os.path.join(folder, f"demo-{{000000..{last:06d}}}.tar")


class TinyClassifier(nn.Module):
    """log-mel (B, F, N) -> class logits (B, K)."""

    def __init__(self, n_mels: int, n_classes: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(n_mels, 32, 3, padding=1), nn.ReLU(),
            nn.Conv1d(32, 32, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, n_classes))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return self.net(torch.log(spec + 1e-6))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clips", type=int, default=600, help="clips to synthesize (default 600)")
    p.add_argument("--seconds", type=float, default=1.0, help="clip duration (default 1.0)")
    p.add_argument("--sr", type=int, default=16000, help="sample rate (default 16000)")
    p.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers (default 2)")
    p.add_argument("--device", default=None, help="default: cuda when present, else cpu")
    p.add_argument("--data", default=None, help="folder for the shards (default: a temporary one)")


def run(args: argparse.Namespace) -> int:
    from .. import ShardedAudioDataset

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or tmp
        urls = write_demo_shards(folder, args.clips, args.sr, args.seconds)
        print(f"wrote {args.clips} clips to {urls}")
        n = int(args.sr * args.seconds)
        ds = ShardedAudioDataset(urls, sr=args.sr, length=n, shuffle=256, seed=0)
        collate = GPUSpectrogramCollate("mel", device=args.device, sr=args.sr, n_fft=512,
                                        hop_length=160, n_mels=64)
        loader = DeviceLoader(DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers,
                                         pin_memory=collate.device.type == "cuda", collate_fn=collate))
        model = TinyClassifier(64, len(CLASSES)).to(collate.device)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        print(f"device={collate.device} workers={args.workers} collate={collate!r}")
        for epoch in range(args.epochs):
            ds.set_epoch(epoch)
            seen, correct, total_loss, start = 0, 0, 0.0, time.perf_counter()
            for batch in loader:
                logits = model(batch.spec)
                loss = nn.functional.cross_entropy(logits, batch.labels.to(logits.device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                seen += len(batch)
                correct += int((logits.argmax(1).cpu() == batch.labels.cpu()).sum())
                total_loss += loss.item() * len(batch)
            rate = seen / (time.perf_counter() - start)
            print(f"epoch {epoch}: clips={seen} loss={total_loss / seen:.3f} "
                  f"accuracy={correct / seen:.3f} clips/s={rate:.0f}", flush=True)
        print(f"skipped: {ds.stats.total_skipped}")
    return 0
