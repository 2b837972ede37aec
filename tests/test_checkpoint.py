"""One consistent checkpoint for every rank (``nd.Checkpoint``): a snapshot holds all ranks at one
step; a resume from ranks at different steps is refused, naming them; and a 2-rank job killed with
SIGKILL at random steps, then resumed, delivers every clip of the epoch exactly once, with equal
batches on both ranks and no hang. The job is ``examples/train_ddp.py``, started as torchrun does
(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and once by torchrun itself."""
import datetime
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import nnaudio_data as nd

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "examples", "train_ddp.py")
sys.path.insert(0, HERE)
from bounds import HANG_S, join_processes  # noqa: E402

CLIPS, BATCH, WORLD = 48, 3, 2  # 24 clips per rank, 8 steps per epoch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snapshot_objects():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    return model, opt


class _State:
    """A stand-in for a dataset: any object with state_dict / load_state_dict, state opaque."""

    def __init__(self, value=None):
        self.value = value

    def state_dict(self):
        return {"opaque": self.value}

    def load_state_dict(self, state):
        self.value = state["opaque"]


def test_save_resume_round_trip_and_keep(tmp_path):
    model, opt = _snapshot_objects()
    ckpt = nd.Checkpoint(tmp_path, dataset=_State([1, 2, 3]), keep=2, model=model, optimizer=opt)
    (tmp_path / ".step-0000000001.pt.999.tmp").write_bytes(b"half")  # a save killed mid-write
    for step in (1, 2, 3):
        ckpt.save(step, epoch=4)
    assert ckpt.steps() == [2, 3]
    model2, opt2 = torch.nn.Linear(3, 2), torch.optim.SGD(torch.nn.Linear(3, 2).parameters(), lr=0.1, momentum=0.9)
    data = _State()
    assert nd.Checkpoint(tmp_path, dataset=data, model=model2, optimizer=opt2).resume() == (3, 4)
    assert data.value == [1, 2, 3]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))
    assert opt2.state_dict()["state"][0]["momentum_buffer"].equal(opt.state_dict()["state"][0]["momentum_buffer"])
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_refuses_a_mixed_or_foreign_snapshot(tmp_path):
    ckpt = nd.Checkpoint(tmp_path, dataset=_State(0))
    ckpt.save(5)
    snapshot = torch.load(ckpt.path(5), weights_only=True)
    snapshot["ranks"][0]["step"] = 4  # a rank's entry from another step
    torch.save(snapshot, ckpt.path(5))
    with pytest.raises(ValueError, match=r"mixes steps \(rank 0: step 4\)"):
        ckpt.resume()
    snapshot["ranks"], snapshot["world"] = [{"step": 5, "data": None}] * 2, 2
    torch.save(snapshot, ckpt.path(5))
    with pytest.raises(ValueError, match="saved by 2 ranks, this job has 1"):
        ckpt.resume()
    other = str(tmp_path / "other")
    nd.Checkpoint(other, optimizer=torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1)).save(1)
    with pytest.raises(ValueError, match="holds no state for 'model'"):
        nd.Checkpoint(other, model=torch.nn.Linear(1, 1)).resume()


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="keep must be an int >= 1, got 0"):
        nd.Checkpoint(tmp_path, keep=0)
    with pytest.raises(TypeError, match="model must have state_dict"):
        nd.Checkpoint(tmp_path, model=object())
    with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
        nd.Checkpoint(tmp_path).save(-1)


def _mixed_rank(rank, port, root):
    warnings.simplefilter("ignore")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=600))
    try:
        shared = os.path.join(root, "shared")
        ckpt = nd.Checkpoint(shared, dataset=_State(rank))
        ckpt.save(3)
        with pytest.raises(ValueError, match="ranks are at different steps \\(rank 0: step 4, rank 1: step 5\\)"):
            ckpt.save(4 + rank)
        assert nd.Checkpoint(shared, dataset=_State()).resume() == (3, 0)
        # each rank with its own directory, as when every rank saved its own state
        own = nd.Checkpoint(os.path.join(root, f"own{rank}"), dataset=_State(rank))
        if rank == 1:
            own.directory = shared  # rank 1 sees step 3, rank 0 nothing
        with pytest.raises(ValueError, match=r"different newest snapshots .*\(rank 0: none, rank 1: step 3\)"):
            own.resume()
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned ranks: ~15 s on two busy cores
def test_two_ranks_refuse_different_steps(tmp_path):
    join_processes(mp.spawn(_mixed_rank, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False),
                   "2 ranks")


