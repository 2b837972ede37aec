"""Start-up: ``import nnaudio_data`` pulls in no heavy optional module (they are imported where they
are used), checked in a fresh interpreter. Module presence, not timing: the bench measures the time
(``nnaudio-data bench --only import``)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# modules that cost from 0.3 s to several seconds to import, none needed to build a pipeline
HEAVY = ("scipy.signal", "scipy.stats", "scipy.special", "scipy.interpolate", "scipy.optimize",
         "librosa", "numba", "nnAudio", "matplotlib", "pandas", "datasets", "audiomentations")


def _modules_after(code: str):
    probe = f"import sys, json; {code}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=600)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_import_pulls_in_no_heavy_module():
    loaded = _modules_after("import nnaudio_data, nnaudio_data.features, nnaudio_data.augment, "
                            "nnaudio_data.data, nnaudio_data.functional")
    assert "nnaudio_data.features.cfp" in loaded  # the probe did import the package
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_cli_parser_pulls_in_no_heavy_module():
    loaded = _modules_after("from nnaudio_data.cli import build_parser; build_parser()")
    assert "nnaudio_data.tools.bench" in loaded
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_heavy_modules_load_where_used():
    # the lazy imports still work: a window and a resample pull scipy.signal in when called
    loaded = _modules_after("from nnaudio_data.functional.windows import get_window; "
                            "get_window('hann', 8)")
    assert "scipy.signal" in loaded
