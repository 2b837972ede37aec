"""``loader`` section: clips/s from tar shards to collated batches, per system, for WAV and FLAC:

- ``ours``:  ``ShardedAudioDataset(urls, sr, length=L)`` + ``DataLoader(collate_fn=collate_audio)``;
- ``plain``: what a competent user writes: ``wds.WebDataset(urls).map(decode)`` + ``DataLoader``,
  decoding with ``sf.read(f, frames=L, dtype="float32", fill_value=0.0)`` (the kept window only,
  padded by soundfile);
- ``floor``: that ``sf.read`` on the same bytes (already in memory) in one tight loop on one core,
  nothing else: the decode floor;
- ``floor+batch``: the same tight loop in one DataLoader worker, which also does what any
  DataLoader worker must do with what it decoded: every ``--loader-batch`` clips are stacked into a
  fresh shared-memory batch (by ``nnaudio_data``'s own ``stack_padded``, the cheapest way this
  package knows: a memory file written through its descriptor; ``default_collate`` stacks into a
  zero-filled /dev/shm file through its mapping, one page fault per 4 KiB page) and sent to the
  main process (one descriptor passed), which drops it (the shared pages are freed there). No tar
  reading, no item dicts, no lengths or labels, no checks.

The shards (``--loader-clips`` clips of 1 to 2 s, 16-bit, 250 to a shard) are written once, before
the rounds. Both loaders use ``--loader-workers`` workers and batches of ``--loader-batch``, timed
from their first batch (worker start-up left out), and are compared with floor x workers and
floor+batch x workers (``floor+batch`` runs one worker, timed the same way, its main process on
another core: an upper bound each loader worker could reach, were the rest of its work free).
Mixed rates (task ``mixed``): WAV clips at 8, 22.05 and 44.1 kHz in turn, resampled to 16 kHz
(1 s kept): ``ours``; ``ours[filter per clip]``, ours with the polyphase filter and its block matrix
designed again for every clip (as before their cache), to show what the cache earns; ``plain``
reading the whole file and calling ``scipy.signal.resample_poly``, as a user writes it.
Once, in its own process: peak RSS (main + workers) over ``--loader-epochs`` epochs with persistent
workers; the growth from epoch 2 to the last should stay under 5%.
"""
from __future__ import annotations

import argparse
import io
import os
import time
from contextlib import closing
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

FORMATS = ("wav", "flac")
TASKS = FORMATS + ("mixed",)
UNCACHED = "ours[filter per clip]"
FLOOR_BATCH = "floor+batch"
FLOORS = ("floor", FLOOR_BATCH)
ALLOCS = ("memfd", "new_shared", "plain")  # nnaudio_data._sharedmem.ALLOCATORS
BATCHES = tuple(f"batch[{a}]" for a in ALLOCS)
SYSTEMS = ("ours", UNCACHED, "plain") + FLOORS + BATCHES
MIXED_RATES = (8000, 22050, 44100)
MIXED_TARGET = 16000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("loader")
    g.add_argument("--loader-clips", type=int, default=2000, help="clips in the loader shards (default 2000)")
    g.add_argument("--loader-batch", type=int, default=64, help="batch size of the loader runs (default 64)")
    g.add_argument("--loader-workers", type=int, default=2, help="DataLoader workers (default 2)")
    g.add_argument("--loader-epochs", type=int, default=10, help="epochs of the memory check (default 10)")


def write_bench_shards(root: str, clips: int, sr: int, ext: str, per_shard: int = 250,
                       rates: Sequence[int] = ()) -> List[str]:
    """Shards of ``clips`` synthetic 1-2 s clips (16-bit), ``per_shard`` to a shard; returns URLs.
    With ``rates``, clip i is at ``rates[i % len(rates)]`` Hz instead of ``sr``."""
    import soundfile as sf
    import webdataset as wds

    rng = np.random.default_rng(0)
    urls = []
    for s in range(0, clips, per_shard):
        url = os.path.join(root, f"{ext}{'-mixed' if rates else ''}-{s // per_shard:04d}.tar")
        with wds.TarWriter(url) as w:
            for i in range(s, min(clips, s + per_shard)):
                sr = rates[i % len(rates)] if rates else sr
                n = int(sr * rng.uniform(1.0, 2.0))
                x = 0.1 * rng.standard_normal(n) + 0.3 * np.sin(np.arange(n) * 0.01 * (1 + i % 20))
                buf = io.BytesIO()
                sf.write(buf, x, sr, format=ext.upper(), subtype="PCM_16")
                w.write({"__key__": f"c{i:06d}", ext: buf.getvalue(), "cls": i % 10})
        urls.append(url)
    return urls


