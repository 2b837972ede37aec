"""The clean exit of spawned DataLoader workers (``_worker_exit``) is installed where a worker
starts, before its first sample, on the Python versions that need it, and nowhere else."""
import os
import sys

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from nnaudio_data import _worker_exit
from nnaudio_data._collate import collate_audio

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


class Installed(Dataset):
    """Each item says whether this process had the exit handler when the item was read."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"waveform": torch.zeros(1, 8), "key": f"{i}", "label": int(_worker_exit._installed_in == os.getpid())}


@pytest.mark.skipif(not _worker_exit.NEEDED, reason="Python >= 3.14 hangs a late daemon thread; no handler")
@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_a_started_worker_has_the_handler_before_its_first_sample(context):
    loader = DataLoader(Installed(), batch_size=1, num_workers=1, collate_fn=collate_audio,
                        multiprocessing_context=context)
    assert [b.labels.item() for b in loader] == [1, 1, 1, 1]


def test_not_installed_in_the_main_process_or_by_collating():
    collate_audio([torch.zeros(4)])
    assert _worker_exit.install() is False and _worker_exit._installed_in != os.getpid()


def test_the_version_guard():
    assert _worker_exit.NEEDED == (sys.version_info < (3, 14))
