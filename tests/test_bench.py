"""The bench: each section's measurement on a tiny configuration (in this process), the fresh-process
runner's schedule and figures, and the report generator on a small synthetic bench.json."""
import json
import os
import shutil

import pytest

from nnaudio_data.tools.bench import report, stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(clips=3, sr=16000, length=4000, threads=1, device="cpu")


def _s(m, lo, hi, n=3):
    return {"median": m, "min": lo, "max": hi, "n": n}


def test_compare_pairs_rounds_and_picks_the_best_peer():
    raw = {"ours": [{"t": 1.0}, {"t": 2.0}, None], "a": [{"t": 4.0}, {"t": 2.0}, {"t": 9.0}],
           "b": [{"t": 3.0}, {"t": 3.0}, {"t": 3.0}]}
    fig = stats.compare(raw, ["t"], ["ours"])
    assert fig["values"]["t"]["ours"] == _s(1.5, 1.0, 2.0, 2)
    # round 3 of ours is missing: the ratio uses rounds 1 and 2 only (4/1 and 2/2)
    assert fig["ratios"]["t"]["ours vs a"] == _s(2.5, 1.0, 4.0, 2)
    assert fig["best_peer"]["t"] == "b"  # lowest median seconds (3.0 < 4.0)
    assert fig["vs_best_peer"]["t"]["ours"] == _s(2.25, 1.5, 3.0, 2)
    rates = stats.compare({"ours": [{"t": 10.0}], "p": [{"t": 5.0}]}, ["t"], ["ours"], higher_is_better=True)
    assert rates["ratios"]["t"]["ours vs p"]["median"] == 2.0


def _synthetic_bench():
    spec = {"figures": {"values": {"stft": {"ours-fft": _s(0.5, 0.4, 0.6), "librosa": _s(2.0, 1.9, 2.2)},
                                   "mel": {"ours-fft": _s(0.6, 0.5, 0.7), "librosa": _s(3.0, 2.9, 3.1)}},
                        "ratios": {"stft": {"ours-fft vs librosa": _s(4.0, 3.5, 4.4)},
                                   "mel": {"ours-fft vs librosa": _s(5.0, 4.5, 5.5)}},
                        "vs_best_peer": {"stft": {"ours-fft": _s(4.0, 3.5, 4.4), "librosa": _s(1, 1, 1)}},
                        "best_peer": {"stft": "librosa"}, "kernel_bytes": {"ours-fft/stft": 8192}},
            "config": {"spec_n_fft": 2048, "spec_hop": 512, "spec_n_mels": 128, "spec_batch": 16},
            "notes": {"nnAudio": "not importable (x)"}}
    imp = {"figures": {"seconds": {"nnaudio_data": _s(0.12, 0.1, 0.15)}, "goal_s": 0.3}, "config": {}}
    return {"device": "cpu", "threads": 2, "clips": 400, "sr": 44100, "length": 80000, "reps": 3,
            "torch": "2.x", "time": "T", "machine": {"cpu": "Test CPU", "cores": 2},
            "sections": {"import": imp, "spectrogram": spec}}


def test_report_rewrites_only_the_marked_blocks(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(_synthetic_bench()))
    docs, readme = tmp_path / "benchmarks.md", tmp_path / "README.md"
    docs.write_text("# B\nkept above\n<!-- bench:begin -->\nstale 1.8x\n<!-- bench:end -->\nkept below\n")
    readme.write_text("intro\n<!-- bench:begin -->\nstale 4.6x\n<!-- bench:end -->\nrest\n")
    written = report.write_report(str(path), docs=str(docs), readme=str(readme), chart=None, force=True)
    assert written == [str(docs), str(readme)]
    d, r = docs.read_text(), readme.read_text()
    for text in (d, r):
        assert "stale" not in text and "do not edit by hand" in text
    assert d.startswith("# B\nkept above\n<!-- bench:begin -->") and d.endswith("<!-- bench:end -->\nkept below\n")
    assert "| ours-fft vs librosa | 4.00x (3.50-4.40x) |" in d
    assert "| librosa | 3.000 (2.900-3.100) |" in d
    assert "| nnaudio_data | 0.120 (0.100-0.150) |" in d
    assert "Test CPU (2 cores)" in d and "3 rounds" in d and "nnAudio: not importable" in d
    assert "STFT: 4.00x (3.50-4.40x) librosa" in r and "Mel: 5.00x (4.50-5.50x) librosa" in r
    assert "0.120 s (0.100-0.150)" in r
    # again: idempotent
    report.write_report(str(path), docs=str(docs), readme=str(readme), chart=None, force=True)
    assert docs.read_text() == d and readme.read_text() == r


