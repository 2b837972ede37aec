"""``nd.worker_context()``: DataLoader workers forked from a forkserver whose server preloaded torch
and the package, so a worker starts with them imported; checked in a fresh interpreter (the
forkserver is one per process), against plain forkserver and spawn."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = '''
import json, sys
import torch
from torch.utils.data import DataLoader
import nnaudio_data as nd


class Probe(torch.utils.data.Dataset):
    """Reports which package modules a worker had imported before it read an item."""
    def __len__(self):
        return 1

    def __getitem__(self, i):
        return [m for m in ("nnaudio_data.features", "nnaudio_data.data", "nnaudio_data.augment") if m in sys.modules]


if __name__ == "__main__":
    ctx = {"worker_context": lambda: nd.worker_context(), "forkserver": lambda: "forkserver",
           "spawn": lambda: "spawn"}[sys.argv[1]]()
    loader = DataLoader(Probe(), batch_size=None, num_workers=1, multiprocessing_context=ctx)
    print(json.dumps(next(iter(loader))))
'''


@pytest.mark.parametrize("how,preloaded", [("worker_context", True), ("forkserver", False), ("spawn", False)])
def test_workers_start_with_the_package_imported(tmp_path, how, preloaded):
    (tmp_path / "probe.py").write_text(PROBE)
    out = subprocess.run([sys.executable, "probe.py", how], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ROOT}, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert (found == ["nnaudio_data.features", "nnaudio_data.data", "nnaudio_data.augment"]) is preloaded, found


def test_preload_is_checked():
    import nnaudio_data as nd

    with pytest.raises(TypeError, match="preload must be a sequence of module names"):
        nd.worker_context("mymodule")
