"""tools/window_bench.py runs end to end on short recordings: every system reads every window of
the WAV and FLAC files (ours from shards, lhotse's from the files, in lhotse's own environment).

The lhotse systems need an interpreter with lhotse and torch, named by ``NND_LHOTSE_PYTHON``; the
test of them skips without one (lhotse is not a test dependency: it pins its own torch)."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = 3  # 3 one-second windows per recording


def _bench(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "window_bench.py"), "--reps", "1",
                           "--seconds", str(SECONDS), "--tmp", str(tmp_path), *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+windows (\d+):", done.stdout, re.M)}


def test_our_systems_read_every_window(tmp_path):
    got = _bench(tmp_path, "--only", "wav-local", "flac-pipe", "baseline")
    assert got == {"wav-local": SECONDS, "flac-pipe": SECONDS, "baseline": SECONDS}


def test_lhotse_systems_read_every_window_from_their_own_environment(tmp_path):
    py = os.environ.get("NND_LHOTSE_PYTHON")
    if not py or not os.access(py, os.X_OK):
        pytest.skip("no lhotse environment (set NND_LHOTSE_PYTHON to its python)")
    got = _bench(tmp_path, "--lhotse-python", py, "--workers", "1", "--only", "lhotse-wav", "lhotse-flac", "wav-local")
    assert got == {"lhotse-wav": SECONDS, "lhotse-flac": SECONDS, "wav-local": SECONDS}