def test_report_needs_the_markers(tmp_path):
    with pytest.raises(ValueError, match="must hold the markers"):
        report.replace_block("no markers here", "x", "README.md")


def test_chart_rows_cover_every_section_task_and_system():
    rows = report.chart_rows(_synthetic_bench())
    assert [r["label"] for r in rows] == ["spectrogram/stft: ours-fft (vs librosa)",
                                          "spectrogram/stft: librosa (vs librosa)"]


def test_readme_and_docs_hold_the_generated_blocks():
    for name in ("README.md", os.path.join("docs", "benchmarks.md")):
        with open(os.path.join(ROOT, name)) as f:
            text = f.read()
        assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1, name
        assert text.index(report.BEGIN) < text.index(report.END), name
        assert "do not edit by hand" in text, name


def test_spectrogram_systems_measure_both_tasks():
    from nnaudio_data.tools.bench import spectrogram

    cfg = dict(TINY, spec_n_fft=256, spec_hop=64, spec_n_mels=16, spec_batch=2,
               spec_systems=list(spectrogram.SYSTEMS), torchaudio_python=None)
    assert "torchaudio" not in spectrogram.systems(cfg)  # only with --torchaudio-python
    for system in ("ours-fft", "ours-conv1d", "torch.stft", "nnAudio", "librosa"):
        out = spectrogram.measure(system, cfg)
        assert set(out) == {"stft", "mel"} and all(v > 0 for v in out.values()), system
    kb = spectrogram.once(cfg)["kernel_bytes"]
    # the FFT backend holds a window only; conv1d holds (2F, 1, n_fft) float32 kernels
    assert kb["ours-fft/stft"] == 256 * 4
    assert kb["ours-conv1d/stft"] == 256 * 4 + 2 * 129 * 256 * 4


def test_cqt_systems_and_accuracy(tmp_path):
    from nnaudio_data.tools.bench import cqt

    cfg = dict(TINY, sr=22050, length=20000, cqt_batch=2, cqt_check=2)
    cfg.update(cqt.prepare(cfg, str(tmp_path)))  # the clips, synthesized once for every process
    assert cqt._clips(cfg, 2).equal(cqt.piano_clips(2, 20000, 22050))
    for system in ("ours[librosa]", "nnAudio CQT1992v2", "librosa.cqt"):
        assert cqt.measure(system, cfg)["cqt"] > 0
    once = cqt.once(cfg)
    assert once["rel_error_vs_librosa"]["ours[librosa]"] < 1e-3  # librosa mode matches librosa
    assert once["kernel_bytes"]["ours[librosa]"] * 20 < once["kernel_bytes"]["nnAudio CQT1992v2"]
    assert once["failed"] == {}


def test_loader_systems_deliver_every_clip(tmp_path):
    from nnaudio_data.tools.bench import loader

    cfg = dict(TINY, loader_clips=8, loader_batch=2, loader_workers=1, loader_epochs=2)
    with pytest.raises(ValueError, match="loader_clips must be >= 2 x loader_batch x loader_workers"):
        loader.prepare(dict(cfg, loader_clips=3), str(tmp_path))
    cfg.update(loader.prepare(cfg, str(tmp_path)))
    tasks = {"ours": {"wav", "flac", "mixed"}, "plain": {"wav", "flac", "mixed"},
             "floor": {"wav", "flac"}, "floor+batch": {"wav", "flac"}, loader.UNCACHED: {"mixed"},
             **{system: {"wav"} for system in loader.BATCHES}}
    assert set(tasks) == set(loader.SYSTEMS)
    raw = {}
    for system in loader.SYSTEMS:
        out = loader.measure(system, cfg)
        assert set(out) == tasks[system] and all(v > 0 for v in out.values()), system
        raw[system] = [out]
    assert len(loader.once(cfg)["peak_rss_mb"]) == 2
    fig = loader.summarize(raw, None, cfg)
    for ext in ("wav", "flac"):  # each loader against each floor x 1 worker, paired by round
        for floor, key in (("floor", "of_floor_x_workers"), ("floor+batch", "of_floor_batch_x_workers")):
            assert fig[key][ext]["ours"]["median"] == pytest.approx(raw["ours"][0][ext] / raw[floor][0][ext])
    for alloc in ("new_shared", "plain"):  # the allocators alone, paired by round
        want = raw["batch[memfd]"][0]["wav"] / raw[f"batch[{alloc}]"][0]["wav"]
        assert fig["allocators"]["memfd vs"][alloc]["median"] == pytest.approx(want)
    table = loader.markdown(fig, cfg)
    assert "Shared-memory batch allocators alone" in table and "memfd / new_shared" in table
    assert "| floor+batch, 1 worker | ours / (floor+batch x 1) | plain / (floor+batch x 1) |" in table
    assert all("of the decode floor x workers" in h and "batch floor x workers" in h
               for h in loader.headline(fig)[:2])


