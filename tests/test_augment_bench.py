"""The augment benchmark section runs end to end on a tiny input and reports its figures."""
import argparse

import pytest

from nnaudio_data.bench import augment


def test_bench_section_reports_clips_per_second(capsys):
    pytest.importorskip("audiomentations")
    parser = argparse.ArgumentParser()
    augment.add_arguments(parser)
    args = parser.parse_args(["--aug-batch", "2"])
    args.clips, args.sr, args.length, args.threads, args.device = 4, 16000, 4096, 1, "cpu"
    out = augment.run(args)
    assert out["clips_timed"] == 4 and out["nnaudio_data"] > 0 and out["audiomentations"] > 0
    assert out["ratio_vs_audiomentations"] == pytest.approx(out["nnaudio_data"] / out["audiomentations"])
    assert "torch_audiomentations" not in out, "the peer environment runs only when asked"
    assert "ratio" in capsys.readouterr().out