class PlainDecode:
    """The plain pipeline's map: the idiomatic soundfile call for a fixed-length window."""

    def __init__(self, ext: str, length: int, sr: Optional[int] = None):
        self.ext, self.length, self.sr = ext, length, sr

    def __call__(self, sample):
        import soundfile as sf
        import torch

        if self.sr is None:
            x, _ = sf.read(io.BytesIO(sample[self.ext]), frames=self.length, dtype="float32",
                           fill_value=0.0, always_2d=False)
            return torch.from_numpy(x), int(sample["cls"])
        x, sr = sf.read(io.BytesIO(sample[self.ext]), dtype="float32")
        if sr != self.sr:  # resampled as a user writes it
            import math

            import scipy.signal

            g = math.gcd(sr, self.sr)
            x = scipy.signal.resample_poly(x, self.sr // g, sr // g).astype(np.float32)
        x = torch.from_numpy(x[: self.length])
        return torch.nn.functional.pad(x, (0, self.length - x.shape[0])), int(sample["cls"])


def _size(batch) -> int:
    return len(batch[1]) if isinstance(batch, (list, tuple)) else len(batch)


def _rate(loader, clips: int) -> float:
    """clips/s of one pass, timed from the first batch (worker start-up excluded)."""
    it = iter(loader)
    n = _size(next(it))
    t0, first = time.perf_counter(), n
    for batch in it:
        n += _size(batch)
    if n != clips:
        raise RuntimeError(f"a loader delivered {n} clips, expected {clips}")
    return (n - first) / (time.perf_counter() - t0)


def members(urls: List[str], ext: str) -> List[bytes]:
    """The audio members' bytes of ``urls``."""
    from nnaudio_data.data._open import open_shard
    from nnaudio_data.data._tar import tar_members

    out = []
    for u in urls:
        with closing(open_shard(u)) as f:
            out += [d for _, d in tar_members(f, u, lambda n, size: n.endswith(ext)) if isinstance(d, bytes) and d]
    return out


def systems(cfg: Dict[str, Any]) -> List[str]:
    return list(SYSTEMS)


def prepare(cfg: Dict[str, Any], workdir: str) -> Dict[str, Any]:
    least = 2 * cfg["loader_batch"] * max(1, cfg["loader_workers"])
    if cfg["loader_clips"] < least:  # each worker must deliver a batch after the untimed first one
        raise ValueError(f"loader_clips must be >= 2 x loader_batch x loader_workers ({least}), "
                         f"got {cfg['loader_clips']}")
    urls = {ext: write_bench_shards(workdir, cfg["loader_clips"], cfg["sr"], ext) for ext in FORMATS}
    urls["mixed"] = write_bench_shards(workdir, cfg["loader_clips"], MIXED_TARGET, "wav", rates=MIXED_RATES)
    return {"_urls": urls}


def _measure_mixed(system: str, cfg: Dict[str, Any]) -> Optional[float]:
    """clips/s over the mixed-rate WAV shards, resampled to 16 kHz (None for the floor)."""
    from torch.utils.data import DataLoader

    urls, n, batch, workers = cfg["_urls"]["mixed"], cfg["loader_clips"], cfg["loader_batch"], cfg["loader_workers"]
    if system == "plain":
        import webdataset as wds

        ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).map(
            PlainDecode("wav", MIXED_TARGET, MIXED_TARGET))
        return _rate(DataLoader(ds, batch_size=batch, num_workers=workers), n)
    if system not in ("ours", UNCACHED):
        return None
    from nnaudio_data import ShardedAudioDataset, collate_audio
    import importlib

    # the module, not the function of that name; Any: its function is swapped below
    resample_module: Any = importlib.import_module("nnaudio_data.data._resample")

    ds = ShardedAudioDataset(urls, sr=MIXED_TARGET, length=MIXED_TARGET, on_error="raise")
    cached = resample_module.polyphase_filter, resample_module._plan
    if system == UNCACHED:  # designed per call, as before the cache; the forked workers see it too
        resample_module.polyphase_filter, resample_module._plan = (f.__wrapped__ for f in cached)
    try:
        return _rate(DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=collate_audio,
                                multiprocessing_context="fork"), n)
    finally:
        resample_module.polyphase_filter, resample_module._plan = cached