def test_floor_batches_are_the_floor_decode_stacked_in_shared_memory(tmp_path):
    """floor+batch's worker yields the floor's decoded clips, batch by batch, in shared memory."""
    import io

    import numpy as np
    import soundfile as sf
    import torch
    from torch.utils.data import DataLoader

    from nnaudio_data.tools.bench import loader
    from nnaudio_data.tools.bench.floor_batch import FloorBatches

    urls = loader.write_bench_shards(str(tmp_path), 5, 8000, "flac", per_shard=3)
    length = 12000  # 8000-16000 samples per clip: some cut, some padded
    want = [sf.read(io.BytesIO(d), frames=length, dtype="float32", fill_value=0.0)[0]
            for d in loader.members(urls, "flac")]
    got = list(DataLoader(FloorBatches(urls, "flac", length, 2), batch_size=None, num_workers=1))
    assert [tuple(b.shape) for b in got] == [(2, 1, length), (2, 1, length), (1, 1, length)]
    assert all(b.is_shared() for b in got)
    assert torch.equal(torch.cat(got)[:, 0], torch.from_numpy(np.stack(want)))


def test_plain_decode_is_the_idiomatic_window_read():
    import io

    import numpy as np
    import soundfile as sf

    from nnaudio_data.tools.bench.loader import PlainDecode

    buf = io.BytesIO()
    sf.write(buf, np.full(100, 0.5), 8000, format="WAV", subtype="PCM_16")
    for length in (60, 150):  # cut, and padded with zeros by soundfile
        x, label = PlainDecode("wav", length)({"wav": buf.getvalue(), "cls": 3})
        assert x.dtype.is_floating_point and x.shape == (length,) and label == 3
        assert float(x[:60].min()) == 0.5 and float(x[100:].abs().sum()) == 0.0


def test_augment_ours_measures():
    from nnaudio_data.tools.bench import augment

    cfg = dict(TINY, clips=4, length=4096, aug_batch=2, tam_python=None)
    assert augment.systems(cfg) == ["nnaudio_data", "audiomentations"]
    assert augment.measure("nnaudio_data", cfg)["chain"] > 0


