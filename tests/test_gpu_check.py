"""``nnaudio-data gpu-check --dry``: every step of the GPU check runs on CPU with tiny sizes and
lands in the verdict table (the wiring; the figures come from a run on a CUDA GPU)."""
import json

import pytest

from nnaudio_data.cli import main


def test_dry_run_fills_every_row(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert main(["gpu-check", "--dry", "--out", str(out)]) == 0, capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["dry"] is True
    steps = [r["step"] for r in report["rows"]]
    assert steps[0] == "cuda tests" and report["rows"][0]["verdict"] == "WIRED"
    for kind in ("stft", "mel", "mfcc", "cqt", "vqt", "gammatone"):
        assert any(s.startswith(f"backends {kind}/") for s in steps), kind
    assert {"backends stft/conv1d", "backends stft/fft"} <= set(steps)  # both backends checked
    for step in ("seed bench stft", "seed bench mel", "seed bench cqt", "overlap step time",
                 "overlap data wait", "memory peak", "H2D used", "H2D pinned copy"):
        assert step in steps, step
    assert not [r for r in report["rows"] if r["verdict"].startswith("FAIL")]
    # a dry run compared CPU with CPU: it shows the wiring and passes nothing
    assert [r["step"] for r in report["rows"] if r["verdict"] != "WIRED"] == []
    assert all("(CPU vs CPU)" in r["measured"] for r in report["rows"] if r["step"].startswith("backends "))
    printed = capsys.readouterr().out
    assert "verdict" in printed and "CPU (dry run)" in printed


def test_without_cuda_the_real_check_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit, match="no CUDA device here; --dry"):
        main(["gpu-check"])
