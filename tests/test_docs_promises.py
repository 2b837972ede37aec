"""The docs say only what was measured, and the first page says how to install and under what
licence: every page that speaks of CUDA or the GPU links the README's "not yet measured" caveat,
the gpu-check duration is an estimate, and the README's first screen holds the minimal install and
the licence."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAVEAT = "README.md#gpu-not-yet-measured"
FIRST_SCREEN = 60  # lines: what a reader sees of the README before scrolling far


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_every_docs_page_with_a_device_claim_links_the_caveat():
    pages = sorted(n for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md"))
    claims = [n for n in pages if re.search(r"\bCUDA\b|\bGPU\b", _read("docs", n))]
    assert {"augment.md", "cqt.md", "design.md"} <= set(claims)
    assert [n for n in claims if CAVEAT not in _read("docs", n)] == []
    readme = _read("README.md")
    assert "### GPU: not yet measured" in readme  # the anchor the pages link to


def test_the_gpu_check_duration_is_an_estimate():
    for text in (_read("README.md"), _read("nnaudio_data", "tools", "gpu_check.py")):
        for m in re.finditer(r"under 10 minutes", text):
            assert "estimate" in text[max(0, m.start() - 80):m.end() + 80], text[m.start() - 80:m.end() + 80]


def test_the_first_screen_shows_the_minimal_install_and_the_licence():
    first = "\n".join(_read("README.md").splitlines()[:FIRST_SCREEN])
    assert "pip install .  " in first and 'pip install -e ".[test]"' in first
    assert "download.pytorch.org/whl/cpu" in first and "MIT" in first and "LICENSE" in first
    assert _read("LICENSE").startswith("MIT License")
    index = _read("docs", "README.md")
    pages = sorted(n for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md") and n != "README.md")
    assert [n for n in pages if f"]({n})" not in index] == []  # the index lists every page
