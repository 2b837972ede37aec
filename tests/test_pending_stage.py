"""A batch's pending device stage travels from a DataLoader worker as its collate's token, not as
its kernel: measured in bytes, as the worker's queue pickles it (``ForkingPickler``), with real
worker processes; the main process finishes the batch with its one live collate."""
import pickle
from multiprocessing.reduction import ForkingPickler

import pytest
import torch
from torch.utils.data import DataLoader

from nnaudio_data._collate import DeviceStage, GPUSpectrogramCollate

# Bounds (bytes), each explained.
STAGE_BYTES = 1024  # a token (two ints), the part's name and a reference to the unpickling
#                     function: about 150 bytes; 1 KiB leaves room for longer module paths, while a
#                     kernel is at least 100 KiB (the default Mel's is about 0.5 MB, a conv1d STFT's 17 MB)
SR, T = 16000, 4000

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


class Measured:
    """A collate_fn that runs ``collate`` in the worker and records, on the batch, the size of its
    pending stage as the worker's queue pickles it."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, samples):
        batch = self.collate(samples)
        batch.stage_bytes = len(ForkingPickler.dumps(batch.stage))
        return batch


def _clips(n):
    g = torch.Generator().manual_seed(0)
    return [{"waveform": torch.randn(1, T, generator=g), "key": f"k{i}", "sr": SR} for i in range(n)]


KERNELS = {
    "mel (default)": dict(kind="mel"),
    "mel, conv1d": dict(kind="mel", backend="conv1d"),
    "trainable stft": dict(kind="stft", trainable=True, n_fft=512),
}


@pytest.mark.parametrize("name, context", [(name, "fork") for name in KERNELS]
                         + [("trainable stft", "spawn")])
def test_a_batch_from_a_worker_carries_a_token_and_runs_the_live_collate(name, context):
    args = dict(KERNELS[name])
    collate = GPUSpectrogramCollate(args.pop("kind"), device="cpu", where="main", sr=SR, **args)
    kernel_bytes = len(pickle.dumps(collate))
    loader = DataLoader(_clips(8), batch_size=2, num_workers=2, collate_fn=Measured(collate),
                        multiprocessing_context=context)
    sizes = []
    for batch in loader:
        assert batch.pending and isinstance(batch.stage, DeviceStage)
        sizes.append(batch.stage_bytes)
        assert batch.stage.collate is collate  # resolved to the live object, not a copy
        want = collate.module_on(torch.device("cpu"))(batch.waveform[:, 0])
        torch.testing.assert_close(batch.spec, want)
    assert len(sizes) == 4
    assert max(sizes) <= STAGE_BYTES < kernel_bytes, (sizes, kernel_bytes)


def test_a_stage_unpickled_where_its_collate_does_not_live_says_so():
    collate = GPUSpectrogramCollate("stft", device="cpu", where="main", n_fft=64)
    stage = pickle.loads(pickle.dumps(DeviceStage(collate)))
    assert stage.collate is collate
    stage.token = stage.token._replace(pid=stage.token.pid + 1)  # another process's
    stage._collate = None
    with pytest.raises(RuntimeError, match="does not live in this process.*batch.finish"):
        stage.collate
