"""The trainable kernel under ``torch.distributed``: one rule, applied where the kernel runs.

A collate's kernel belongs to the collate, not to the model, so ``DistributedDataParallel(model)``
never averages its gradients: without more, each rank's kernel would drift on its own, silently.
So, where a trainable kernel runs in the main process while a process group of more than one rank
is initialised, :func:`synced` runs it inside its own ``DistributedDataParallel``:

- at construction, DDP broadcasts rank 0's parameters and buffers, so every rank starts from the
  same kernel (the construction is a collective: it happens at each rank's first training batch);
- in ``backward``, DDP averages the kernel's gradients over the ranks (bucketed all-reduce, as for
  the model), so after ``optimizer.step()`` the kernels are bit-identical on every rank and equal
  a single process's on the concatenated batch (``tests/test_ddp_kernel.py``).

Two DDP instances (the model's and the kernel's) share the default process group; every rank runs
them in the same order, which is all DDP asks. Outside training (``collate.eval()``) or under
``torch.no_grad()`` the kernel runs unwrapped, so an evaluation pass never leaves DDP waiting for
a backward.
"""
from __future__ import annotations

from torch import nn


def needs_sync(module: nn.Module) -> bool:
    """Whether ``module`` must run inside DDP: a parameter requires grad and a process group of
    more than one rank is initialised in this process."""
    import torch.distributed as dist

    if not any(p.requires_grad for p in module.parameters()):
        return False
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def synced(module: nn.Module) -> nn.Module:
    """``module`` inside ``DistributedDataParallel`` when :func:`needs_sync`, else ``module``
    itself. Buffers (fixed kernels, windows) are built identically on every rank and broadcast once
    at construction; they are not broadcast again at every forward."""
    if not needs_sync(module):
        return module
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # the buffer-sync switch was renamed in torch 2.13; both keep the broadcast at construction
    args = inspect.signature(DistributedDataParallel).parameters
    name = "forward_sync_buffers" if "forward_sync_buffers" in args else "broadcast_buffers"
    switch: dict = {name: False}
    return DistributedDataParallel(module, **switch)