def measure(system: str, cfg: Dict[str, Any]) -> Dict[str, float]:
    """clips/s of one system, per format."""
    import soundfile as sf
    from torch.utils.data import DataLoader

    length, batch, workers = cfg["length"], cfg["loader_batch"], cfg["loader_workers"]
    out = {}
    if system in BATCHES:  # the allocator alone: decoded clips (untimed), stacked, sent; WAV's
        from .floor_batch import StackBatches

        alloc = system[len("batch["):-1]
        out["wav"] = _rate(DataLoader(StackBatches(cfg["_urls"]["wav"], "wav", length, batch, alloc),
                                      batch_size=None, num_workers=1), cfg["loader_clips"])
        return out
    mixed = _measure_mixed(system, cfg)
    if mixed is not None:
        out["mixed"] = mixed
    if system == UNCACHED:
        return out
    for ext in FORMATS:
        urls, n = cfg["_urls"][ext], cfg["loader_clips"]
        if system == FLOOR_BATCH:
            from .floor_batch import FloorBatches

            out[ext] = _rate(DataLoader(FloorBatches(urls, ext, length, batch), batch_size=None,
                                        num_workers=1), n)
        elif system == "floor":
            data = members(urls, ext)
            t0 = time.perf_counter()
            for d in data:
                sf.read(io.BytesIO(d), frames=length, dtype="float32", fill_value=0.0)
            out[ext] = len(data) / (time.perf_counter() - t0)
        elif system == "ours":
            from nnaudio_data import ShardedAudioDataset, collate_audio

            ds = ShardedAudioDataset(urls, sr=cfg["sr"], length=length, on_error="raise")
            out[ext] = _rate(DataLoader(ds, batch_size=batch, num_workers=workers,
                                        collate_fn=collate_audio), n)
        elif system == "plain":
            import webdataset as wds

            ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).map(PlainDecode(ext, length))
            out[ext] = _rate(DataLoader(ds, batch_size=batch, num_workers=workers), n)
        else:
            raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")
    return out


def rss_tree(pid: int) -> int:
    """Resident bytes of process ``pid`` plus its children (Linux /proc); 0 where unreadable."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def _children(pid: int) -> List[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def memory_per_epoch(urls: List[str], sr: int, length: int, batch: int, epochs: int) -> List[int]:
    """Peak RSS (main + workers, sampled every batch) of each of ``epochs`` passes with 2
    persistent workers."""
    from torch.utils.data import DataLoader

    from nnaudio_data import ShardedAudioDataset, collate_audio

    ds = ShardedAudioDataset(urls, sr=sr, length=length, shuffle=16)
    loader = DataLoader(ds, batch_size=batch, num_workers=2, collate_fn=collate_audio, persistent_workers=True)
    peaks = []
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        peak = 0
        for _ in ds.track(loader):
            peak = max(peak, rss_tree(os.getpid()))
        peaks.append(peak)
    return peaks


def once(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Peak RSS per epoch (MB) over two WAV shards, and its growth from epoch 2 to the last."""
    peaks = memory_per_epoch(cfg["_urls"]["wav"][:2], cfg["sr"], cfg["length"], cfg["loader_batch"],
                             cfg["loader_epochs"])
    growth = peaks[-1] / peaks[1] - 1 if len(peaks) > 1 else 0.0
    return {"peak_rss_mb": [round(p / 2**20, 1) for p in peaks], "growth_2_to_last": growth}


def summarize(raw, once, cfg) -> Dict[str, Any]:
    from .stats import compare, paired_ratios, series, summary

    fig: Dict[str, Any] = compare({s: v for s, v in raw.items() if s not in FLOORS + BATCHES}, TASKS,
                                  ["ours", UNCACHED], higher_is_better=True)
    fig["allocators"] = {
        "clips_per_s": {a: summary([v for v in series(raw, f"batch[{a}]", "wav") if v]) for a in ALLOCS},
        "memfd vs": {a: summary(paired_ratios(series(raw, "batch[memfd]", "wav"), series(raw, f"batch[{a}]", "wav")))
                     for a in ALLOCS[1:]}}
    workers = cfg.get("loader_workers", 2)
    for floor, key in (("floor", "floor_1core"), (FLOOR_BATCH, "floor_batch_1worker")):
        fig[key] = {ext: summary([v for v in series(raw, floor, ext) if v]) for ext in FORMATS}
    for floor, key in (("floor", "of_floor_x_workers"), (FLOOR_BATCH, "of_floor_batch_x_workers")):
        fig[key] = {ext: {s: summary(paired_ratios(series(raw, s, ext), [f * workers if f else None
                                                                         for f in series(raw, floor, ext)]))
                          for s in ("ours", "plain") if s in raw} for ext in FORMATS}
    fig["memory"] = once or {}
    return fig


