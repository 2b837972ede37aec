"""The shuffle buffer yields early (after ``initial`` items, not ``size``), stays bounded, and keeps
its order a function of the source and the seed alone."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nnaudio_data.data import shuffle_buffer


class Counted:
    """An iterable that records how many items were read when each item came out."""

    def __init__(self, n):
        self.n, self.read = n, 0

    def __iter__(self):
        for i in range(self.n):
            self.read += 1
            yield i


def _run(n, size, initial, seed):
    src = Counted(n)
    out, read_at = [], []
    kw = {} if initial is None else {"initial": initial}
    for item in shuffle_buffer(src, size, torch.Generator().manual_seed(seed), **kw):
        out.append(item)
        read_at.append(src.read)
    return out, read_at


def test_first_item_after_initial_not_size():
    out, read_at = _run(2000, 500, 10, 0)
    assert read_at[0] <= 11  # the old buffer read all 500 (and one more) before its first item
    assert sorted(out) == list(range(2000))


def test_default_initial_is_webdatasets():
    out, read_at = _run(2000, 500, None, 0)  # what ShardedAudioDataset(shuffle=500) runs
    assert (out, read_at) == _run(2000, 500, 100, 0) and read_at[0] <= 101


@given(n=st.integers(0, 60), size=st.integers(0, 12), initial=st.integers(1, 15), seed=st.integers(0, 5))
def test_permutation_bounded_and_seeded(n, size, initial, seed):
    out, read_at = _run(n, size, initial, seed)
    again, _ = _run(n, size, initial, seed)
    assert sorted(out) == list(range(n)) and out == again
    for k, read in enumerate(read_at):  # never more than `size` items held, never more than
        assert read - k <= max(size, 1)  # `initial` read before the first is yielded
        assert k > 0 or read <= max(min(initial, size) + 1, 1) or size <= 1


def test_initial_is_checked():
    with pytest.raises(ValueError, match="initial must be an int >= 1, got 0"):
        list(shuffle_buffer(range(3), 2, torch.Generator(), initial=0))
