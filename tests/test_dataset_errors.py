"""Bad input in the stream: each rejection named, counted with its reason, and no valid clip lost."""

import os

import numpy as np
import pytest
import webdataset as wds
from torch.utils.data import DataLoader

import nnaudio_data as nd
from shardkit import encode, keys_of, source_clips, write_shards

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")

GOOD = [4, 3]  # clean clips per shard; the bad samples are appended to shard 0
WAV = encode(np.full(200, 0.25), 8000)


def run(urls, workers=2, **kw):
    """All keys delivered and the dataset (whose stats the main process aggregated)."""
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip", **kw)
    keys = keys_of(DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=nd.collate_audio))
    return keys, ds


BAD = {
    "decode": {"__key__": "bad", "wav": b"RIFF\x00\x00garbage" * 10},
    "empty": {"__key__": "bad", "flac": b""},
    "no_audio": {"__key__": "bad", "cls": b"1"},
    "bad_label": {"__key__": "bad", "wav": WAV, "json": b"{not json"},
    "silent": {"__key__": "bad", "wav": encode(np.zeros(300), 8000)},
    "duplicate_key": {"__key__": "k0_1", "wav": WAV},
}


@pytest.mark.parametrize("reason", sorted(BAD))
@pytest.mark.parametrize("workers", [0, 2])
def test_bad_sample_skipped_and_counted(tmp_path, reason, workers):
    urls = write_shards(str(tmp_path), GOOD, extra={0: [BAD[reason]]})
    keys, ds = run(urls, workers)
    assert sorted(keys) == sorted(source_clips(GOOD))
    assert ds.stats.skipped == {reason: 1} and ds.stats.delivered == sum(GOOD)


def test_warning_names_url_and_key(tmp_path):
    urls = write_shards(str(tmp_path), GOOD, extra={0: [BAD["decode"]]})
    ds = nd.ShardedAudioDataset(urls, sr=8000)  # on_error="warn" by default
    with pytest.warns(nd.SampleWarning) as record:
        keys = [it["key"] for it in ds]
    msgs = [str(w.message) for w in record if issubclass(w.category, nd.SampleWarning)]
    assert len(msgs) == 1 and urls[0] in msgs[0] and "key='bad'" in msgs[0] and "decode" in msgs[0]
    assert sorted(keys) == sorted(source_clips(GOOD))


def test_raise_is_fatal(tmp_path):
    urls = write_shards(str(tmp_path), GOOD, extra={0: [BAD["decode"]]})
    with pytest.raises(nd.SampleError, match="key='bad': decode"):
        list(nd.ShardedAudioDataset(urls, sr=8000, on_error="raise"))
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="raise")
    with pytest.raises(RuntimeError, match="SampleError"):  # DataLoader re-raises worker errors so
        list(DataLoader(ds, batch_size=2, num_workers=2, collate_fn=nd.collate_audio))


def test_too_short_and_min_length(tmp_path):
    urls = write_shards(str(tmp_path), GOOD, n=400)  # clips of 400..460 samples
    keys, ds = run(urls, offset=300, min_length=120)
    short = {k for k, x in source_clips(GOOD).items() if x.shape[1] - 300 < 120}
    assert 0 < len(short) < sum(GOOD)
    assert sorted(keys) == sorted(set(source_clips(GOOD)) - short)
    assert ds.stats.skipped == {"too_short": len(short)}
    for workers in (0, 2):  # nothing left after the offset: an empty epoch is an error, not 0 batches
        with pytest.raises(nd.EmptyEpochError, match=r"rank 0 delivers no clip.*2 shard.*'too_short': 7"):
            run(urls, workers=workers, offset=1000)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("equal", [False, True])