@pytest.mark.slow
def test_runner_interleaves_fresh_processes_and_writes_a_report(tmp_path):
    from nnaudio_data.cli import main

    out = tmp_path / "out"
    assert main(["bench", "--only", "spectrogram", "--reps", "2", "--clips", "2", "--length", "3000",
                 "--sr", "16000", "--threads", "1", "--spec-n-fft", "256", "--spec-hop", "64",
                 "--spec-n-mels", "16", "--spec-batch", "2", "--spec-systems", "ours-fft", "torch.stft",
                 "--out", str(out)]) == 0
    bench = json.loads((out / "bench.json").read_text())
    sec = bench["sections"]["spectrogram"]
    assert set(sec["raw"]) == {"ours-fft", "torch.stft"}
    assert all(len(v) == 2 and all(v) for v in sec["raw"].values())  # 2 rounds, each measured
    assert sec["figures"]["ratios"]["mel"]["ours-fft vs torch.stft"]["n"] == 2
    assert bench["machine"]["cores"] >= 1
    docs, readme = tmp_path / "benchmarks.md", tmp_path / "README.md"
    shutil.copy(os.path.join(ROOT, "docs", "benchmarks.md"), docs)
    shutil.copy(os.path.join(ROOT, "README.md"), readme)
    report_cmd = ["bench", "--report", "--out", str(out), "--docs", str(docs), "--readme", str(readme)]
    with pytest.raises(SystemExit, match="lacks the sections"):  # one section: not the whole list
        main(report_cmd)
    assert main(report_cmd + ["--force"]) == 0
    assert "ours-fft vs torch.stft" in docs.read_text()
    assert "STFT: " in readme.read_text() and "2 rounds" in readme.read_text()
    load = sec["load"]
    assert len(load["before"]) == 3 and len(load["after"]) == 3
    assert "Machine load (1 / 5 / 15 min averages)" in docs.read_text()
    # --check: the sections of run 1 again, with run 1's configuration (not this command line's)
    out2 = tmp_path / "out2"
    rc = main(["bench", "--check", str(out / "bench.json"), "--clips", "5", "--out", str(out2)])
    second = json.loads((out2 / "bench.json").read_text())
    assert list(second["sections"]) == ["spectrogram"] and second["clips"] == 2
    assert set(second["sections"]["spectrogram"]["raw"]) == {"ours-fft", "torch.stft"}
    assert second["check"]["compared"] == 2  # ours-fft vs torch.stft, for stft and for mel
    assert rc == (1 if second["check"]["flags"] else 0)


def test_import_section_times_the_package_after_torch_in_a_bare_interpreter():
    from nnaudio_data.tools.bench import importtime, runner

    cmd = importtime.external_command("nnaudio_data", dict(TINY))
    assert "nnaudio_data.tools.bench" not in " ".join(cmd)  # a bare interpreter, not the bench's child
    out = runner.run_child(cmd, threads=1)
    assert set(out) == {"import_s"} and out["import_s"] > 0
    fig = importtime.summarize({"nnaudio_data": [out]}, {}, {})
    assert fig["seconds"]["nnaudio_data"]["n"] == 1 and fig["goal_s"] == 0.3


def test_unstable_and_flagged_ratios_are_marked():
    assert stats.fmt_ratio(_s(1.5, 0.7, 1.6)) == "1.50x (0.70-1.60x, unstable)"  # 1.6 / 0.7 > 2
    assert stats.fmt_ratio(_s(1.5, 1.0, 2.0)) == "1.50x (1.00-2.00x)"  # exactly 2: stable
    assert stats.fmt_ratio(dict(_s(1.5, 1.4, 1.6), flag="x")) == "1.50x (1.40-1.60x, did not reproduce)"


def test_check_flags_every_ratio_whose_median_leaves_the_previous_range():
    from nnaudio_data.tools.bench import check

    old, new = _synthetic_bench(), _synthetic_bench()
    ratios = new["sections"]["spectrogram"]["figures"]["ratios"]
    ratios["stft"]["ours-fft vs librosa"] = _s(3.4, 3.0, 3.6)  # below the old 3.5-4.4: flagged
    ratios["mel"]["ours-fft vs librosa"] = _s(4.5, 2.0, 9.0)  # on the old range's edge: kept
    ratios["mel"]["ours-fft vs nnAudio"] = _s(9.0, 8.0, 10.0)  # not in the old run: not compared
    flags = check.check(new, old, "run1.json")
    assert flags == ["spectrogram/stft: ours-fft vs librosa 3.40x, outside the previous run's range "
                     "3.50-4.40x"]
    assert new["check"] == {"against": "run1.json", "compared": 2, "flags": flags}
    assert "flag" not in ratios["mel"]["ours-fft vs librosa"]


def test_report_refuses_flagged_figures_unless_forced_and_then_marks_them(tmp_path):
    from nnaudio_data.tools.bench import check

    old, new = _synthetic_bench(), _synthetic_bench()
    new["sections"]["spectrogram"]["figures"]["ratios"]["stft"]["ours-fft vs librosa"] = _s(2.0, 1.9, 2.1)
    assert len(check.check(new, old, "run1.json")) == 1
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(new))
    docs, readme = tmp_path / "benchmarks.md", tmp_path / "README.md"
    for f in (docs, readme):
        f.write_text("<!-- bench:begin -->\nold\n<!-- bench:end -->\n")
    with pytest.raises(ValueError, match="1 figures did not reproduce under --check: spectrogram/stft"):
        report.write_report(str(path), docs=str(docs), readme=str(readme), chart=None)
    assert "old" in docs.read_text() and "old" in readme.read_text()  # nothing written
    report.write_report(str(path), docs=str(docs), readme=str(readme), chart=None, force=True)
    assert "| ours-fft vs librosa | 2.00x (1.90-2.10x, did not reproduce) |" in docs.read_text()
    assert "1 outside that run's range" in readme.read_text()