def markdown(fig: Dict[str, Any], cfg: Dict[str, Any]) -> str:
    from .stats import fmt_ratio, fmt_value

    w = cfg.get("loader_workers", 2)
    rows = []
    for ext in FORMATS:
        v, fl = fig["values"].get(ext, {}), fig["of_floor_x_workers"].get(ext, {})
        fb = fig.get("of_floor_batch_x_workers", {}).get(ext, {})
        rows.append(f"| {ext.upper()} | {fmt_value(v.get('ours'), 0)} | {fmt_value(v.get('plain'), 0)} | "
                    f"{fmt_ratio(fig['ratios'].get(ext, {}).get('ours vs plain'))} | "
                    f"{fmt_value(fig['floor_1core'].get(ext), 0)} | "
                    f"{fmt_value(fl.get('ours'), 2)} | {fmt_value(fl.get('plain'), 2)} | "
                    f"{fmt_value(fig.get('floor_batch_1worker', {}).get(ext), 0)} | "
                    f"{fmt_value(fb.get('ours'), 2)} | {fmt_value(fb.get('plain'), 2)} |")
    mixed = fig["values"].get("mixed", {})
    mixed_ratios = fig["ratios"].get("mixed", {})
    mixed_line = (f"Mixed rates ({', '.join(f'{r / 1000:g}' for r in MIXED_RATES)} kHz to "
                  f"{MIXED_TARGET / 1000:g} kHz, 1 s kept), clips/s: ours {fmt_value(mixed.get('ours'), 0)}, "
                  f"ours with the filter designed per clip {fmt_value(mixed.get(UNCACHED), 0)}, plain "
                  f"{fmt_value(mixed.get('plain'), 0)}; ours / plain {fmt_ratio(mixed_ratios.get('ours vs plain'))}, "
                  f"per-clip filter / plain {fmt_ratio(mixed_ratios.get(UNCACHED + ' vs plain'))}."
                  if mixed else "")
    alloc = fig.get("allocators", {})
    alloc_line = (f"Shared-memory batch allocators alone (the same decoded WAV clips stacked into batches of "
                  f"{cfg.get('loader_batch')} in one worker and sent), clips/s: " + ", ".join(
                      f"{a} {fmt_value(alloc['clips_per_s'].get(a), 0)}" for a in ALLOCS)
                  + "; memfd / new_shared " + fmt_value(alloc["memfd vs"].get("new_shared"), 2)
                  + ", memfd / plain " + fmt_value(alloc["memfd vs"].get("plain"), 2) + "."
                  if alloc.get("clips_per_s", {}).get("memfd") else "")
    mem = fig.get("memory", {})
    growth = (f"Peak RSS (main + workers) per epoch, MB: {' '.join(str(p) for p in mem['peak_rss_mb'])}; "
              f"growth from epoch 2 to the last: {100 * mem['growth_2_to_last']:+.1f}% (limit +5%)."
              if mem.get("peak_rss_mb") else "")
    return "\n".join([
        f"{cfg.get('loader_clips')} clips of 1-2 s (16-bit) in tar shards, cut or padded to "
        f"{cfg.get('length')} samples, {w} workers, batches of {cfg.get('loader_batch')}; clips/s "
        f"from shards to collated batches, median (range).", "",
        f"| format | ours | plain | ours / plain | decode floor, 1 core | ours / (floor x {w}) | "
        f"plain / (floor x {w}) | floor+batch, 1 worker | ours / (floor+batch x {w}) | "
        f"plain / (floor+batch x {w}) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
        "decode floor: `sf.read(frames=L)` on bytes in memory, in a loop on one core; floor+batch: the same "
        "loop in one DataLoader worker that also stacks each batch into fresh shared memory and sends "
        "it to the main process, as every DataLoader worker must (see `nnaudio_data/tools/bench/loader.py`).",
        "", mixed_line, "", alloc_line, "", growth])


def headline(fig: Dict[str, Any]) -> List[str]:
    from .stats import fmt_ratio, fmt_value

    return [f"Loader, {ext.upper()}: {fmt_ratio(fig['ratios'].get(ext, {}).get('ours vs plain'))} the plain "
            f"webdataset + soundfile pipeline, "
            f"{fmt_value(fig['of_floor_x_workers'].get(ext, {}).get('ours'), 2)} of the decode floor x workers, "
            f"{fmt_value(fig.get('of_floor_batch_x_workers', {}).get(ext, {}).get('ours'), 2)} of the decode "
            f"+ shared-memory batch floor x workers"
            for ext in FORMATS if fig["values"].get(ext)] + (
        [f"Loader, mixed rates to 16 kHz: {fmt_ratio(fig['ratios']['mixed'].get('ours vs plain'))} the plain "
         f"pipeline with scipy's resample_poly ({fmt_ratio(fig['ratios']['mixed'].get(UNCACHED + ' vs plain'))} "
         f"with the filter designed per clip)"] if fig["values"].get("mixed") else [])