def test_empty_epoch_raises_whatever_the_policy(tmp_path, workers, equal):
    """Regression: a rank whose clips are all bad gave an epoch of zero batches with only warnings."""
    urls = write_shards(str(tmp_path), [0], extra={0: [BAD["decode"], BAD["empty"] | {"__key__": "b2"}]})
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip", equal_batches=equal, rank=0, world_size=2)
    loader = DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=nd.collate_audio)
    with pytest.raises(nd.EmptyEpochError, match=r"delivers no clip.*s-0000.tar.*'decode': 1"):
        list(loader)


def test_missing_local_shard_is_a_configuration_error(tmp_path):
    """Regression: a mistyped path gave an epoch of zero batches with only warnings."""
    urls = write_shards(str(tmp_path), GOOD)
    with pytest.raises(ValueError, match=r"urls: local shard .*nope.tar' does not exist \(1 of 3"):
        nd.ShardedAudioDataset(urls + [str(tmp_path / "nope.tar")], sr=8000)
    with pytest.raises(ValueError, match="does not exist"):
        nd.ShardedAudioDataset("file://" + str(tmp_path / "nope.tar"), sr=8000)


def test_silence_check_can_be_off(tmp_path):
    urls = write_shards(str(tmp_path), GOOD, extra={0: [BAD["silent"]]})
    keys, ds = run(urls, silence=None)
    assert "bad" in keys and ds.stats.total_skipped == 0


def test_missing_label_when_required(tmp_path):
    urls = write_shards(str(tmp_path), GOOD, extra={1: [{"__key__": "nolabel", "wav": WAV}]})
    keys, ds = run(urls, require_label=True)
    assert sorted(keys) == sorted(source_clips(GOOD)) and ds.stats.skipped == {"missing_label": 1}
    keys, ds = run(urls)
    assert "nolabel" in keys


def test_truncated_tar_keeps_earlier_clips(tmp_path):
    urls = write_shards(str(tmp_path), [6, 3])
    with open(urls[0], "r+b") as f:
        f.truncate(_member_offsets(urls[0])[9][0] + 812)  # inside the data of k0_4's wav member
    keys, ds = run(urls, workers=0)
    got0 = sorted(k for k in keys if k.startswith("k0_"))
    assert got0 == [f"k0_{i}" for i in range(4)]
    assert {k for k in keys if k.startswith("k1_")} == {"k1_0", "k1_1", "k1_2"}
    assert ds.stats.skipped == {"truncated": 2}  # k0_4, cut, and k0_5, which the index promises past the cut


@pytest.mark.parametrize("kind,reason", [("zero_bytes", "empty_shard"), ("no_members", "empty_shard"),
                                         ("garbage", "bad_tar")])
@pytest.mark.parametrize("workers", [0, 2])
def test_broken_shard(tmp_path, kind, reason, workers):
    urls = write_shards(str(tmp_path), GOOD, index=False)
    bad = str(tmp_path / "bad.tar")
    if kind == "zero_bytes":
        open(bad, "wb").close()
    elif kind == "no_members":
        wds.TarWriter(bad).close()
    elif kind == "garbage":
        with open(bad, "wb") as f:
            f.write(np.random.default_rng(0).bytes(2048))
    keys, ds = run([bad] + urls, workers)
    assert sorted(keys) == sorted(source_clips(GOOD))
    assert ds.stats.skipped == {reason: 1}  # the broken shard's worker reads a good one after it


def test_shared_shard_reports_once(tmp_path):
    """Three workers share one shard (every third sample each): one error, counted once."""
    urls = write_shards(str(tmp_path), [6], extra={0: [BAD["decode"], {"__key__": "z", "wav": WAV}]})
    keys, ds = run(urls, workers=3)
    assert sorted(keys) == sorted(list(source_clips([6])) + ["z"])
    assert ds.stats.skipped == {"decode": 1} and ds.stats.delivered == 7