def test_report_after_a_partial_run_keeps_the_readme_unless_forced(tmp_path):
    """A run of one section (``--only import``) must not replace the README's whole figures list."""
    bench = _synthetic_bench()
    del bench["sections"]["spectrogram"]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- bench:begin -->\n- STFT: 2.86x\n- Mel: 2.97x\n<!-- bench:end -->\n")
    docs = tmp_path / "benchmarks.md"
    docs.write_text(readme.read_text())
    with pytest.raises(ValueError, match="lacks the sections spectrogram, cqt"):
        report.write_report(str(path), docs=str(docs), readme=str(readme), chart=None)
    assert "STFT: 2.86x" in readme.read_text()


def test_partial_run_keeps_the_other_sections_of_the_same_run_settings(tmp_path):
    from nnaudio_data.tools import bench as bench_cli

    prev = _synthetic_bench()
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(prev))
    same = {k: prev[k] for k in bench_cli.RUN_KEYS}
    assert set(bench_cli.previous_sections(str(path), same)) == {"import", "spectrogram"}
    assert bench_cli.previous_sections(str(path), dict(same, clips=10)) == {}  # other settings
    assert bench_cli.previous_sections(str(tmp_path / "none.json"), same) == {}


def test_kws_corpus_mixes_rates_formats_and_channels(tmp_path):
    import soundfile as sf

    from nnaudio_data.tools.bench import kws

    corpus = kws.write_corpus(str(tmp_path), 16)
    infos = [sf.info(p) for p in corpus["files"]]
    assert {i.samplerate for i in infos} == set(kws.RATES)
    assert {i.format for i in infos} == {"WAV", "FLAC"} and {i.channels for i in infos} == {1, 2}
    assert all(abs(i.duration - 1.0) < 1e-3 for i in infos)
    assert len(corpus["noise"]) == kws.NOISE_CLIPS


def test_kws_systems_deliver_every_clip_of_every_epoch(tmp_path):
    from nnaudio_data.tools.bench import kws

    cfg = dict(TINY, kws_clips=16, kws_epochs=2, kws_batch=4, kws_workers=2, lhotse_python=None)
    cfg.update(kws.prepare(cfg, str(tmp_path)))
    out = kws.measure("ours[fork, persistent]", cfg)  # epochs() checks the clip count of each epoch
    assert set(out) == {"clips_per_s", "first_batch_s"} and all(v > 0 for v in out.values())
    assert "skipped" in kws.measure("webdataset+torchaudio", cfg)  # absent, said so
    assert kws.external_command("lhotse", cfg) is None  # no --lhotse-python: this interpreter
    fig = kws.summarize({"ours": [out], "lhotse": [dict(clips_per_s=out["clips_per_s"] / 2,
                                                         first_batch_s=out["first_batch_s"] * 2)]}, {}, cfg)
    assert fig["ratios"]["clips_per_s"]["ours vs lhotse"]["median"] == pytest.approx(2.0)
    assert fig["ratios"]["first_batch_s"]["ours vs lhotse"]["median"] == pytest.approx(2.0)
    assert "2.00x" in kws.headline(fig)[0] and "| ours |" in kws.markdown(fig, cfg)


@pytest.mark.slow
def test_kws_spawned_setup_and_lhotse_deliver_every_clip(tmp_path):
    import importlib.util

    from nnaudio_data.tools.bench import kws

    cfg = dict(TINY, kws_clips=16, kws_epochs=1, kws_batch=4, kws_workers=2, lhotse_python=None)
    cfg.update(kws.prepare(cfg, str(tmp_path)))
    # lhotse only where this interpreter imports it (the bench runs it from --lhotse-python)
    for system in ["ours"] + (["lhotse"] if importlib.util.find_spec("lhotse") else []):
        assert kws.measure(system, cfg)["clips_per_s"] > 0, system
