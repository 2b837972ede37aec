"""Published corpus layouts for ``nnaudio-data shard --layout NAME``: each reads a corpus as its
authors ship it (its folders, metadata files and official splits) into the writer's entries.

================  ==========================================  =======================  ==============
layout            what is read                                label                    split
================  ==========================================  =======================  ==============
speech_commands   ``WORD/*.wav``, ``validation_list.txt``,     the word folder          valid / test
                  ``testing_list.txt``, ``_background_noise_``                          from the lists,
                                                                                        else train;
                                                                                        noise: the
                                                                                        noise files
esc50             ``meta/esc50.csv`` (filename, fold,          ``category``             fold1 ... fold5
                  category), ``audio/*.wav``
gtzan             ``GENRE/GENRE.000NN.{au,wav}`` (also under   the genre folder         none (use
                  ``genres/`` or ``genres_original/``)                                  ``--split``)
librispeech       ``SUBSET/SPEAKER/CHAPTER/*.flac`` with       the transcript (text)    the subset
                  ``SPEAKER-CHAPTER.trans.txt``                                         (dev-clean...)
maps              ``PIANO/**/MAPS_*.wav`` with the ``.txt``    note list [[onset s,     test: ENSTDkCl,
                  note list beside each                        offset s, MIDI pitch]]   ENSTDkAm; else
                                                                                        train
================  ==========================================  =======================  ==============

MAPS ships no split; the one here is the usual convention (train on the synthesised pianos, test
on the two Disklavier recordings). A layout whose metadata file is missing raises ValueError
naming it; a file its metadata lists but the tree lacks is listed, and then reported by the writer
as unreadable.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ._manifest import Entry, audio_files
from .._checks import check_arg

MAPS_TEST_PIANOS = ("ENSTDkAm", "ENSTDkCl")


@dataclass
class Corpus:
    """A layout's entries (path, label, key name, split) and its label kind ("class" or "text")."""

    entries: List[Entry]
    labels: str = "class"


def _need(path: Path, layout: str) -> Path:
    if not path.exists():
        raise ValueError(f"layout {layout!r}: {path} is missing; is src the corpus root?")
    return path


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def speech_commands(root: Path) -> Corpus:
    """Speech Commands v2: one folder per word; official valid / test lists; background noise."""
    lists = {}
    for split, name in (("valid", "validation_list.txt"), ("test", "testing_list.txt")):
        text = _need(root / name, "speech_commands").read_text(encoding="utf-8")
        lists.update({line.strip(): split for line in text.splitlines() if line.strip()})
    entries = []
    for path in audio_files(root):
        rel = _rel(path, root)
        word = rel.split("/", 1)[0]
        if word == "_background_noise_":
            entries.append(Entry(path, None, rel, "noise"))
        elif "/" in rel:
            entries.append(Entry(path, word, rel, lists.get(rel, "train")))
    return Corpus(entries)


def esc50(root: Path) -> Corpus:
    """ESC-50: ``meta/esc50.csv`` rows -> ``audio/FILENAME``, label ``category``, split ``fold{N}``."""
    meta = _need(root / "meta" / "esc50.csv", "esc50")
    with meta.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = {"filename", "fold", "category"} - set(rows[0] if rows else ())
    if missing:
        raise ValueError(f"layout 'esc50': {meta} needs columns filename, fold, category; "
                         f"missing {sorted(missing)}")
    entries = [Entry(root / "audio" / r["filename"], r["category"], f"audio/{r['filename']}",
                     f"fold{int(r['fold'])}") for r in rows]
    return Corpus(entries)


def gtzan(root: Path) -> Corpus:
    """GTZAN: one folder per genre (at the root, or under ``genres/`` / ``genres_original/``)."""
    for sub in ("genres_original", "genres"):
        if (root / sub).is_dir():
            root = root / sub
            break
    entries = [Entry(p, p.parent.name, _rel(p, root)) for p in audio_files(root) if p.parent != root]
    if not entries:
        raise ValueError(f"layout 'gtzan': no GENRE/*.au or GENRE/*.wav files under {root}")
    return Corpus(entries)


def _transcripts(folder: Path) -> Dict[str, str]:
    out = {}
    for trans in folder.glob("*.trans.txt"):
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt, _, text = line.strip().partition(" ")
            if utt:
                out[utt] = text.strip()
    return out


def librispeech(root: Path) -> Corpus:
    """LibriSpeech: ``SUBSET/SPEAKER/CHAPTER/*.flac``, transcripts as text labels, subset as split.
    ``src`` may be the ``LibriSpeech`` folder or one subset folder."""
    subsets = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.isdigit()]
    if not subsets and any(d.is_dir() and d.name.isdigit() for d in root.iterdir()):
        subsets = [root]  # src is a subset itself
    entries = []
    for subset in subsets:
        for chapter in sorted(p for p in subset.glob("*/*") if p.is_dir()):
            text = _transcripts(chapter)
            for path in sorted(chapter.glob("*.flac")):
                entries.append(Entry(path, text.get(path.stem), f"{subset.name}/{path.name}", subset.name))
    if not entries:
        raise ValueError(f"layout 'librispeech': no SUBSET/SPEAKER/CHAPTER/*.flac under {root}")
    return Corpus(entries, labels="text")


def _notes(txt: Path) -> Optional[List[List[float]]]:
    if not txt.exists():
        return None
    notes = []
    for line in txt.read_text(encoding="utf-8").splitlines()[1:]:  # header: OnsetTime OffsetTime MidiPitch
        parts = line.split()
        if len(parts) >= 3:
            notes.append([float(parts[0]), float(parts[1]), int(float(parts[2]))])
    return notes


def maps(root: Path) -> Corpus:
    """MAPS: ``PIANO/**/MAPS_*.wav`` with the note list of the ``.txt`` beside it."""
    entries = []
    for path in audio_files(root):
        rel = _rel(path, root)
        piano = rel.split("/", 1)[0]
        split = "test" if piano in MAPS_TEST_PIANOS else "train"
        entries.append(Entry(path, _notes(path.with_suffix(".txt")), rel, split))
    if not entries:
        raise ValueError(f"layout 'maps': no PIANO/**/*.wav files under {root}")
    return Corpus(entries)


LAYOUTS: Dict[str, Callable[[Path], Corpus]] = {
    "speech_commands": speech_commands, "esc50": esc50, "gtzan": gtzan, "librispeech": librispeech,
    "maps": maps}


def read_layout(name: str, root: Path) -> Corpus:
    """The entries of the corpus at ``root`` in layout ``name`` (one of :data:`LAYOUTS`)."""
    check_arg(name in LAYOUTS, "layout", f"one of {sorted(LAYOUTS)}", name)
    if not Path(root).is_dir():
        raise ValueError(f"layout {name!r}: src must be the corpus root folder, got {str(root)!r}")
    return LAYOUTS[name](Path(root))