def test_equal_batches_top_up_rejected_clips(tmp_path):
    """Rank 0 holds a corrupt clip: under equal batches it repeats one clip instead, so both ranks
    still deliver the same count (ranks simulated by rank=/world_size= in one process)."""
    urls = write_shards(str(tmp_path), [4, 4], extra={0: [BAD["decode"]]})  # sizes 5 and 4
    out = []
    for rank in (0, 1):
        ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip", rank=rank, world_size=2, remainder="wrap")
        keys = keys_of(DataLoader(ds, batch_size=2, num_workers=2, collate_fn=nd.collate_audio))
        out.append((len(ds), keys, ds.stats.as_dict()))
    assert out[0][0] == out[1][0] == 5 and len(out[0][1]) == len(out[1][1]) == 5
    s0, s1 = out[0][2], out[1][2]
    assert s0["skipped"] == {"decode": 1} and s0["repeated"] == 1 and s0["delivered"] == 4
    assert s1["repeated"] == 1 and s1["delivered"] == 4  # rank 1 tops 4 up to 5
    assert sorted(set(out[0][1]) | set(out[1][1])) == sorted(source_clips([4, 4]))


def test_pipe_shards_shared_by_workers(tmp_path):
    """``pipe:`` streams cannot seek: readers sharing a shard read and drop the others' bytes."""
    urls = write_shards(str(tmp_path), [7, 5])
    keys, ds = run([f"pipe:cat {u}" for u in urls], workers=3)
    assert sorted(keys) == sorted(source_clips([7, 5])) and ds.stats.total_skipped == 0


