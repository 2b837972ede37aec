"""``kws`` section: a keyword-spotting job, files to augmented log-mel batches, per system:

The corpus (written once, before the rounds): ``--kws-clips`` synthetic speech-like clips of 1 s
(a voiced pulse train through three formants, a syllable envelope, fricative noise bursts), at
8, 16, 22.05 and 44.1 kHz in turn, WAV and FLAC in turn, every fifth clip stereo, 10 classes;
32 noise clips of 1 s at 16 kHz for background noise. Every system turns them into log-mel
batches (16 kHz, 25 ms windows, 10 ms hop, 80 mels) with gain, colored noise, background noise
(half the clips) and SpecAugment (2 frequency masks of <= 27 bands, 2 time masks of <= 15
frames), ``--kws-workers`` DataLoader workers, batches of ``--kws-batch``:

- ``ours``: the README's recommended set-up: the files packed by ``nnaudio-data shard`` into tar
  shards, ``ShardedAudioDataset(sr=16000, length=16000, shuffle=500)``, a
  ``GPUSpectrogramCollate("logmel")`` with the augmentations, spawned, persistent workers;
- ``ours[fork, persistent]``: the same with forked, persistent workers;
- ``lhotse``: a ``CutSet`` of the same files (stereo mixed down, resampled to 16 kHz, a volume
  perturbation per cut), ``SimpleCutSampler`` + a dataset of ``CutMix`` (the noise clips),
  ``OnTheFlyFeatures(Fbank)`` with a colored-noise wave transform (lhotse has none; the same maths
  as ours) and ``SpecAugment`` (no time warp, as ours), lhotse's usual fork workers; run from
  ``--lhotse-python`` (an environment with lhotse) or this interpreter when it imports lhotse;
- ``webdataset+torchaudio``: not measured by this version (reported as absent).

Tasks: ``clips_per_s`` (all clips of ``--kws-epochs`` whole epochs over the wall time of those
epochs, worker start-up included) and ``first_batch_s`` (from the first ``iter(loader)`` to the
first batch).
"""
from __future__ import annotations

import argparse
import glob
import os
import time
from typing import Any, Dict, Iterable, List, Optional

import numpy as np

from ..._checks import check_arg

SYSTEMS = ("ours", "ours[fork, persistent]", "lhotse", "webdataset+torchaudio")
OURS = ("ours", "ours[fork, persistent]")
TASKS = ("clips_per_s", "first_batch_s")
RATES = (8000, 16000, 22050, 44100)
SR, N_FFT, WIN, HOP, N_MELS, CLASSES, NOISE_CLIPS = 16000, 512, 400, 160, 80, 10, 32


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("kws")
    g.add_argument("--kws-clips", type=int, default=2000, help="clips of the corpus (default 2000)")
    g.add_argument("--kws-epochs", type=int, default=2, help="epochs per measurement (default 2)")
    g.add_argument("--kws-batch", type=int, default=64, help="batch size (default 64)")
    g.add_argument("--kws-workers", type=int, default=2, help="DataLoader workers (default 2)")
    g.add_argument("--lhotse-python", default=None, help="python of an environment with lhotse, "
                   "for the lhotse peer (default: this interpreter, if it imports lhotse)")


