"""gaussian_field: standard normal, a function of the seed only (not of the thread count), and
usable in forked DataLoader workers after the parent process drew with its helper threads."""
import torch
from torch.utils.data import DataLoader, Dataset

from nnaudio_data.augment._gaussian import gaussian_field, row_seed


def _with_threads(n, fn):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def test_field_depends_on_the_seed_only():
    draws = [_with_threads(n, lambda: gaussian_field((37, 2, 501), seed=11)) for n in (1, 2, 3)]
    assert all(torch.equal(draws[0], d) for d in draws[1:])
    assert not torch.equal(draws[0], gaussian_field((37, 2, 501), seed=12))
    assert len({row_seed(5, b) for b in range(1000)}) == 1000


def test_field_is_standard_normal_and_rows_independent():
    x = gaussian_field((64, 1, 20000), seed=3)
    assert x.dtype == torch.float32 and x.shape == (64, 1, 20000)
    assert abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1.0) < 0.01
    rows = x.view(64, -1)
    corr = torch.corrcoef(rows)
    assert float((corr - torch.eye(64)).abs().max()) < 0.05
    assert gaussian_field((0, 3), seed=1).shape == (0, 3)


class _Noise(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return gaussian_field((8, 1, 300), seed=i)


def test_forked_workers_draw_after_the_parent_used_its_threads():
    gaussian_field((8, 1, 300), seed=0)  # the parent's helper threads exist before the fork
    from bounds import hang_limit

    with hang_limit("two forked workers drawing noise"):  # a deadlocked fork hangs; slow is fine
        got = list(DataLoader(_Noise(), batch_size=None, num_workers=2))
    assert all(torch.equal(g, gaussian_field((8, 1, 300), seed=i)) for i, g in enumerate(got))
