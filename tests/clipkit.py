"""Clips for collate tests: every kind the worker-side writer meets, and a map-style dataset of
ready-made batches (picklable, for real worker processes)."""
import torch


def mixed_clips(seed=1):
    """Two batches: float32 contiguous (mono and stereo, short and full length), float64, a
    non-contiguous view, an empty clip."""
    g = torch.Generator().manual_seed(seed)
    return [[{"waveform": torch.randn(1, 50 - 7 * i, generator=g), "key": f"m{i}"} for i in range(4)],
            [{"waveform": torch.randn(2, 40, generator=g)}, {"waveform": torch.randn(2, 33, generator=g)},
             {"waveform": torch.randn(2, 40, generator=g, dtype=torch.float64)},
             {"waveform": torch.randn(40, 2, generator=g).T}, {"waveform": torch.zeros(2, 0)}]]


class Batches(torch.utils.data.Dataset):
    """A map-style dataset whose items are whole batches (use with ``batch_size=None``)."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]