def test_counts_reach_main_from_spawned_workers(tmp_path):
    """Spawned (not forked) workers: tags and the mailbox still bring the counts home."""
    urls = write_shards(str(tmp_path), GOOD, extra={0: [BAD["decode"]]})
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip", length=300)
    keys = keys_of(DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn"))
    assert sorted(keys) == sorted(source_clips(GOOD))
    assert ds.stats.delivered == sum(GOOD) and ds.stats.skipped == {"decode": 1}
    idle = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip", offset=10**6)
    with pytest.raises(nd.EmptyEpochError, match="'too_short': 7, 'decode': 1"):
        list(DataLoader(idle, batch_size=2, num_workers=1, multiprocessing_context="spawn"))


@pytest.mark.parametrize("delta", [-4, 3])
@pytest.mark.parametrize("remainder", ["drop", "wrap"])
def test_stale_index_is_counted(tmp_path, delta, remainder):
    """Regression: an index that undercounts a shard by 4 lost clips with no warning and no count.
    Clips past the index are skipped as "stale_index", clips it promises but the shard lacks are
    counted as "stale_index_missing"; delivered + skipped + dropped covers every clip."""
    import json

    counts = [6, 10, 5]
    urls = write_shards(str(tmp_path), counts)
    idx = tmp_path / "index.json"
    doc = json.loads(idx.read_text())
    doc["shards"]["s-0001.tar"] += delta
    idx.write_text(json.dumps(doc))
    keys, tally, delivered = [], 0, 0
    for rank in (0, 1):
        ds = nd.ShardedAudioDataset(urls, sr=8000, rank=rank, world_size=2, remainder=remainder)
        loader = DataLoader(ds, batch_size=2, num_workers=2 * rank, collate_fn=nd.collate_audio)
        if rank == 0:  # warnings of worker processes stay there: look in the main process
            with pytest.warns(nd.SampleWarning, match="stale_index"):
                got = keys_of(loader)
        else:
            got = keys_of(loader)
        keys += got
        s = ds.stats
        assert s.delivered + s.repeated == len(got)
        tally += s.delivered + s.total_skipped + s.dropped
        delivered += s.delivered
        assert set(s.skipped) == {"stale_index" if delta < 0 else "stale_index_missing"}
    assert len(set(keys)) == delivered  # repeats (topping up a short rank) are counted apart
    assert set(keys) <= set(source_clips(counts))
    assert tally == sum(counts) + max(0, delta)  # every clip, plus the phantoms the index promised


def test_equal_batches_count_local_shards_without_index(tmp_path):
    """Regression: under torchrun, shards without an index.json made every worker raise "equal_batches
    needs shard sizes" at the first batch. Local shards are counted in the main process instead."""
    urls = write_shards(str(tmp_path), [5, 2, 3], index=False)
    keys = []
    for rank in (0, 1):
        ds = nd.ShardedAudioDataset(urls, sr=8000, rank=rank, world_size=2)
        assert ds.sizes == [5, 2, 3] and len(ds) == 5
        keys += keys_of(DataLoader(ds, batch_size=2, num_workers=2, collate_fn=nd.collate_audio))
    assert sorted(keys) == sorted(source_clips([5, 2, 3]))


def _member_offsets(path):
    """(header offset, end of data padded to a block) of every member of a tar file."""
    import tarfile

    with tarfile.open(path) as tar:
        return [(m.offset, m.offset_data + -(-m.size // 512) * 512) for m in tar.getmembers()]


@pytest.mark.parametrize("cut", ["no_end_blocks", "inside_next_header"])
@pytest.mark.parametrize("pipe", [False, True])
def test_truncation_loses_only_the_sample_being_read(tmp_path, cut, pipe):
    """Regression: a tar without its end-of-archive blocks, or cut inside the next member's header,
    dropped the last complete sample before the cut."""
    urls = write_shards(str(tmp_path), [5])
    members = _member_offsets(urls[0])  # two per sample: cls, wav
    end = members[-1][1] if cut == "no_end_blocks" else members[6][0] + 100  # sample 3's first header
    with open(urls[0], "r+b") as f:
        f.truncate(end)
    keys, ds = run([f"pipe:cat {urls[0]}" if pipe else urls[0]], workers=0, equal_batches=False)
    if cut == "no_end_blocks":  # read to its end, as tarfile reads it
        assert keys == [f"k0_{i}" for i in range(5)] and ds.stats.total_skipped == 0
    else:  # k0_3, cut, and (where an index promises it: not behind a pipe) k0_4, past the cut
        assert keys == ["k0_0", "k0_1", "k0_2"] and ds.stats.skipped == {"truncated": 1 if pipe else 2}


def _header(name, size, kind=b"0"):
    """A ustar header with a valid checksum; ``size`` past 8 GiB goes in base-256."""
    h = bytearray(512)
    h[:len(name)] = name.encode()
    h[100:108] = b"0000644\0"
    if size < 8 ** 11:
        h[124:136] = b"%011o\0" % size
    else:
        h[124:136] = b"\x80" + size.to_bytes(11, "big")
    h[156:157] = kind
    h[257:263] = b"ustar\0"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


@pytest.mark.parametrize("size", [2 ** 30, 2 ** 40])
@pytest.mark.parametrize("pipe", [False, True])
@pytest.mark.parametrize("name", ["evil.wav", "README"])
def test_hostile_member_size_is_bounded(tmp_path, size, pipe, name):
    """Regression: a tar header with a valid checksum and a huge size field called read(size)
    unchecked (MemoryError). Sizes past the file's end or past MAX_MEMBER are refused before any
    read; on a pipe, reading stops at the bytes present. A member of no sample ("README", no
    extension) breaks between samples: the whole sample before it is kept (it was lost)."""
    urls = write_shards(str(tmp_path), [3], index=False)  # (an index would reject a 4th sample unread)
    with open(urls[0], "r+b") as f:  # replace the end-of-archive blocks by a hostile member
        f.truncate(_member_offsets(urls[0])[-1][1])
        f.seek(0, 2)
        f.write(_header(name, size) + b"RIFF" + bytes(4000))
    keys, ds = run([f"pipe:cat {urls[0]}" if pipe else urls[0]], workers=0, equal_batches=False)
    assert keys == ["k0_0", "k0_1", "k0_2"]
    assert ds.stats.skipped == ({"bad_tar": 1} if size > 2 ** 31 else {"truncated": 1})


def _first_header(path, key):
    """Offset of the first header of sample ``key``: webdataset (through ``tarfile``) writes a pax
    extended header before every member, and ``TarInfo.offset`` is where that header starts."""
    import tarfile

    with tarfile.open(path) as tar:
        return min(m.offset for m in tar.getmembers() if m.name.split(".", 1)[0] == key)


@pytest.mark.parametrize("before", ["clip", "no_audio"])
@pytest.mark.parametrize("size", ["past_end", "past_1MiB"])
@pytest.mark.parametrize("index", [True, False])
def test_hostile_extended_header_size(tmp_path, before, size, index):
    """Regression: a valid pax header (before sample 2's first member) with a size past the end of
    the file. With an index and without equal batches, after a sample without audio, one sample
    was counted nowhere: the break lost sample 1 ("a break right after a sample without audio
    loses that sample") and the shard was not held to the 3 samples its index promised. A size
    past 1 MiB was an error of the sample read before it: a whole clip was lost. A header is
    between members: what came before it is whole (or, without audio, the sample being read), and
    every sample the plan holds is delivered or counted once."""
    second = {"__key__": "k0_1", "wav": WAV} if before == "clip" else {"__key__": "k0_1", "cls": b"1"}
    urls = write_shards(str(tmp_path), [1], extra={0: [second, {"__key__": "k0_2", "wav": WAV}]}, index=index)
    at = _first_header(urls[0], "k0_2")
    with open(urls[0], "r+b") as f:
        f.seek(at)
        head = bytearray(f.read(512))
        assert head[156:157] == b"x"  # the pax header
        head[124:136] = b"%011o\0" % (os.path.getsize(urls[0]) * 2 if size == "past_end" else 2 ** 30)
        head[148:156] = b" " * 8
        head[148:156] = b"%06o\0 " % sum(head)
        f.seek(at)
        f.write(head)
    keys, ds = run(urls, workers=0, equal_batches=False)
    reason = "truncated" if size == "past_end" else "bad_tar"
    assert keys == (["k0_0", "k0_1"] if before == "clip" else ["k0_0"])
    s = ds.stats
    met = 3 if before == "clip" else 2  # without audio, sample 1 is the one the break loses
    assert s.delivered + s.total_skipped == (3 if index else met)
    assert s.skipped[reason] >= 1 and set(s.skipped) <= {reason, "truncated"}


def test_gzip_compressed_tar(tmp_path):
    """.tar.gz / .tgz shards are decompressed; a gzip stream under a .tar name is refused with a
    reason that says so (it was reported as truncated)."""
    import gzip
    import shutil

    urls = write_shards(str(tmp_path), [4], index=False)
    for name in ("a.tar.gz", "a.tgz", "gz-in-disguise.tar"):
        with open(urls[0], "rb") as src, gzip.open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    for name in ("a.tar.gz", "a.tgz"):
        keys, ds = run([str(tmp_path / name)], equal_batches=False)
        assert sorted(keys) == sorted(source_clips([4])) and ds.stats.total_skipped == 0
    assert nd.data.count_shards([str(tmp_path / "a.tgz")]) == {"a.tgz": 4}
    ds = nd.ShardedAudioDataset(str(tmp_path / "gz-in-disguise.tar"), sr=8000)
    with pytest.warns(nd.SampleWarning, match="gzip-compressed tar"), pytest.raises(nd.EmptyEpochError):
        list(ds)


def test_pipe_exit_status_at_close_is_a_counted_skip(tmp_path):
    """Regression: a ``pipe:`` command that had exited non-zero by the time the reader closed it
    (after the end-of-archive blocks) raised SampleError outside the policy, ending the epoch."""
    urls = write_shards(str(tmp_path), [3, 2])
    keys, ds = run([f"pipe:cat {urls[0]}; exit 3", urls[1]], workers=0)
    assert sorted(keys) == sorted(source_clips([3, 2])) and ds.stats.skipped == {"pipe": 1}
