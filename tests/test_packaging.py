"""Packaging stays working: ``python -m build`` makes an sdist and a wheel (from the sdist), the wheel
installs into a fresh venv with its ``s3`` extra, and ``nnaudio-data demo`` runs from that venv,
outside the checkout. The venv sees this interpreter's packages (``--system-site-packages``), so
nothing is downloaded: torch and the other dependencies are found there, as pip reports."""
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANG = 600  # seconds: only a hang reaches this


def _run(cmd, cwd, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # import what the venv installed
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=HANG, env=env, **kw)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), ROOT], cwd=ROOT)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, os.listdir(dist)
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "nnaudio_data/py.typed" in names and "nnaudio_data/tools/bench/__init__.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check"]
    # the venv's own setuptools (bundled by ensurepip before Python 3.12) would hide this
    # interpreter's newer one, which torch's metadata asks for
    _run([python, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], cwd=tmp_path)
    _run(pip + ["--no-deps", "--force-reinstall", str(wheels[0])], cwd=tmp_path)
    _run(pip + [f"{wheels[0]}[s3]"], cwd=tmp_path)  # the extra resolves: fsspec and s3fs are present
    found = _run([python, "-c", "import importlib.metadata as m, nnaudio_data; print(nnaudio_data.__file__); "
                                "print(m.requires('nnaudio_data'))"], cwd=tmp_path)
    assert found.splitlines()[0].startswith(str(venv)), found  # the wheel's copy, not the checkout's
    assert "s3fs>=2023.1; extra == \"s3\"" in found and "fsspec>=2023.1; extra == \"s3\"" in found

    out = _run([str(venv / "bin" / "nnaudio-data"), "demo", "--clips", "24", "--seconds", "0.25", "--epochs", "1",
                "--batch-size", "8", "--workers", "1", "--data", str(tmp_path / "shards")], cwd=tmp_path)
    assert "clips/s" in out, out
