"""examples/train_mel_classifier.py runs as a user runs it (small): a trainable log-mel under
DeviceLoader with spawned workers and augmentation, a checkpoint saved and restored."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANG = 600  # seconds: only a hang reaches this


@pytest.mark.slow
def test_train_mel_classifier_example_runs_and_restores(tmp_path):
    ckpt = str(tmp_path / "ckpt.pt")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "train_mel_classifier.py"), "--sr", "8000",
         "--offset", "0", "--length", "4000", "--clips", "24", "--n-fft", "256", "--n-mels", "32",
         "--batch-size", "8", "--epochs", "2", "--workers", "1", "--checkpoint", ckpt],
        capture_output=True, text=True, timeout=HANG, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["epoch 0", "epoch 1"]
    assert lines[-1].endswith("restored collate gives the same log-mel: True")

    import torch

    state = torch.load(ckpt)
    assert set(state) == {"model", "collate", "optimizer", "epoch"}
    assert list(state["collate"]) == ["spectrogram.mel_basis", "spectrogram.stft.window"]
