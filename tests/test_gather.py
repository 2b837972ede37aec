"""The package's object gather (nnaudio_data._gather): the same objects as ``all_gather_object``,
and a rank that exits right after it exits cleanly.

The exit test reproduces the fault the module exists for: each rank pinned to one CPU, a gather,
then the interpreter exits at once (no ``destroy_process_group``), so the gloo thread's release of
the gather's tensors races the interpreter's finalization. With ``all_gather_object`` in place of
``gather_objects`` about half of such ranks abort ("terminate called without an active
exception", exit -6; 21 of 40 in one measurement); none may here.
"""
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANG_S = 300  # only a hang reaches this

RANK = r'''
import os, pickle, sys
import torch.distributed as dist
rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # the gloo threads share one CPU
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
from nnaudio_data._gather import gather_objects
objects = [{"rank": rank}, "x" * (100_000 * rank), None, list(range(rank * 7))]
mine = [gather_objects(o) for o in objects]
if out != "-":
    reference = []
    for o in objects:
        ref = [None] * world
        dist.all_gather_object(ref, o)
        reference.append(ref)
    dist.barrier()
    with open(out + f".{rank}", "wb") as f:
        pickle.dump((mine, reference), f)
    dist.barrier()
    mine.append(gather_objects("last"))  # the package's gather is the last collective
# no destroy_process_group: the interpreter exits right after the last gather
'''


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(script, world, out):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    port = str(_port())
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(world), port, out], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(world)]
    return [(p.wait(timeout=HANG_S), p.stdout.read()) for p in procs]


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "rank.py"
    path.write_text(RANK)
    return path


def test_same_objects_as_all_gather_object(tmp_path, script):
    import pickle

    world = 3
    results = _launch(script, world, str(tmp_path / "out"))
    assert all(rc == 0 for rc, _ in results), results
    for rank in range(world):
        mine, reference = pickle.load(open(tmp_path / f"out.{rank}", "rb"))
        assert mine == reference
        assert [m["rank"] for m in mine[0]] == list(range(world))
        assert [len(s) for s in mine[1]] == [100_000 * r for r in range(world)]


@pytest.mark.slow  # 6 launches of 2 ranks: ~30 s on two busy cores
def test_a_rank_exits_cleanly_right_after_a_gather(script):
    for launch in range(6):
        for rank, (rc, text) in enumerate(_launch(script, 2, "-")):
            assert rc == 0 and "terminate called" not in text, f"launch {launch}, rank {rank}: rc {rc}\n{text[-2000:]}"
