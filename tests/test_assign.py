"""Invariants of the split, the reordering stages and trim/pad, checked with hypothesis."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.data import bucket_by_length, shuffle_buffer, trim_pad
from nnaudio_data._seed import derive_seed
from nnaudio_data.data._assign import Slice, assign, epoch_order, equal_targets, interleave, plan

sizes_st = st.lists(st.integers(0, 12), min_size=1, max_size=9)


def samples_of(slices, sizes):
    return [(s.shard, i) for s in slices for i in range(sizes[s.shard]) if i % s.step == s.start]


@settings(max_examples=200, deadline=None)
@given(sizes=sizes_st, world=st.integers(1, 4), workers=st.integers(1, 4), known=st.booleans(),
       mix=st.booleans(), seed=st.integers(0, 3))
def test_plan_delivers_every_sample_once(sizes, world, workers, known, mix, seed):
    order = epoch_order(len(sizes), seed, 0, shuffle=True)
    slots = plan(len(sizes), order, world, workers, sizes if known or mix else None, mix=mix)
    assert set(slots) == {(r, w) for r in range(world) for w in range(workers)}
    got = [x for part in slots.values() for x in samples_of(part, sizes)]
    assert sorted(got) == [(s, i) for s, n in enumerate(sizes) for i in range(n)]


@settings(max_examples=100, deadline=None)
@given(sizes=sizes_st, world=st.integers(1, 4))
def test_rank_share_independent_of_workers(sizes, world):
    order = list(range(len(sizes)))
    shares = [{r: sorted(x for w in range(workers) for x in samples_of(plan(len(sizes), order, world, workers,
                                                                              sizes)[(r, w)], sizes))
               for r in range(world)} for workers in (1, 2, 3)]
    assert shares[0] == shares[1] == shares[2]


@given(sizes=sizes_st, workers=st.integers(1, 5))
def test_interleave_counts_depend_only_on_total(sizes, workers):
    parts = interleave([Slice(i) for i in range(len(sizes))], workers, sizes)
    total = sum(sizes)
    assert [len(samples_of(p, sizes)) for p in parts] == [len(range(w, total, workers)) for w in range(workers)]


def test_assign_balances_by_size():
    parts = assign([Slice(i) for i in range(4)], 2, sizes=[9, 1, 1, 9])
    assert sorted(sum(s.size([9, 1, 1, 9]) for s in p) for p in parts) == [10, 10]


@given(totals=st.lists(st.integers(0, 50), min_size=1, max_size=4), workers=st.integers(1, 4))
def test_equal_targets(totals, workers):
    for policy, pick in (("drop", min), ("wrap", max)):
        total, per_worker = equal_targets(totals, workers, policy)
        assert total == pick(totals) and sum(per_worker) == total and len(per_worker) == workers
        assert max(per_worker) - min(per_worker) <= 1


def test_seeds_and_orders_are_stable():
    assert derive_seed(1, 2, 3, 0, "shuffle") == derive_seed(1, 2, 3, 0, "shuffle")
    assert len({derive_seed(0, e, r, w, "shuffle") for e in range(4) for r in range(4) for w in range(4)}) == 64
    assert epoch_order(10, 0, 1, True) == epoch_order(10, 0, 1, True) != epoch_order(10, 0, 2, True)
    assert epoch_order(5, 0, 3, False) == list(range(5))


@given(n=st.integers(0, 40), size=st.integers(0, 10), seed=st.integers(0, 5))
def test_shuffle_buffer_is_a_permutation(n, size, seed):
    out = list(shuffle_buffer(range(n), size, torch.Generator().manual_seed(seed)))
    again = list(shuffle_buffer(range(n), size, torch.Generator().manual_seed(seed)))
    assert sorted(out) == list(range(n)) and out == again


@given(lengths=st.lists(st.integers(1, 50), max_size=30), window=st.integers(1, 12),
       batch=st.integers(1, 4))
def test_bucket_is_a_permutation_sorted_per_window(lengths, window, batch):
    items = [{"length": n, "id": i} for i, n in enumerate(lengths)]
    out = list(bucket_by_length(items, window))
    assert sorted(x["id"] for x in out) == list(range(len(items)))
    for k in range(0, len(out), window):
        chunk = [x["length"] for x in out[k:k + window]]
        assert chunk == sorted(chunk)
    mixed = list(bucket_by_length(items, window, generator=torch.Generator().manual_seed(0), batch_size=batch))
    assert sorted(x["id"] for x in mixed) == list(range(len(items)))


@settings(max_examples=200, deadline=None)
@given(total=st.integers(0, 60), channels=st.integers(1, 2), offset=st.integers(0, 70),
       length=st.one_of(st.none(), st.integers(1, 50)), crop=st.sampled_from(["start", "center", "random"]),
       seed=st.integers(0, 9))
def test_trim_pad_invariants(total, channels, offset, length, crop, seed):
    x = (np.arange(channels * total, dtype=np.float32).reshape(channels, total) + 1)  # no zeros
    y, valid = trim_pad(x, offset, length, crop, torch.Generator().manual_seed(seed))
    after = max(0, total - offset)
    assert y.shape == (channels, after if length is None else length)
    assert valid == (after if length is None else min(length, after))
    if valid:
        start = int(y[0, 0] - 1)  # the first kept sample's index in the source
        assert offset <= start <= total - valid
        if crop == "start" or length is None or after <= length:
            assert start == offset
        np.testing.assert_array_equal(y[:, :valid], x[:, start:start + valid])
    assert not y[:, valid:].any()


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(0, 120), min_size=1, max_size=20), world=st.integers(2, 4),
       seed=st.integers(0, 3))
def test_ranks_balanced_by_sample_counts(sizes, world, seed):
    """With sizes known, rank totals differ by at most max(1, total // (20 * world)), even with
    fewer shards than ranks or very uneven shards, and the split is still exact."""
    order = epoch_order(len(sizes), seed, 0, shuffle=True)
    slots = plan(len(sizes), order, world, 1, sizes)
    totals = [len(samples_of(slots[(r, 0)], sizes)) for r in range(world)]
    assert max(totals) - min(totals) <= max(1, sum(sizes) // (20 * world))
    assert sorted(x for r in range(world) for x in samples_of(slots[(r, 0)], sizes)) == \
        [(s, i) for s, n in enumerate(sizes) for i in range(n)]


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
@pytest.mark.parametrize("remainder", ["drop", "wrap"])
def test_fewer_shards_than_ranks_uneven(tmp_path, remainder):
    """Regression: 3 ranks over shards of 1 and 100 clips delivered 0 clips each under "drop",
    and one rank raised "no valid clip to repeat" under "wrap"."""
    import nnaudio_data as nd
    from shardkit import source_clips, write_shards

    urls = write_shards(str(tmp_path), [1, 100])
    seen, counts = [], []
    for rank in range(3):
        ds = nd.ShardedAudioDataset(urls, sr=8000, rank=rank, world_size=3, remainder=remainder)
        keys = [it["key"] for it in ds]
        counts.append(len(keys))
        seen += keys
        assert ds.stats.delivered + ds.stats.dropped + ds.stats.repeated >= 33
    assert counts == [33] * 3 if remainder == "drop" else counts == [34] * 3
    assert set(seen) <= set(source_clips([1, 100])) and len(set(seen)) == (99 if remainder == "drop" else 101)
