"""The shard index: one format, written and read in one module (nnaudio_data/data/_index.py), by the
writer, write_index and the dataset alike."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.authoring import write_shards
from nnaudio_data.data import write_index
from nnaudio_data.data._index import INDEX_FORMAT, parse_index, read_index, read_index_doc, save_index

names = st.from_regex(r"[a-z]{1,6}-[0-9]{6}\.tar", fullmatch=True)


@settings(max_examples=30, deadline=None)
@given(shards=st.dictionaries(names, st.integers(0, 10 ** 6), max_size=6),
       classes=st.one_of(st.none(), st.lists(st.text("abc", min_size=1, max_size=3), unique=True)),
       multi=st.booleans())
def test_save_then_read_round_trips(tmp_path_factory, shards, classes, multi):
    path = str(tmp_path_factory.mktemp("idx") / "index.json")
    save_index(path, shards, sorted(classes) if classes is not None else None, multi)
    doc = read_index_doc(path)
    assert doc is not None and doc["format"] == INDEX_FORMAT and doc["shards"] == shards
    assert read_index(path) == shards
    assert doc.get("classes") == (sorted(classes) if classes is not None else None)


def test_missing_index_is_none_and_a_foreign_file_is_a_named_error(tmp_path):
    assert read_index_doc(str(tmp_path / "index.json")) is None
    (tmp_path / "index.json").write_text(json.dumps({"format": "other/1", "shards": {}}))
    with pytest.raises(ValueError, match="index .*must be .*nnaudio_data.index/1"):
        read_index(str(tmp_path / "index.json"))
    with pytest.raises(ValueError, match="index 'x' is not valid JSON"):
        parse_index("{", "x")


def test_write_index_and_the_writer_write_the_same_format(tmp_path):
    import numpy as np
    import soundfile as sf
    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    for i in range(3):
        sf.write(src / f"{i}.wav", np.zeros(80), 8000)
    write_shards(tmp_path / "src", tmp_path / "out", prefix="train", max_count=2, progress=False)
    written = read_index_doc(str(tmp_path / "out" / "index.json"))
    again = read_index_doc(write_index(str(tmp_path / "out" / "train-*.tar"), str(tmp_path / "again.json")))
    assert written is not None and again is not None
    assert written["shards"] == again["shards"] == {"train-000000.tar": 2, "train-000001.tar": 1}