def speech_like(rng: np.random.Generator, sr: int, seconds: float = 1.0) -> np.ndarray:
    """A 1 s speech-like signal: harmonics of a gliding f0 weighted by three formants, under a
    syllable envelope, with short noise bursts; peak about 0.5.

    Example:
        >>> x = speech_like(np.random.default_rng(0), 8000)
        >>> x.shape, bool(0.1 < np.abs(x).max() <= 0.5)
        ((8000,), True)
    """
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = rng.uniform(90, 240) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 3) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    formants = rng.uniform([300, 900, 2200], [900, 2300, 3400])
    x = np.zeros(n)
    for k in range(1, int(min(sr / 2, 4000) // 240) + 1):
        fk = k * f0.mean()
        gain = sum(np.exp(-((fk - f) / 150.0) ** 2) for f in formants) + 0.02
        x += gain / k ** 0.5 * np.sin(k * phase)
    x *= np.clip(np.sin(np.pi * rng.uniform(2, 5) * t + rng.uniform(0, np.pi)), 0, None) ** 2
    for _ in range(rng.integers(1, 4)):  # fricatives
        a = rng.integers(0, n - n // 10)
        x[a: a + n // 10] += 0.3 * rng.standard_normal(n // 10) * np.hanning(n // 10)
    peak = max(float(np.abs(x).max()), 1e-9)
    return np.asarray(0.5 / peak * x, dtype=np.float32)


def write_corpus(root: str, clips: int) -> Dict[str, Any]:
    """The corpus files (``root/audio/CLASS/NNNNNN.{wav,flac}``) and the noise clips."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    files = []
    for i in range(clips):
        sr, ext = RATES[i % len(RATES)], ("wav", "flac")[i // len(RATES) % 2]
        x = speech_like(rng, sr)
        if i % 5 == 4:  # stereo: the second channel a quieter copy with its own noise
            x = np.stack([x, 0.7 * x + 0.01 * rng.standard_normal(x.shape).astype(np.float32)], 1)
        path = os.path.join(root, "audio", f"k{i % CLASSES}", f"{i:06d}.{ext}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sf.write(path, x, sr, subtype="PCM_16")
        files.append(path)
    noise = []
    for j in range(NOISE_CLIPS):
        path = os.path.join(root, "noise", f"n{j:03d}.wav")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal((SR,))).astype(np.float32), SR, subtype="PCM_16")
        noise.append(path)
    return {"files": files, "noise": noise}


def systems(cfg: Dict[str, Any]) -> List[str]:
    return list(SYSTEMS)


def prepare(cfg: Dict[str, Any], workdir: str) -> Dict[str, Any]:
    from ...authoring._writer import write_shards

    least = 2 * cfg["kws_batch"] * max(1, cfg["kws_workers"])
    check_arg(not cfg["kws_clips"] < least, "kws_clips",
              f">= 2 x kws_batch x kws_workers ({least})", cfg['kws_clips'])
    corpus = write_corpus(workdir, cfg["kws_clips"])
    write_shards(os.path.join(workdir, "audio"), os.path.join(workdir, "shards"), prefix="kws",
                 shard_size=None, max_count=250, shuffle=True, progress=False)
    return {"_kws": dict(corpus, urls=sorted(glob.glob(os.path.join(workdir, "shards", "kws-*.tar"))))}


def external_command(system: str, cfg: Dict[str, Any]) -> Optional[List[str]]:
    if system != "lhotse" or not cfg.get("lhotse_python"):
        return None
    import json

    return [cfg["lhotse_python"], "-m", "nnaudio_data.tools.bench.child", "kws", system, json.dumps(cfg)]


def epochs(loader_for_epoch, n_epochs: int, clips: int) -> Dict[str, float]:
    """Run ``n_epochs`` whole epochs (``loader_for_epoch(e)`` gives epoch e's iterable of
    ``(n_clips, batch)``); clips/s over them and seconds to the first batch of the first."""
    first, total, start = None, 0, time.perf_counter()
    for e in range(n_epochs):
        seen = 0
        for n, _ in loader_for_epoch(e):
            if first is None:
                first = time.perf_counter() - start
            seen += n
        if seen != clips:
            raise RuntimeError(f"epoch {e} delivered {seen} clips, expected {clips}")
        total += seen
    return {"clips_per_s": total / (time.perf_counter() - start), "first_batch_s": float(first or 0.0)}


def _ours(cfg: Dict[str, Any], fork: bool) -> Dict[str, float]:
    import torch
    from torch.utils.data import DataLoader

    import nnaudio_data as nd
    from nnaudio_data.augment import (AddBackgroundNoise, AddColoredNoise, Compose, FrequencyMasking,
                                      Gain, TimeMasking)

    import soundfile as sf

    kws = cfg["_kws"]
    noise = [torch.from_numpy(sf.read(p, dtype="float32")[0]) for p in kws["noise"]]
    ds = nd.ShardedAudioDataset(kws["urls"], sr=SR, length=SR, shuffle=500, on_error="raise")
    collate = nd.GPUSpectrogramCollate(
        "logmel", device="cpu", sr=SR, n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=N_MELS,
        augment=Compose([Gain((-6.0, 6.0)), AddColoredNoise((10.0, 30.0)),
                         AddBackgroundNoise(noise, (10.0, 20.0), p=0.5)]),
        spec_augment=Compose([FrequencyMasking(27, n_masks=2), TimeMasking(15, n_masks=2)]))
    collate.train()
    loader = DataLoader(ds, batch_size=cfg["kws_batch"], num_workers=cfg["kws_workers"],
                        collate_fn=collate, multiprocessing_context="fork" if fork else "spawn",
                        persistent_workers=cfg["kws_workers"] > 0)

    def epoch(e: int) -> Iterable:
        ds.set_epoch(e)
        collate.set_epoch(e)
        for b in nd.DeviceLoader(loader):
            yield b.spec.shape[0], b
    return epochs(epoch, cfg["kws_epochs"], cfg["kws_clips"])


class ColoredNoise:
    """lhotse wave transform: pink noise at an SNR of 10-30 dB, the maths of ours (power-law
    spectral shaping of white noise by FFT)."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def __call__(self, audio):
        import torch

        x = torch.as_tensor(audio)
        n = x.shape[-1]
        spec = torch.fft.rfft(torch.from_numpy(self.rng.standard_normal(n).astype(np.float32)))
        spec = spec / torch.arange(1, spec.shape[-1] + 1).float().sqrt()
        noise = torch.fft.irfft(spec, n)
        snr = 10 ** (self.rng.uniform(10, 30) / 20)
        scale = x.pow(2).mean().sqrt() / (noise.pow(2).mean().sqrt() * snr + 1e-12)
        out = x + scale * noise
        return out.numpy() if isinstance(audio, np.ndarray) else out


def _lhotse(cfg: Dict[str, Any]) -> Dict[str, float]:
    import torch
    from lhotse import CutSet, Recording, RecordingSet
    from lhotse.cut import MultiCut
    from lhotse.dataset import SimpleCutSampler

    kws = cfg["_kws"]
    rng = np.random.default_rng(0)
    recs = RecordingSet.from_recordings(Recording.from_file(p) for p in kws["files"])
    cuts = CutSet.from_manifests(recordings=recs)
    cuts = CutSet.from_cuts((c.to_mono(mono_downmix=True) if isinstance(c, MultiCut) else c)
                            .resample(SR).perturb_volume(float(10 ** (rng.uniform(-6, 6) / 20)), affix_id=False)
                            for c in cuts)
    noise = CutSet.from_manifests(recordings=RecordingSet.from_recordings(
        Recording.from_file(p) for p in kws["noise"]))
    dataset = LhotseKws(noise)
    sampler = SimpleCutSampler(cuts, max_cuts=cfg["kws_batch"], shuffle=True, seed=0)
    loader: Any = torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=None,  # type: ignore[arg-type]
                                              num_workers=cfg["kws_workers"])

    def epoch(e: int) -> Iterable:
        sampler.set_epoch(e)
        for feats, labels in loader:
            yield feats.shape[0], feats
    return epochs(epoch, cfg["kws_epochs"], cfg["kws_clips"])


def _label(cut) -> int:
    """The class of a (possibly mixed) cut: its first track's recording, named by clip index."""
    while hasattr(cut, "tracks"):
        cut = cut.tracks[0].cut
    return int(cut.recording_id.split("-")[0]) % CLASSES


class LhotseKws:
    """The lhotse side's map-style dataset: a sampler's CutSet to augmented log-mel features."""

    def __init__(self, noise):
        from lhotse import Fbank, FbankConfig
        from lhotse.dataset import CutMix, OnTheFlyFeatures, SpecAugment

        self.mix = CutMix(noise, snr=(10, 20), p=0.5, seed=0)
        self.features = OnTheFlyFeatures(Fbank(FbankConfig(sampling_rate=SR, num_mel_bins=N_MELS)),
                                         wave_transforms=[ColoredNoise()])
        self.spec_augment = SpecAugment(time_warp_factor=None, num_feature_masks=2,
                                        features_mask_size=27, num_frame_masks=2,
                                        frames_mask_size=15, p=1.0)

    def __getitem__(self, cuts):
        import torch

        cuts = self.mix(cuts)
        feats, _ = self.features(cuts)
        feats = self.spec_augment(feats)
        return feats, torch.tensor([_label(c) for c in cuts])


def measure(system: str, cfg: Dict[str, Any]) -> Dict[str, Any]:
    if system in OURS:
        return _ours(cfg, fork=system != "ours")
    if system == "lhotse":
        return _lhotse(cfg)
    if system == "webdataset+torchaudio":
        return {"skipped": "not measured by this version of the bench (needs torchaudio's own "
                           "environment; see --torchaudio-python)"}
    raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")


def summarize(raw, once, cfg) -> Dict[str, Any]:
    from .stats import compare

    fig = compare({s: [{"clips_per_s": r["clips_per_s"]} if r else None for r in v] for s, v in raw.items()},
                  ["clips_per_s"], OURS, higher_is_better=True)
    first = compare({s: [{"first_batch_s": r["first_batch_s"]} if r else None for r in v]
                     for s, v in raw.items()}, ["first_batch_s"], OURS)
    for key in ("values", "ratios", "vs_best_peer", "best_peer"):
        fig[key].update(first[key])
    return fig


def markdown(fig: Dict[str, Any], cfg: Dict[str, Any]) -> str:
    from .report import ratio_rows
    from .stats import fmt_value

    head = (f"{cfg.get('kws_clips')} speech-like clips of 1 s at {', '.join(f'{r / 1000:g}' for r in RATES)} "
            f"kHz (WAV and FLAC, every fifth stereo) to 16 kHz log-mel ({N_MELS} mels, 25 ms / 10 ms) "
            f"with gain, colored noise, background noise and SpecAugment; {cfg.get('kws_workers')} "
            f"workers, batches of {cfg.get('kws_batch')}, whole epochs ({cfg.get('kws_epochs')}) per "
            f"measurement.")
    rows = [f"| {s} | {fmt_value(fig['values'].get('clips_per_s', {}).get(s), 0)} | "
            f"{fmt_value(fig['values'].get('first_batch_s', {}).get(s), 2)} |"
            for s in SYSTEMS if s in fig["values"].get("clips_per_s", {})]
    return "\n".join([head, "", "| system | clips/s over whole epochs | seconds to the first batch |",
                      "|---|---:|---:|", *rows, "", "clips/s: speed-up (ours / peer, by round)", "",
                      "| | ratio |", "|---|---:|", ratio_rows(fig["ratios"].get("clips_per_s", {})), "",
                      "time to the first batch: speed-up (peer seconds / ours, by round)", "",
                      "| | ratio |", "|---|---:|", ratio_rows(fig["ratios"].get("first_batch_s", {}))])


def headline(fig: Dict[str, Any]) -> List[str]:
    from .stats import fmt_ratio

    r, f = fig["ratios"].get("clips_per_s", {}), fig["ratios"].get("first_batch_s", {})
    if "ours vs lhotse" not in r:
        return []
    return [f"Keyword-spotting job (mixed-rate WAV/FLAC to augmented log-mel), README set-up: "
            f"{fmt_ratio(r.get('ours vs lhotse'))} lhotse's clips/s over whole epochs, "
            f"{fmt_ratio(f.get('ours vs lhotse'))} its time to the first batch"]
