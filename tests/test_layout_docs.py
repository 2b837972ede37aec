"""The docs name modules that exist: every ``:mod:`` reference (docstrings, docs, README), every
module of README's layout, every ``*.py`` file a doc names in backticks; and README's layout and
the package docstring list every top-level module and subpackage."""
import importlib
import importlib.util
import pathlib
import re

import pytest

import nnaudio_data

PKG = pathlib.Path(nnaudio_data.__file__).parent
ROOT = PKG.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = sorted(PKG.rglob("*.py"))
MOD_REF = re.compile(r":mod:`~?([^`]+)`")


def _texts():
    return [(p, p.read_text(encoding="utf-8")) for p in DOCS + SOURCES if p.exists()]


def _readme_layout():
    """(indent, name) of each entry of README's layout block (``name.py`` or ``name/``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    return [(len(m.group(1)), m.group(2)) for m in re.finditer(r"^( +)(\S+(?:\.py|/))\s", block, re.M)]


def _top_level():
    """The package's top-level modules and subpackages, as README's layout writes them."""
    names = {p.name for p in PKG.glob("*.py")}
    return names | {p.name + "/" for p in PKG.iterdir() if (p / "__init__.py").exists()}


def _resolve(path, name):
    """A ``:mod:`` target as a module name: relative ones (``._labels``, ``..data._index``) as
    Python resolves them from the module's package; in a doc page, only absolute ones count."""
    if not name.startswith("."):
        return name
    if path.suffix != ".py":
        return None
    package = ".".join(path.relative_to(ROOT).parent.parts)
    try:
        return importlib.util.resolve_name(name, package)
    except ImportError:  # more dots than packages
        return None


def test_every_mod_reference_names_a_module():
    missing = []
    for path, text in _texts():
        for name in MOD_REF.findall(text):
            module = _resolve(path, name)
            if module is None or importlib.util.find_spec(module) is None:
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert missing == [], "\n".join(missing)


def test_every_module_of_readmes_layout_exists_and_every_top_level_one_is_there():
    entries = _readme_layout()
    parent, missing = PKG, []
    for indent, name in entries:
        if indent == 2:
            parent = PKG
        where = (parent if indent > 2 else PKG) / name.rstrip("/")
        if not where.exists():
            missing.append(name)
        if indent == 2 and name.endswith("/"):
            parent = where
    assert missing == [], f"README's layout names modules that do not exist: {missing}"
    listed = {name for indent, name in entries if indent == 2}
    assert sorted(_top_level() - listed) == [], "README's layout leaves these out"


def test_the_package_docstring_lists_every_top_level_module():
    doc = nnaudio_data.__doc__
    assert sorted(n for n in _top_level() if n != "__init__.py" and f"``{n}``" not in doc) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_python_file_a_doc_names_exists(doc):
    files = {p.name for p in ROOT.rglob("*.py")}
    missing = []
    for name in re.findall(r"`([\w./]+\.py)`", doc.read_text(encoding="utf-8")):
        if not ((PKG / name).exists() or (ROOT / name).exists() or pathlib.PurePath(name).name in files):
            missing.append(name)
    assert missing == [], f"{doc.name} names files that do not exist: {missing}"


@pytest.mark.parametrize("package", ["data", "authoring", "features", "augment", "functional"])
def test_each_subpackage_docstring_lists_its_modules(package):
    doc = importlib.import_module(f"nnaudio_data.{package}").__doc__
    names = [p.stem for p in (PKG / package).glob("_*.py") if p.name != "__init__.py"]
    assert sorted(n for n in names if f"``{n}.py``" not in doc and f"``{n[1:]}``" not in doc) == []
