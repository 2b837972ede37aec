"""Start-up: ``import nnaudio_data`` loads nothing until a name is used (a lazy top level), the
command's ``--help`` imports no subcommand's module, and the package pulls in no heavy optional
module (they are imported where they are used); each checked in a fresh interpreter. Module
presence, not timing: the bench measures the time (``nnaudio-data bench --only import``)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# modules that cost from 0.3 s to several seconds to import, none needed to build a pipeline
HEAVY = ("scipy.signal", "scipy.stats", "scipy.special", "scipy.interpolate", "scipy.optimize",
         "librosa", "numba", "nnAudio", "matplotlib", "pandas", "datasets", "audiomentations")


def _probe(code: str, result: str = "sorted(sys.modules)"):
    """Run ``code`` in a fresh interpreter; return ``result`` evaluated after it (JSON, last line)."""
    probe = f"import sys, json\n{code}\nprint(json.dumps({result}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _modules_after(code: str):
    return set(_probe(code))


def test_import_pulls_in_no_heavy_module():
    loaded = _modules_after("import nnaudio_data, nnaudio_data.features, nnaudio_data.augment, "
                            "nnaudio_data.data, nnaudio_data.functional")
    assert "nnaudio_data.features._cfp" in loaded  # the probe did import the package
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_import_is_lazy_until_a_name_is_used():
    # the top level resolves its names on first access (PEP 562): the import itself loads no submodule
    bare = _probe("import nnaudio_data", "{'modules': sorted(sys.modules), 'dir': dir(nnaudio_data)}")
    loaded = set(bare["modules"])
    assert "torch" not in loaded and "numpy" not in loaded
    assert sorted(m for m in loaded if m.startswith("nnaudio_data.")) == []
    import nnaudio_data

    assert set(nnaudio_data.__all__) <= set(bare["dir"])  # dir() lists the names before they load
    used = _modules_after("import nnaudio_data; nnaudio_data.AudioBatch")
    assert {"torch", "nnaudio_data._batch"} <= used


def test_a_lazy_name_is_its_module_object_and_pickles_by_it():
    # what a spawned worker unpickles: the class by its defining module, the same object
    same = _probe("import pickle, nnaudio_data, nnaudio_data._batch, nnaudio_data.data\n"
                  "a = nnaudio_data.AudioBatch; w = nnaudio_data.wrap",
                  "[a is nnaudio_data._batch.AudioBatch, pickle.loads(pickle.dumps(a)) is a, "
                  "w is nnaudio_data.data.wrap, 'AudioBatch' in vars(nnaudio_data)]")
    assert same == [True, True, True, True]


def test_unknown_top_level_name_is_an_attribute_error():
    import nnaudio_data

    with pytest.raises(AttributeError, match="'nnaudio_data' has no attribute 'AudioBach'"):
        nnaudio_data.AudioBach  # noqa: B018


_CLI = ("from nnaudio_data.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit as e:\n"
        "    code = e.code")


@pytest.mark.parametrize("argv, code", [(["--help"], 0), ([], 2)])
def test_cli_help_imports_no_subcommand_module(argv, code):
    from nnaudio_data.cli import COMMANDS

    out = _probe(_CLI.format(argv=argv), "{'code': code, 'modules': sorted(sys.modules)}")
    loaded = set(out["modules"])
    assert out["code"] == code
    assert sorted(m for m in ("torch", "numpy", "scipy", "soundfile") if m in loaded) == []
    assert sorted(m for m, _ in COMMANDS.values() if m in loaded) == []
    assert "nnaudio_data.tools" not in loaded


def test_cli_parser_pulls_in_no_heavy_module():
    # each subcommand's module loads when that subcommand is chosen, and still no heavy module
    loaded = _modules_after("from nnaudio_data.cli import COMMANDS, build_parser\n"
                            "for name in COMMANDS: build_parser(name)")
    assert {"nnaudio_data.tools.bench", "nnaudio_data.tools.demo", "nnaudio_data.tools.gpu_check",
            "nnaudio_data.authoring._writer"} <= loaded
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_heavy_modules_load_where_used():
    # the lazy imports still work: a window scipy computes (not one of the cosine sums computed
    # here, such as "hann") pulls scipy.signal in when called
    loaded = _modules_after("from nnaudio_data.functional._windows import get_window; "
                            "get_window(('kaiser', 8.0), 8)")
    assert "scipy.signal" in loaded


def test_a_workers_clip_path_loads_no_heavy_module(tmp_path):
    # what a spawned DataLoader worker runs for the README's set-up: decode WAV and FLAC at
    # 44.1 kHz, resample to 16 kHz, augment, collate. scipy.signal alone cost each worker
    # 0.6-0.8 s of its start (python -X importtime) before the resampler stopped using it, and
    # scipy.fft (with scipy.special) 0.3-0.45 s before the CPU spectrogram took torch.fft
    code = f"""
import io, sys, tarfile, numpy as np, soundfile as sf
with tarfile.open({str(tmp_path / "a.tar")!r}, "w") as tar:
    for i, fmt in enumerate(["WAV", "FLAC"] * 2):
        buf = io.BytesIO()
        sf.write(buf, np.random.default_rng(i).standard_normal((44100, 2)) * 0.1, 44100, format=fmt)
        data = buf.getvalue()
        info = tarfile.TarInfo(f"{{i:04d}}.{{fmt.lower()}}"); info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
import nnaudio_data as nd
from nnaudio_data.augment import AddColoredNoise, Compose, FrequencyMasking, Gain, TimeMasking
ds = nd.ShardedAudioDataset({str(tmp_path / "a.tar")!r}, sr=16000, length=16000, shuffle=10, on_error="raise")
clips = list(ds)
after_clips = sorted(sys.modules)
collate = nd.GPUSpectrogramCollate("logmel", device="cpu", sr=16000, n_fft=512, hop_length=160, n_mels=80,
                                   augment=Compose([Gain((-6.0, 6.0)), AddColoredNoise((10.0, 30.0))]),
                                   spec_augment=Compose([FrequencyMasking(27), TimeMasking(15)]))
collate.train()
batch = collate(clips)
assert batch.spec.shape[0] == 4, batch.spec.shape
"""
    clips, loaded = _probe(code, "[after_clips, sorted(sys.modules)]")
    assert "nnaudio_data.data._resample" in clips
    assert sorted(m for m in HEAVY if m in clips) == []
    assert sorted(m for m in HEAVY + ("scipy.fft",) if m in loaded) == []
