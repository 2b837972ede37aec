"""Batches by duration and endless passes (docs/data.md), on real shards written by the shard
writer, read through real DataLoader workers. The invariants over random worlds are
tests/test_invariants.py's (it draws budgets and endless passes); these are the named cases.

Tolerances: none. Every figure compared here is a count or a set.
"""
import json
import os
import re
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.data import write_shards
from nnaudio_data.data._index import parse_index

pytestmark = pytest.mark.filterwarnings("ignore::nnaudio_data.data.SampleWarning")

SR = 8000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """47 clips of 0.1-1 s in shards of at most 6, packed by ``nnaudio-data shard``'s writer."""
    d = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    (d / "src").mkdir()
    frames = {}
    for i in range(47):
        n = int(rng.integers(800, 8000))
        frames[f"c{i:03d}"] = n
        sf.write(d / "src" / f"c{i:03d}.wav", 0.1 + 0.01 * np.sin(np.arange(n)), SR)
    write_shards(d / "src", d / "out", max_count=6, progress=False)
    urls = sorted(str(d / "out" / n) for n in os.listdir(d / "out") if n.endswith(".tar"))
    return urls, frames


def _loader(ds, workers=0):
    return DataLoader(ds, batch_size=None, num_workers=workers, collate_fn=nd.collate_audio,
                      timeout=120 if workers else 0)


def _clips(batches):
    return [(t.url, t.index) for b in batches for t in b.info if not t.repeat]


def test_the_shard_writer_records_each_clip_length(corpus):
    urls, frames = corpus
    doc = json.load(open(os.path.join(os.path.dirname(urls[0]), "index.json")))
    assert sorted(doc["lengths"]) == sorted(doc["shards"])
    assert all(len(doc["lengths"][k]) == n for k, n in doc["shards"].items())
    got = sorted(f for rows in doc["lengths"].values() for f, r in rows)
    assert got == sorted(frames.values()) and {r for rows in doc["lengths"].values() for _, r in rows} == {SR}


@pytest.mark.parametrize("lengths, rule", [
    ({"a.tar": [[800, 8000]]}, "one \\[frames, rate\\] per clip"),  # count 2, one entry
    ({"a.tar": [[800, 8000], [-1, 8000]]}, "0 <= frames"),
    ({"a.tar": [[800, 8000], [800, 1 << 40]]}, "rate <="),
    ({"a.tar": [[800, 8000], [2 ** 41, 8000]]}, "frames <="),
    ({"a.tar": [[800, 8000], [800.5, 8000]]}, "clip 1 of shard 'a.tar'"),
    ({"b.tar": []}, "no count in shards"),
    ([1, 2], "must map shard names"),
])
def test_hostile_lengths_in_an_index_are_refused_by_name(lengths, rule):
    text = json.dumps({"format": "nnaudio_data.index/1", "shards": {"a.tar": 2}, "lengths": lengths})
    with pytest.raises(ValueError, match=rule):
        parse_index(text, "idx.json")


def test_an_index_without_lengths_still_loads_and_duration_batches_say_how_to_rebuild(tmp_path, corpus):
    urls, _ = corpus
    old = tmp_path / "old.json"
    doc = json.load(open(os.path.join(os.path.dirname(urls[0]), "index.json")))
    old.write_text(json.dumps({"format": doc["format"], "shards": doc["shards"]}))
    ds = nd.ShardedAudioDataset(urls, sr=SR, index=str(old))
    assert len(ds) == 47
    with pytest.raises(ValueError, match="'lengths' field.*old.json.*nnaudio-data shard SRC OUT"):
        nd.ShardedAudioDataset(urls, sr=SR, index=str(old), max_duration=1.0)


@pytest.mark.parametrize("kw, rule", [
    (dict(max_samples=0), "max_samples must be None or an int >= 1"),
    (dict(max_samples=100, max_duration=1.0), "give one"),
    (dict(max_duration=1e-5), "max_duration must be seconds holding at least one sample"),
    (dict(max_samples=8000, shuffle=100), "shuffle must be a bool with max_samples"),
    (dict(endless=1), "endless must be a bool"),
])
def test_bad_batching_arguments_are_named(corpus, kw, rule):
    with pytest.raises(ValueError, match=rule):
        nd.ShardedAudioDataset(corpus[0], sr=SR, **kw)


def test_a_count_batch_size_with_duration_batches_is_refused(corpus):
    ds = nd.ShardedAudioDataset(corpus[0], sr=SR, max_samples=16000)
    loader = DataLoader(ds, batch_size=4, collate_fn=nd.collate_audio)
    with pytest.raises(ValueError, match="batch_size must be None"):
        next(iter(ds.track(loader)))


