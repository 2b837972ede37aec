"""The console entry points, run as a user runs them (subprocesses)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, timeout=900):  # a hang bound only: a busy machine is slow, not wrong
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the checkout, installed or not
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_demo_trains_and_reports_throughput():
    r = run("-m", "nnaudio_data.cli", "demo", "--clips", "96", "--epochs", "3", "--workers", "2")
    assert r.returncode == 0, r.stderr
    epochs = [line for line in r.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 3
    assert all("clips=96" in line and "clips/s=" in line for line in epochs)
    losses = [float(line.split("loss=")[1].split()[0]) for line in epochs]
    assert losses[-1] < losses[0]  # the tiny classifier learns from the streamed spectrograms
    assert "skipped: 0" in r.stdout


@pytest.mark.slow  # trains from shards through the whole script; the demo test covers the path
def test_example_script_runs():
    r = run("examples/train_mel_classifier.py", "--epochs", "1", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "epoch 0: loss" in r.stdout


def test_cli_help_lists_commands():
    r = run("-m", "nnaudio_data.cli", "--help")
    assert r.returncode == 0
    for cmd in ("demo", "bench", "shard", "gpu-check"):
        assert cmd in r.stdout


def test_subcommand_help_shows_its_options():
    # only the chosen subcommand's module is imported, and its options are all there
    r = run("-m", "nnaudio_data.cli", "bench", "--help")
    assert r.returncode == 0, r.stderr
    assert "usage: nnaudio-data bench" in r.stdout
    for option in ("--only", "--reps", "--report"):
        assert option in r.stdout, option


def test_a_subcommand_whose_module_fails_to_import_says_so(monkeypatch):
    from nnaudio_data import cli

    monkeypatch.setitem(cli.COMMANDS, "ghost", ("nnaudio_data.tools.no_such_tool", "not installed"))
    missing = "nnaudio-data: unavailable: No module named 'nnaudio_data.tools.no_such_tool'"
    with pytest.raises(SystemExit, match=missing):
        cli.main(["ghost"])