# -- the example job, killed and resumed ------------------------------------------------------------
def _launch(tmp, run, port, workers, extra=()):
    """Start the two ranks of examples/train_ddp.py as torchrun would, each in its own session."""
    procs = []
    for rank in range(WORLD):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        out = open(os.path.join(tmp, f"{run}.rank{rank}.out"), "w")
        procs.append(subprocess.Popen(
            [sys.executable, EXAMPLE, "--data", os.path.join(tmp, "data"), "--checkpoint-dir",
             os.path.join(tmp, "ckpt"), "--clips", str(CLIPS), "--batch-size", str(BATCH), "--epochs", "1",
             "--workers", str(workers), "--keys-log", os.path.join(tmp, run), *extra],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def _log(tmp, run, rank):
    """[(step, [keys])] of one run's rank, from its keys log."""
    path = os.path.join(tmp, f"{run}.rank{rank}")
    if not os.path.exists(path):
        return []
    lines = [line.split() for line in open(path) if line.endswith("\n")]
    return [(int(parts[0]), parts[2:]) for parts in lines]


ENDED = re.compile(r"rank \d+: (epoch \d+ done at step|stopping after step)")


def _wait(procs, tmp, run):
    """Wait for the ranks of ``run``; every one must exit cleanly (0), the exit included: a
    rank that aborted while exiting after its work (a backend thread taking the GIL during
    finalization, see nnaudio_data._gather) fails here."""
    deadline = time.monotonic() + HANG_S
    for rank, p in enumerate(procs):
        try:
            rc = p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise TimeoutError(f"{run}: ranks still running after {HANG_S:.0f} s: a hang")
        assert rc == 0, "\n".join(f"rank {r} (rc {q.poll()}):\n" + open(os.path.join(tmp, f"{run}.rank{r}.out")).read()[-3000:]
                                   for r, q in enumerate(procs))


def _resumed_step(tmp, run):
    steps = set()
    for rank in range(WORLD):
        text = open(os.path.join(tmp, f"{run}.rank{rank}.out")).read()
        m = re.search(r"resuming at step (\d+)", text)
        steps.add(int(m.group(1)) if m else 0)
    assert len(steps) == 1, f"ranks resumed at different steps: {steps}"
    return steps.pop()


def _check_exactly_once(tmp, before, after):
    """Keys the first run delivered up to the snapshot, plus the resumed run's: each clip once."""
    step = _resumed_step(tmp, after)
    keys = [k for r in range(WORLD) for s, ks in _log(tmp, before, r) if s <= step for k in ks]
    resumed = [_log(tmp, after, r) for r in range(WORLD)]
    assert len(resumed[0]) == len(resumed[1]), f"unequal batches after resuming at step {step}"
    keys += [k for log in resumed for _, ks in log for k in ks]
    assert len(keys) == len(set(keys)) == CLIPS, (step, len(keys), len(set(keys)))
    return step


@pytest.mark.slow  # 3 trials x 2 launches of 2 ranks: ~2 min on two busy cores
def test_kill_at_random_steps_then_resume(tmp_path):
    rng = random.Random(19)
    for trial in range(3):
        tmp = str(tmp_path / f"trial{trial}")
        os.makedirs(tmp)
        at = rng.randint(1, CLIPS // (WORLD * BATCH) - 2)
        procs = _launch(tmp, "first", _free_port(), workers=trial % 2)
        deadline = time.monotonic() + HANG_S
        while min((max((s for s, _ in _log(tmp, "first", r)), default=0) for r in range(WORLD))) < at:
            assert all(p.poll() is None for p in procs), f"a rank ended before step {at}"
            assert time.monotonic() < deadline, "no progress: a hang"
            time.sleep(0.01)
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)  # the whole job dies at once, mid-step or mid-save
        for p in procs:
            p.wait()
        _wait(_launch(tmp, "second", _free_port(), workers=trial % 2), tmp, "second")
        step = _check_exactly_once(tmp, "first", "second")
        assert step >= at - 1, (step, at)  # the snapshot before the kill was complete


@pytest.mark.slow  # torchrun, two runs of 2 ranks with a spawned worker each: ~1 min
def test_example_under_torchrun_stops_and_resumes(tmp_path):
    tmp = str(tmp_path)
    base = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(WORLD),
            EXAMPLE, "--data", os.path.join(tmp, "data"), "--checkpoint-dir", os.path.join(tmp, "ckpt"),
            "--clips", str(CLIPS), "--batch-size", str(BATCH), "--epochs", "1", "--workers", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for run, extra in (("first", ["--stop-after", "3"]), ("second", [])):
        out = subprocess.run(base + ["--keys-log", os.path.join(tmp, run)] + extra, env=env, timeout=HANG_S,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert out.returncode == 0, out.stdout[-3000:]  # every rank's exit included
        assert len(ENDED.findall(out.stdout)) == WORLD, out.stdout[-3000:]
        for rank in range(WORLD):  # _resumed_step reads these
            with open(os.path.join(tmp, f"{run}.rank{rank}.out"), "w") as f:
                # the ranks share one pipe: a line of one may land inside a line of the other
                f.write("\n".join(re.findall(rf"rank {rank}:.*?(?=rank \d+:|$)", out.stdout, flags=re.M)))
    assert _check_exactly_once(tmp, "first", "second") == 3
