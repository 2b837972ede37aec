"""Memory and clips/s of 1-second windows read from hour-long recordings, for the notes of a change
(not a benchmark of record: figures for the docs come from ``nnaudio-data bench``).

Writes synthetic recordings (default: one hour, 16 kHz mono, PCM_16) as WAV and as FLAC under
``--tmp``, packs each with ``nnaudio-data shard --window 1`` (one shard, one member, 3600
windows in the index), then reads every window with ``ShardedAudioDataset`` -> ``DataLoader``
(``--workers``, default 0; batches of ``--batch``, default 32; ``collate_audio``) in a fresh Python
process per run. Each run reports windows/s over the loop and the peak resident memory of the
run: without workers the process's ``VmHWM`` (``/proc/self/status``, its own, not a forked
parent's); with workers the largest sum of ``VmRSS`` of the process and its workers, sampled
every 20 ms (pages a fork shares are counted in each process that maps them). Systems:

- ``wav-local`` / ``flac-local``: the shard on local disk: each window is read where it lies in
  the tar (a member view; the member is never held in memory);
- ``wav-pipe`` / ``flac-pipe``: the same shard through ``pipe:cat``, as a streamed (remote) shard
  is read: the member's bytes are held while its windows are read;
- ``baseline``: the same process reading one batch of the local WAV shard (imports, dataset,
  loader): the memory every system starts from;
- ``lhotse-wav`` / ``lhotse-flac`` (with ``--lhotse-python``, the interpreter of an environment
  that has lhotse and torch): the same recordings read as a lhotse user would: a ``RecordingSet``
  of the file, ``CutSet.from_manifests(...).cut_into_windows(duration=1.0)``, a
  ``SimpleCutSampler(max_cuts=batch)`` and a map-style dataset collating each batch's windows with
  ``lhotse.dataset.collation.collate_audio`` (``Cut.load_audio``: libsndfile, seek then read), in a
  ``DataLoader(batch_size=None)`` with the same workers (forked); ``lhotse-baseline`` reads one
  batch. Each lhotse run also reports the bytes the process read (``rchar``) to load one window
  from the middle of the recording: a seek reads about a window's bytes, a decode from the start
  about half the file.

Systems are interleaved over ``--reps`` rounds; each prints median and range.

Usage::

    PYTHONPATH=. python3 tools/window_bench.py --reps 3 --tmp /tmp/window-bench \
        --lhotse-python /path/to/lhotse-env/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PEAK = r"""
import os, threading, time
def _rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0
def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []
class Peak:
    # the largest sum of VmRSS over this process and its children (sampled), and this process's VmHWM
    def __init__(self):
        self.top, self.stop = 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
    def run(self):
        me = os.getpid()
        while not self.stop.wait(0.02):
            self.top = max(self.top, sum(_rss(p) for p in [me] + _children(me)))
    def bytes(self):
        self.stop.set()
        self.thread.join()
        with open("/proc/self/status") as f:
            hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
        return max(hwm, self.top)
"""

CHILD = PEAK + r"""
import json, sys, time
import torch
from torch.utils.data import DataLoader
import nnaudio_data as nd
url, index, sr, name, workers, batch = sys.argv[1:7]
torch.set_num_threads(1)
peak = Peak()
ds = nd.ShardedAudioDataset(url, sr=int(sr), length=int(sr), index=index, on_error="raise")
t = time.perf_counter()
n = 0
for b in DataLoader(ds, batch_size=int(batch), num_workers=int(workers), collate_fn=nd.collate_audio):
    n += b.waveform.shape[0]
    if name == "baseline":
        break
dt = time.perf_counter() - t
print(json.dumps({"windows": n, "seconds": dt, "peak_bytes": peak.bytes()}))
"""

LHOTSE_CHILD = PEAK + r"""
import json, sys, time
import torch
from torch.utils.data import DataLoader, Dataset
from lhotse import CutSet, Recording, RecordingSet
from lhotse.dataset import SimpleCutSampler
from lhotse.dataset.collation import collate_audio
path, sr, name, workers, batch = sys.argv[1:6]
torch.set_num_threads(1)
peak = Peak()

class Windows(Dataset):
    # a map-style dataset as lhotse's own: the sampler yields a CutSet per batch
    def __getitem__(self, cuts):
        audio, lens = collate_audio(cuts)
        return {"audio": audio, "audio_lens": lens}

recordings = RecordingSet.from_recordings([Recording.from_file(path)])
cuts = CutSet.from_manifests(recordings=recordings).cut_into_windows(duration=1.0).to_eager()
assert cuts[0].sampling_rate == int(sr), cuts[0].sampling_rate
mid = cuts[len(cuts) // 2]
def rchar():
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))
before = rchar()
one = mid.load_audio()
read_one = rchar() - before
sampler = SimpleCutSampler(cuts, max_cuts=int(batch))
loader = DataLoader(Windows(), sampler=sampler, batch_size=None, num_workers=int(workers),
                    multiprocessing_context="fork" if int(workers) else None)
