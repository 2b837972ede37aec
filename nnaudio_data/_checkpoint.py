"""One consistent checkpoint for every rank of a job: :class:`Checkpoint`.

Saved separately, each rank's state can be at a different step when a job is killed between two
ranks' saves; resumed, the ranks then plan different numbers of batches and DDP hangs. Here a
snapshot is one file, written by rank 0 with every rank's state of the same step:

- :meth:`Checkpoint.save` is collective. Each rank passes its step and its own states (the
  dataset's: which clips it consumed); rank 0 gathers them, checks that every rank is at the same
  step, and writes ``step-<step>.pt`` atomically (a temporary file, then ``os.replace``): a kill
  at any moment leaves the previous snapshot or the new one, never a mix. What every rank shares
  (model, optimiser, collate: the same on every rank under DDP) is saved once, from rank 0.
- :meth:`Checkpoint.resume` is collective too. Each rank finds the newest snapshot in its own
  view of the directory; if the ranks disagree (a directory that is not shared, a hand-copied
  file) it raises, naming each rank's step, before anything is loaded. A snapshot of another
  world size, or one whose ranks' entries are at different steps, is refused the same way.

Without a process group the same calls save and resume a single process.
States are the objects' own ``state_dict()``, held as opaque data; files are read with
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import torch

FORMAT = "nnaudio_data.checkpoint/1"
_NAME = re.compile(r"^step-(\d+)\.pt$")


class Position(NamedTuple):
    """Where a resumed job goes on: the step and epoch given to :meth:`Checkpoint.save`."""

    step: int
    epoch: int


def _world() -> Tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_gather(obj: Any, world: int) -> List[Any]:
    if world == 1:
        return [obj]
    from ._gather import gather_objects

    return gather_objects(obj)


def _steps_text(steps: List[Any]) -> str:
    return ", ".join(f"rank {r}: {'none' if s is None else f'step {s}'}" for r, s in enumerate(steps))


class Checkpoint:
    """Save and resume every rank of a job at one step, in one file per step.

    Args:
        directory (str): where snapshots go (``step-<step>.pt``); every rank must see the same
            directory (a shared filesystem). Created when missing.
        dataset (optional): this rank's dataset (or any object with ``state_dict()`` /
            ``load_state_dict()`` whose state differs per rank); saved for every rank.
        keep (int): snapshots kept, >= 1; older ones are deleted after a save. Default 2.
        **shared: objects with ``state_dict()`` / ``load_state_dict()`` that are the same on
            every rank (model, optimizer, collate, scheduler ...); saved once, from rank 0.

    Example:
        >>> import tempfile
        >>> model = torch.nn.Linear(2, 1)
        >>> ckpt = Checkpoint(tempfile.mkdtemp(), model=model)
        >>> ckpt.resume() is None            # nothing saved yet: start from scratch
        True
        >>> ckpt.save(step=10, epoch=1)
        >>> Checkpoint(ckpt.directory, model=torch.nn.Linear(2, 1)).resume()
        Position(step=10, epoch=1)
    """

    def __init__(self, directory: str, dataset: Any = None, keep: int = 2, **shared: Any):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an int >= 1, got {keep!r}")
        for name, obj in {"dataset": dataset, **shared}.items():
            if obj is not None and not (hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")):
                raise TypeError(f"{name} must have state_dict() and load_state_dict(), "
                                f"got {type(obj).__name__}")
        self.directory, self.dataset, self.keep = os.fspath(directory), dataset, keep
        self.shared = {k: v for k, v in shared.items() if v is not None}

    def steps(self) -> List[int]:
        """Steps of the complete snapshots in :attr:`directory`, oldest first."""
        if not os.path.isdir(self.directory):
            return []
        found = (_NAME.match(name) for name in os.listdir(self.directory))
        return sorted(int(m.group(1)) for m in found if m)

    def path(self, step: int) -> str:
        return os.path.join(self.directory, f"step-{step:010d}.pt")

    def save(self, step: int, epoch: int = 0) -> None:
        """Save the snapshot of ``step`` (the optimiser steps taken) in ``epoch``. Collective: every
        rank calls it with the same ``step``."""
        for name, value in (("step", step), ("epoch", epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        rank, world = _world()
        mine = {"step": step, "data": None if self.dataset is None else self.dataset.state_dict()}
        entries = _all_gather(mine, world)
        steps = [e["step"] for e in entries]
        if len(set(steps)) != 1:
            raise ValueError(f"Checkpoint.save: the ranks are at different steps ({_steps_text(steps)}); "
                             "every rank must save at the same step")
        if rank == 0:
            snapshot = {"format": FORMAT, "step": step, "epoch": epoch, "world": world, "ranks": entries,
                        "shared": {k: v.state_dict() for k, v in self.shared.items()}}
            os.makedirs(self.directory, exist_ok=True)
            tmp = os.path.join(self.directory, f".step-{step:010d}.pt.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                torch.save(snapshot, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path(step))
            for old in self.steps()[:-self.keep]:
                os.remove(self.path(old))
            for name in os.listdir(self.directory):  # left by a save that was killed (rank 0 alone writes)
                if name.startswith(".step-") and name.endswith(".tmp"):
                    os.remove(os.path.join(self.directory, name))
        _all_gather(None, world)  # no rank returns before the snapshot is in place

    def resume(self) -> Optional[Position]:
        """Load the newest snapshot into every object and return its :class:`Position`; None
        (nothing loaded) when there is none. Collective: every rank calls it; raises ValueError, naming each rank's
        step, when the ranks would resume from different snapshots."""
        rank, world = _world()
        saved = self.steps()
        steps = _all_gather(saved[-1] if saved else None, world)
        if len(set(steps)) != 1:
            raise ValueError(f"Checkpoint.resume: the ranks see different newest snapshots in "
                             f"{self.directory} ({_steps_text(steps)}); a job resumes from one step: "
                             "give every rank the same (shared) directory")
        step = steps[0]
        if step is None:
            return None
        snapshot = torch.load(self.path(step), map_location="cpu", weights_only=True)
        self._check(snapshot, step, world)
        for name, obj in self.shared.items():
            if name not in snapshot["shared"]:
                raise ValueError(f"{self.path(step)} holds no state for {name!r} "
                                 f"(it holds {sorted(snapshot['shared'])})")
            obj.load_state_dict(snapshot["shared"][name])
        if self.dataset is not None:
            self.dataset.load_state_dict(snapshot["ranks"][rank]["data"])
        return Position(step, snapshot["epoch"])

    def _check(self, snapshot: Dict[str, Any], step: int, world: int) -> None:
        where = self.path(step)
        if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
            raise ValueError(f"{where} is not a snapshot of format {FORMAT!r}")
        if snapshot["world"] != world:
            raise ValueError(f"{where} was saved by {snapshot['world']} ranks, this job has {world}: "
                             "each rank's data state belongs to its rank; resume with the same world size")
        steps = [e["step"] for e in snapshot["ranks"]]
        if len(steps) != world or any(s != step for s in steps):
            raise ValueError(f"{where} mixes steps ({_steps_text(steps)}); refusing to resume from it")

    def __repr__(self) -> str:
        parts = [repr(self.directory)] + (["dataset=..."] if self.dataset is not None else [])
        parts += [f"{k}=..." for k in self.shared] + ([f"keep={self.keep}"] if self.keep != 2 else [])
        return f"Checkpoint({', '.join(parts)})"
