"""DeviceLoader logic, on CPU: order, look-ahead depth, pending stages finished before hand-over."""
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from nnaudio_data import AudioBatch, DeviceLoader, GPUSpectrogramCollate


class Counting:
    """An iterable of batches that records how many were pulled."""

    def __init__(self, n):
        self.n, self.pulled = n, 0

    def __iter__(self):
        for i in range(self.n):
            self.pulled += 1
            yield {"x": torch.full((2,), float(i))}

    def __len__(self):
        return self.n


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_order_and_lookahead(prefetch):
    src = Counting(6)
    out = []
    for i, b in enumerate(DeviceLoader(src, device="cpu", prefetch=prefetch)):
        # when batch i is handed over, the loader has pulled i + 1 + prefetch (capped at n)
        assert src.pulled == min(6, i + 1 + prefetch)
        out.append(int(b["x"][0]))
    assert out == list(range(6))
    assert len(DeviceLoader(src, device="cpu")) == 6


def test_pending_batches_are_finished_before_handover():
    stage_calls = []

    def stage(batch):
        stage_calls.append(batch.keys[0])
        batch.spec = batch.waveform.sum(-1)
        return batch

    batches = [AudioBatch(torch.ones(1, 1, 4) * i, torch.tensor([4]), [f"b{i}"], None, stage=stage)
               for i in range(3)]
    for i, b in enumerate(DeviceLoader(batches, device="cpu", prefetch=1)):
        assert not b.pending
        assert stage_calls == [f"b{j}" for j in range(min(3, i + 2))]
        assert b.spec.item() == 4 * i


def test_device_defaults_to_the_collate_device_and_delegates_attributes():
    collate = GPUSpectrogramCollate(nn.Identity(), device="cpu", where="main")
    loader = DataLoader([torch.ones(8)] * 4, batch_size=2, num_workers=1, collate_fn=collate)
    dl = DeviceLoader(loader)
    assert dl.device == torch.device("cpu") and dl.batch_size == 2
    got = list(dl)
    assert len(got) == 2 and all(not b.pending and b.spec.shape == (2, 8) for b in got)
    with pytest.raises(ValueError, match="prefetch must be an int >= 0"):
        DeviceLoader(loader, prefetch=-1)


@pytest.mark.cuda
def test_side_stream_results_are_correct_under_overlap():
    collate = GPUSpectrogramCollate(nn.Identity(), device="cuda", where="main")
    data = [torch.randn(4096) for _ in range(32)]
    loader = DataLoader(data, batch_size=4, num_workers=2, pin_memory=True, collate_fn=collate)
    for i, b in enumerate(DeviceLoader(loader, prefetch=2)):
        y = (b.spec * 2).sum()  # work on the current stream reading side-stream results
        ref = torch.stack(data[4 * i: 4 * i + 4]).sum() * 2
        torch.testing.assert_close(y.cpu(), ref, rtol=1e-4, atol=1e-3)