t = time.perf_counter()
n = 0
for b in loader:
    n += b["audio"].shape[0]
    if name == "lhotse-baseline":
        break
dt = time.perf_counter() - t
print(json.dumps({"windows": n, "seconds": dt, "peak_bytes": peak.bytes(), "window_read_bytes": read_one,
                  "window_frames": int(one.shape[-1])}))
"""


def make(tmp: str, seconds: float, sr: int, lhotse: bool = False) -> dict:
    """The recordings and their shards (reused when present); -> system -> (url, index); the
    lhotse systems (``lhotse``) read the recordings themselves (no index)."""
    import numpy as np
    import soundfile as sf

    from nnaudio_data.authoring import write_shards

    out = {}
    for ext in ("wav", "flac"):
        src = os.path.join(tmp, f"src-{ext}")
        dst = os.path.join(tmp, f"shards-{ext}")
        if not os.path.exists(os.path.join(dst, "index.json")):
            os.makedirs(src, exist_ok=True)
            path = os.path.join(src, f"hour.{ext}")
            with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16", format=ext.upper()) as f:
                rng = np.random.default_rng(0)
                for start in range(0, int(seconds * sr), 60 * sr):  # a minute at a time
                    t = np.arange(start, min(start + 60 * sr, int(seconds * sr)))
                    f.write(0.3 * np.sin(2 * np.pi * 440 * t / sr) + 0.05 * rng.standard_normal(len(t)))
            write_shards(src, dst, shard_size=None, label_from="none", window=1.0, progress=False)
        url = os.path.join(dst, "shard-000000.tar")
        index = os.path.join(dst, "index.json")
        out[f"{ext}-local"] = (url, index)
        out[f"{ext}-pipe"] = (f"pipe:cat {url}", index)
    out["baseline"] = out["wav-local"]
    if lhotse:
        for ext in ("wav", "flac"):
            out[f"lhotse-{ext}"] = (os.path.join(tmp, f"src-{ext}", f"hour.{ext}"), "")
        out["lhotse-baseline"] = out["lhotse-wav"]
    return out


def run_once(name: str, url: str, index: str, sr: int, workers: int = 0, batch: int = 32,
             lhotse_python: str = "") -> dict:
    """One fresh process of system ``name``: its JSON line (windows, seconds, peak_bytes)."""
    if name.startswith("lhotse"):
        argv = [lhotse_python, "-c", LHOTSE_CHILD, url, str(sr), name, str(workers), str(batch)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # lhotse's own environment
    else:
        argv = [sys.executable, "-c", CHILD, url, index, str(sr), name, str(workers), str(batch)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3, help="fresh-process runs per system (default 3)")
    p.add_argument("--seconds", type=float, default=3600.0, help="recording length (default 3600)")
    p.add_argument("--sr", type=int, default=16000, help="sample rate (default 16000)")
    p.add_argument("--tmp", default="/tmp/window-bench", help="where recordings and shards go")
    p.add_argument("--only", nargs="+", default=None, help="systems to run (default: all)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers of every system (default 0)")
    p.add_argument("--batch", type=int, default=32, help="windows per batch (default 32)")
    p.add_argument("--lhotse-python", default="", help="interpreter of an environment with lhotse and torch: "
                   "adds the lhotse systems")
    args = p.parse_args()
    os.makedirs(args.tmp, exist_ok=True)
    t = time.perf_counter()
    systems = make(args.tmp, args.seconds, args.sr, bool(args.lhotse_python))
    print(f"recordings and shards ready in {time.perf_counter() - t:.0f} s; "
          f"sizes: " + ", ".join(f"{k} {os.path.getsize(v[0]) / 1e6:.0f} MB" for k, v in systems.items()
                                 if k.endswith("local")))
    names = args.only or list(systems)
    rounds = {k: [] for k in names}
    for r in range(args.reps):
        print(f"round {r + 1}/{args.reps}; load {open('/proc/loadavg').read().split()[:3]}", flush=True)
        for k in names:
            rounds[k].append(run_once(k, *systems[k], args.sr, args.workers, args.batch, args.lhotse_python))
    for k, runs in rounds.items():
        rate = [x["windows"] / x["seconds"] for x in runs]
        peak = [x["peak_bytes"] / 2 ** 20 for x in runs]
        seek = (f"; one window read {statistics.median(x['window_read_bytes'] for x in runs) / 1e3:.0f} kB "
                f"for {runs[0]['window_frames']} frames" if "window_read_bytes" in runs[0] else "")
        print(f"{k:15s} windows {runs[0]['windows']}: {statistics.median(rate):8.0f} windows/s "
              f"[{min(rate):.0f}, {max(rate):.0f}]; peak RSS {statistics.median(peak):6.0f} MiB "
              f"[{min(peak):.0f}, {max(peak):.0f}]{seek}", flush=True)


if __name__ == "__main__":
    main()
