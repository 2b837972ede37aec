"""One object from every rank, and a clean exit after it.

The package's collectives (the epoch plan's check across ranks, the checkpoint's steps and
states) gather small picklable objects. ``torch.distributed.all_gather_object`` does that, but
the tensors it hands the backend are Python tensors that it drops as soon as the collective
returns. The backend's worker thread (gloo's ``runLoop``) releases its own references a moment
later; when that release is the last one, it frees the tensor's Python object and so takes the
GIL. If the rank is exiting by then (a checkpoint saved just before the end of ``main()``), the
interpreter is finalizing, and the rank aborts as :mod:`._exit` describes (seen on gloo at a rate
of one launch in four on a loaded 2-core machine; the same fault as
https://github.com/pytorch/pytorch/issues/190489 and the atexit proposal in
https://github.com/pytorch/pytorch/pull/179291).

:func:`gather_objects` therefore holds every tensor it gave the backend until the backend has
let go of it (its C++ use count is back to the one reference held here), so the backend's
release never frees a Python object. Released tensors are dropped at the next gather; at exit
the process waits for the last ones (:func:`~._exit.wait_at_exit`, before finalization), at most
:data:`EXIT_WAIT_S`. Users' own ``all_gather_object`` calls are theirs: the README's recipe ends
with the package's collective (a checkpoint's save) before ``destroy_process_group``.
"""
from __future__ import annotations

import pickle
import threading
from typing import Any, List

import torch

from ._exit import wait_at_exit

EXIT_WAIT_S = 10.0  # at exit: the backend's release takes microseconds once its thread runs;
# the bound is for a thread starved by a loaded machine, not for a normal exit
_held: List[torch.Tensor] = []
_lock = threading.Lock()


def gather_objects(obj: Any, group: Any = None) -> List[Any]:
    """``obj`` from every rank of ``group`` (default: the default group), in rank order, on every
    rank: the same result as ``all_gather_object``. A collective: every rank calls it, in the
    same order as its other collectives. Objects are pickled; they come from the job's own ranks."""
    import torch.distributed as dist

    world = dist.get_world_size(group)
    device = _device(group)
    payload = pickle.dumps(obj)
    size = torch.tensor([len(payload)], dtype=torch.int64, device=device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    longest = max(int(s.item()) for s in sizes)
    mine = torch.zeros(longest, dtype=torch.uint8)
    mine[: len(payload)] = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
    mine = mine.to(device)
    outs = [torch.empty(longest, dtype=torch.uint8, device=device) for _ in range(world)]
    dist.all_gather(outs, mine, group=group)
    _hold([size, *sizes, mine, *outs])
    return [pickle.loads(out[: int(n.item())].cpu().numpy().tobytes()) for out, n in zip(outs, sizes)]


def _device(group: Any) -> torch.device:
    """Where the group's collectives take tensors: the current CUDA device under NCCL (which
    only takes CUDA tensors), else the CPU."""
    import torch.distributed as dist

    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _released(t: torch.Tensor) -> bool:
    count = getattr(t, "_use_count", None)  # private, present since torch 1.x; without it, as before
    return count is None or count() <= 1  # only this module's reference is left


def _hold(tensors: List[torch.Tensor]) -> None:
    with _lock:
        _held[:] = [t for t in _held if not _released(t)] + tensors
    wait_at_exit(_all_released, EXIT_WAIT_S)


def _all_released() -> bool:
    """Whether the backend has released every held tensor; they are dropped when it has."""
    with _lock:
        if any(not _released(t) for t in _held):
            return False
        _held.clear()
        return True
