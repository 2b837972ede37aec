"""``nd.wrap(..., labels="auto" | [names])`` maps string labels to int64 class ids, as
ShardedAudioDataset does with ``ds.classes``: over a torchaudio-style dataset (SPEECHCOMMANDS'
layout and ``get_metadata``, WAV files on disk), a real Hugging Face dataset and plain lists;
the class names are found without decoding audio, unknown names are counted skips."""
import os

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd

WORDS = ["yes", "no", "up", "down"]
SR = 8000


class SpeechCommandsLike(torch.utils.data.Dataset):
    """torchaudio's SPEECHCOMMANDS interface over ``root/<word>/<speaker>_nohash_<n>.wav``:
    ``[i]`` -> (waveform (1, T), sr, label, speaker, n), ``get_metadata(i)`` the same without
    decoding (the relative path in place of the waveform). Counts its decodes."""

    def __init__(self, root):
        self.root = root
        self.files = sorted(os.path.join(w, f) for w in os.listdir(root) for f in os.listdir(os.path.join(root, w)))
        self.decodes = 0

    def __len__(self):
        return len(self.files)

    def get_metadata(self, i):
        rel = self.files[i]
        speaker, _, n = os.path.basename(rel)[:-4].split("_")
        return rel, SR, os.path.dirname(rel), speaker, int(n)

    def __getitem__(self, i):
        self.decodes += 1
        rel, sr, label, speaker, n = self.get_metadata(i)
        x, sr = sf.read(os.path.join(self.root, rel), dtype="float32")
        return torch.from_numpy(x)[None], sr, label, speaker, n


def _speech_commands(root, per_word=3):
    rng = np.random.default_rng(0)
    for w in WORDS:
        os.makedirs(os.path.join(root, w))
        for n in range(per_word):
            sf.write(os.path.join(root, w, f"spk{n}_nohash_{n}.wav"), rng.standard_normal(400) * 0.1, SR)
    return SpeechCommandsLike(str(root))


def test_torchaudio_style_auto_labels_through_workers(tmp_path):
    source = _speech_commands(tmp_path)
    ds = nd.wrap(source, sr=SR, length=400, labels="auto")
    assert source.decodes == 0  # the names came from get_metadata
    assert ds.classes == sorted(WORDS)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=nd.collate_audio)
    seen = 0
    for batch in loader:
        assert batch.labels.dtype == torch.int64
        for label, key in zip(batch.labels.tolist(), batch.keys):
            assert ds.classes[label] == source.get_metadata(int(key))[2]
            seen += 1
    assert seen == len(source)


def test_class_list_and_unknown_names(tmp_path):
    source = _speech_commands(tmp_path, per_word=1)
    ds = nd.wrap(source, sr=SR, labels=["down", "up", "yes"], on_error="skip")
    out = [ds[i] for i in range(len(source))]
    assert [o and o["label"] for o in out] == [0, None, 1, 2]  # files sorted: down, no, up, yes
    assert ds.policy.stats.skipped["unknown_label"] == 1
    with pytest.raises(nd.SampleError, match="'no' is not one of the 3 classes"):
        nd.wrap(source, sr=SR, labels=["down", "up", "yes"], on_error="raise")[1]


def test_hugging_face_string_column(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [{"audio": {"array": np.zeros(400, np.float32), "sampling_rate": SR}, "label": w}
            for w in WORDS * 2]
    ds = nd.wrap(datasets.Dataset.from_list(rows), sr=SR, labels="auto")
    assert ds.classes == sorted(WORDS)
    batch = nd.collate_audio([ds[i] for i in range(len(rows))])
    assert [ds.classes[i] for i in batch.labels.tolist()] == WORDS * 2


def test_raw_is_the_default_and_int_ids_stay():
    items = [(torch.zeros(100), SR, w) for w in WORDS]
    assert [nd.wrap(items, sr=SR)[i]["label"] for i in range(4)] == WORDS
    ints = nd.wrap([(torch.zeros(100), SR, i) for i in (2, 0, 1)], sr=SR, labels="auto")
    assert ints.classes is None and [ints[i]["label"] for i in range(3)] == [2, 0, 1]


def test_auto_on_a_stream_asks_for_the_names():
    stream = (item for item in [(torch.zeros(100), SR, "yes")])  # a generator: read once
    with pytest.raises(ValueError, match="labels='auto' needs the labels without decoding"):
        nd.wrap(stream, sr=SR, labels="auto")
    with pytest.raises(ValueError, match="labels must be one of"):
        nd.wrap([], sr=SR, labels="names")


@settings(max_examples=30, deadline=None)
@given(names=st.lists(st.sampled_from(["a", "b", "cat", "dog", "z z", "7x"]), min_size=1, max_size=12))
def test_auto_ids_name_the_label(names):
    ds = nd.wrap([(torch.zeros(50), SR, n) for n in names], sr=SR, labels="auto")
    assert ds.classes == sorted(set(names))
    assert [ds.classes[ds[i]["label"]] for i in range(len(names))] == names
