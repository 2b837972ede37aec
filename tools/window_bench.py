"""Memory and clips/s of 1-second windows read from hour-long recordings, for the notes of a change
(not a benchmark of record: figures for the docs come from ``nnaudio-data bench``).

Writes synthetic recordings (default: one hour, 16 kHz mono, PCM_16) as WAV and as FLAC under
``--tmp``, packs each with ``nnaudio-data shard --window 1`` (one shard, one member, 3600
windows in the index), then reads every window with ``ShardedAudioDataset`` -> ``DataLoader``
(``num_workers=0``, batches of 32, ``collate_audio``) in a fresh Python process per run. Each run
reports windows/s and the process's peak resident memory (``VmHWM`` of ``/proc/self/status``,
the program's own: not a forked parent's). Systems:

- ``wav-local`` / ``flac-local``: the shard on local disk: each window is read where it lies in
  the tar (a member view; the member is never held in memory);
- ``wav-pipe`` / ``flac-pipe``: the same shard through ``pipe:cat``, as a streamed (remote) shard
  is read: the member's bytes are held while its windows are read;
- ``baseline``: the same process reading one batch of the local WAV shard (imports, dataset,
  loader): the memory every system starts from.

Systems are interleaved over ``--reps`` rounds; each prints median and range.

Usage::

    PYTHONPATH=. python3 tools/window_bench.py --reps 3 --tmp /tmp/window-bench
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
import torch
from torch.utils.data import DataLoader
import nnaudio_data as nd
url, index, sr = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(1)
ds = nd.ShardedAudioDataset(url, sr=sr, length=sr, index=index, on_error="raise")
t = time.perf_counter()
n = 0
for batch in DataLoader(ds, batch_size=32, num_workers=0, collate_fn=nd.collate_audio):
    n += batch.waveform.shape[0]
    if sys.argv[4] == "baseline":
        break
dt = time.perf_counter() - t
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({"windows": n, "seconds": dt, "peak_bytes": peak}))
"""


def make(tmp: str, seconds: float, sr: int) -> dict:
    """The recordings and their shards (reused when present); -> system -> (url, index)."""
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
    return out


def run_once(name: str, url: str, index: str, sr: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", CHILD, url, index, str(sr), name], capture_output=True, text=True,
                          env=env, check=True, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3, help="fresh-process runs per system (default 3)")
    p.add_argument("--seconds", type=float, default=3600.0, help="recording length (default 3600)")
    p.add_argument("--sr", type=int, default=16000, help="sample rate (default 16000)")
    p.add_argument("--tmp", default="/tmp/window-bench", help="where recordings and shards go")
    p.add_argument("--only", nargs="+", default=None, help="systems to run (default: all five)")
    args = p.parse_args()
    os.makedirs(args.tmp, exist_ok=True)
    t = time.perf_counter()
    systems = make(args.tmp, args.seconds, args.sr)
    print(f"recordings and shards ready in {time.perf_counter() - t:.0f} s; "
          f"sizes: " + ", ".join(f"{k} {os.path.getsize(v[0]) / 1e6:.0f} MB" for k, v in systems.items()
                                 if k.endswith("local")))
    names = args.only or list(systems)
    rounds = {k: [] for k in names}
    for r in range(args.reps):
        print(f"round {r + 1}/{args.reps}; load {open('/proc/loadavg').read().split()[:3]}", flush=True)
        for k in names:
            rounds[k].append(run_once(k, *systems[k], args.sr))
    for k, runs in rounds.items():
        rate = [x["windows"] / x["seconds"] for x in runs]
        peak = [x["peak_bytes"] / 2 ** 20 for x in runs]
        print(f"{k:11s} windows {runs[0]['windows']}: {statistics.median(rate):8.0f} windows/s "
              f"[{min(rate):.0f}, {max(rate):.0f}]; peak RSS {statistics.median(peak):6.0f} MiB "
              f"[{min(peak):.0f}, {max(peak):.0f}]")


if __name__ == "__main__":
    main()