@pytest.mark.parametrize("world, workers, remainder", [(1, 2, "drop"), (3, 0, "drop"), (3, 2, "wrap")])
def test_duration_batches_keep_the_budget_and_every_rank_yields_the_same_count(corpus, world, workers, remainder):
    urls, _ = corpus
    budget, counts, seen, lens, totals = 2 * SR, [], Counter(), [], Counter()
    for r in range(world):
        ds = nd.ShardedAudioDataset(urls, sr=SR, max_samples=budget, bucket=12, shuffle=True, rank=r,
                                    world_size=world, remainder=remainder)
        batches = list(ds.track(_loader(ds, workers)))
        for b in batches:
            assert b.waveform.shape[0] * b.waveform.shape[-1] <= budget or b.waveform.shape[0] == 1
        counts.append(len(batches))
        lens.append(len(ds))
        seen.update(_clips(batches))
        s = ds.stats
        totals.update(delivered=s.delivered, dropped=s.dropped)
    assert len(set(counts)) == 1 and counts == lens  # equal batches, len(ds) exact
    assert max(seen.values()) == 1 and totals["delivered"] + totals["dropped"] == 47


def test_bucketing_cuts_padding(corpus):
    urls, _ = corpus

    def padding(bucket):
        ds = nd.ShardedAudioDataset(urls, sr=SR, max_samples=3 * SR, bucket=bucket)
        pad = real = 0
        for b in ds.track(_loader(ds)):
            pad += b.waveform.numel() - int(b.lengths.sum())
            real += int(b.lengths.sum())
        return pad / (pad + real)
    assert padding(47) < padding(None)  # one window over the corpus, sorted, against stream order


@pytest.mark.parametrize("workers, after", [(2, 1), (0, 2)])
def test_duration_batches_resume_exactly_with_another_worker_count(corpus, workers, after):
    urls, _ = corpus
    make = lambda: nd.ShardedAudioDataset(urls, sr=SR, max_samples=2 * SR, bucket=12, shuffle=True, rank=1,
                                          world_size=2)
    ds = make()
    full = _clips(ds.track(_loader(make())))
    it = iter(ds.track(_loader(ds, workers)))
    first = [next(it) for _ in range(3)]
    del it
    state = json.loads(json.dumps(ds.state_dict()))
    ds = make()
    ds.load_state_dict(state)
    left = len(ds)
    rest = list(ds.track(_loader(ds, after)))
    assert len(rest) == left and len(first) + len(rest) == len(make())
    assert sorted(_clips(first) + _clips(rest)) == sorted(full)


def test_an_endless_pass_walks_epoch_after_epoch_and_resumes_across_the_boundary(corpus):
    urls, _ = corpus
    make = lambda: nd.ShardedAudioDataset(urls, sr=SR, shuffle=True, endless=True, seed=3)
    ds = make()
    with pytest.raises(TypeError, match="endless"):
        len(ds)
    loader = lambda d, n: DataLoader(d, batch_size=5, num_workers=n, collate_fn=nd.collate_audio, timeout=120)
    it = iter(ds.track(loader(ds, 2)))
    tags = [t for _ in range(14) for t in next(it).info]  # 70 clips: into epoch 1
    del it
    state = json.loads(json.dumps(ds.state_dict()))
    ds = make()
    ds.load_state_dict(state)
    it = iter(ds.track(loader(ds, 1)))
    tags += [t for _ in range(16) for t in next(it).info]  # 150 clips: into epoch 3
    del it
    per = Counter(t.epoch for t in tags)
    assert per[0] == per[1] == per[2] == 47 and sum(per.values()) == 150
    for e in (0, 1, 2):
        assert len({(t.url, t.index) for t in tags if t.epoch == e}) == 47  # each clip once per epoch


def test_an_endless_pass_hands_batches_out_in_plan_order_across_epochs(corpus):
    """Workers whose batch counts differ within an epoch stay in step across epochs: the deal goes
    on from the previous epoch's, so epochs never interleave (three batches an epoch here: 20,
    20 and 7 clips, over two workers)."""
    ds = nd.ShardedAudioDataset(corpus[0], sr=SR, max_samples=20 * SR, bucket=20, shuffle=True, endless=True)
    epochs = [b.info[0].epoch for _, b in zip(range(10), ds.track(_loader(ds, 2)))]
    assert epochs == sorted(epochs) and epochs[-1] >= 2, epochs


def _snippet(heading):
    text = open(os.path.join(ROOT, "docs", "data.md")).read()
    block = re.search(re.escape(heading) + r"\n\n```python\n(.*?)```", text, re.S)
    assert block, f"docs/data.md lost the snippet under {heading!r}"
    return block.group(1)


def test_the_docs_snippets_run(corpus):
    urls, _ = corpus
    code = _snippet("## Batches by duration") + _snippet("## Endless passes for step-based training")
    assert "range(100_000)" in code
    code = code.replace("range(100_000)", "range(30)").replace("bucket=2000", "bucket=20")
    env = {"nd": nd, "DataLoader": DataLoader, "URLS": urls}
    exec(compile(code.replace("    ...", "    steps_taken = step"), "docs/data.md", "exec"), env)
    assert env["steps_taken"] == 29
