"""Every collate feature under each DataLoader start method (fork, spawn, forkserver).

``loader_child.py`` runs in a fresh interpreter per start method (as a training script would), over
real tar shards: CPU kernels in the workers, waveform augmentation (Gain, colored and background
noise, an impulse response, a shift), spectrogram augmentation deferred to the main process,
Mixup with persistent workers, a trainable mel under DeviceLoader with optimiser steps, and an
iterator abandoned after one batch. It must exit 0 with nothing on stderr (no worker traceback,
no abort at shutdown), and every start method must give the same batches bit for bit: the draws
depend on (seed, epoch, worker), never on how the worker was started.
"""
import json
import os
import subprocess
import sys

import pytest
from shardkit import write_shards

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
METHODS = ("fork", "spawn", "forkserver")
HANG = 600  # seconds: only a hang reaches this


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    urls = write_shards(str(tmp_path_factory.mktemp("shards")), [10, 9, 11])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, HERE])}
    out = {}
    for method in METHODS:
        proc = subprocess.run([sys.executable, os.path.join(HERE, "loader_child.py"), method, "::".join(urls)],
                              capture_output=True, text=True, timeout=HANG, env=env, cwd=ROOT)
        out[method] = proc
    return out


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_workers_run_and_shut_down_cleanly(results, method):
    proc = results[method]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", f"{method}: stderr not empty:\n{proc.stderr[-3000:]}"
    assert set(json.loads(proc.stdout)) == {"augment_mixup_in_workers", "spec_augment_main",
                                            "trainable_deviceloader"}


@pytest.mark.slow
def test_every_start_method_gives_the_same_batches(results):
    digests = {m: json.loads(results[m].stdout) for m in METHODS if results[m].returncode == 0}
    assert len(digests) == len(METHODS)
    assert digests["spawn"] == digests["fork"] == digests["forkserver"]


def test_augmentation_pickles_its_generator_state_as_bytes():
    """What a spawned worker receives: the same generator state, and no shared-memory descriptor
    (a temporary tensor's descriptor is closed before the worker starts)."""
    import io
    import pickle
    from multiprocessing.reduction import ForkingPickler

    import torch
    from nnaudio_data.augment import Compose, Gain

    aug = Compose([Gain((-6.0, 6.0))]).manual_seed(3)
    aug(torch.zeros(2, 1, 4))  # advance the state
    buf = io.BytesIO()
    ForkingPickler(buf, pickle.HIGHEST_PROTOCOL).dump(aug)
    assert b"rebuild_storage_fd" not in buf.getvalue()
    copy = pickle.loads(buf.getvalue())
    x = torch.ones(3, 1, 4)
    assert torch.equal(copy(x).params["children"][0]["gain_db"], aug(x).params["children"][0]["gain_db"])
