"""The clean exit of spawned DataLoader workers (``_exit``) is installed where a worker
starts, before its first sample, on the Python versions that need it, and nowhere else; the one
exit wait it and the gather rely on waits for a late thread at a real exit, and gives up at its
bound."""
import os
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from nnaudio_data import _exit
from nnaudio_data._collate import collate_audio

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


class Installed(Dataset):
    """Each item says whether this process had the exit handler when the item was read."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"waveform": torch.zeros(1, 8), "key": f"{i}", "label": int(_exit._installed_in == os.getpid())}


@pytest.mark.skipif(not _exit.NEEDED, reason="Python >= 3.14 hangs a late daemon thread; no handler")
@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_a_started_worker_has_the_handler_before_its_first_sample(context):
    loader = DataLoader(Installed(), batch_size=1, num_workers=1, collate_fn=collate_audio,
                        multiprocessing_context=context)
    assert [b.labels.item() for b in loader] == [1, 1, 1, 1]


def test_not_installed_in_the_main_process_or_by_collating():
    collate_audio([torch.zeros(4)])
    assert _exit.install() is False and _exit._installed_in != os.getpid()


def test_the_version_guard():
    assert _exit.NEEDED == (sys.version_info < (3, 14))


LATE = r"""
import sys, threading, time
from nnaudio_data._exit import wait_at_exit
done = threading.Event()
def late():
    time.sleep(0.5)
    print("late thread done", flush=True)
    done.set()
threading.Thread(target=late, daemon=True).start()
wait_at_exit(done.is_set, 120.0)
wait_at_exit(lambda: False, float(sys.argv[1]))  # never true: given up after its bound
"""


def test_the_exit_waits_for_a_late_thread_and_gives_up_at_a_bound():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", LATE, "0.1"], env=dict(os.environ, PYTHONPATH=root),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "late thread done" in out.stdout  # a daemon thread is otherwise cut off at exit
