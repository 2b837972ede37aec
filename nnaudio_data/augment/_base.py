"""The augmentation mechanism, once: draw parameters from a ``torch.Generator``, then apply them.

Every augmentation implements two methods and nothing else of the machinery:

- ``sample_params(shape, generator) -> dict``: per-example parameters, drawn on the CPU from
  ``generator``. Large random fields (noise) are not stored: a 63-bit ``seed`` is drawn instead and
  the field is drawn from it on the data's device at apply time.
- ``apply(x, params) -> Tensor``: deterministic given ``params``.

Label-aware augmentations (:class:`~nnaudio_data.augment.Mixup`) also override
``apply_targets(targets, params)``. The base class owns the probability ``p`` (a per-example mask,
``params["mask"]``), float32 computation for half inputs, the blend of augmented and untouched
examples, and replay: ``aug(x, params=prev.params)`` reproduces ``prev`` exactly, without drawing.

Generators live on the CPU, whatever the data's device: the same seed gives the same parameters on
every device, generator state pickles into DataLoader workers, and the tiny parameter tensors are
copied to the device at apply time. Without ``generator=``, an augmentation draws from its own CPU
generator, seeded with 0 at construction (:meth:`Augmentation.manual_seed` reseeds it); nothing
reads the global RNG or the clock.
"""
from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .._repr import simple_repr
from .._checks import check_arg

Params = Dict[str, Any]
_HALF = (torch.float16, torch.bfloat16)


class Augmented(NamedTuple):
    """What every augmentation returns: the output, the targets (mixed or passed through) and the
    parameters that replay the call."""

    x: Tensor
    targets: Any
    params: Params


def uniform(bounds: Tuple[float, float], n: int, generator: torch.Generator) -> Tensor:
    """(n,) float32 draws, uniform in [min, max]."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(n, generator=generator)


def draw_seed(generator: torch.Generator) -> int:
    """A 63-bit seed for drawing a large random field on the data's device."""
    return int(torch.randint(0, 2**63 - 1, (1,), generator=generator))


def per_example(v: Tensor, x: Tensor) -> Tensor:
    """(B,) -> (B, 1, ..., 1) on x's device, to broadcast against x: how an augmentation's
    :meth:`Augmentation.apply` uses a per-example parameter.

    Shape:
        v: (B,); x: (B, ...); output: (B, 1, ..., 1)

    Example:
        >>> import torch
        >>> per_example(torch.tensor([1.0, 2.0]), torch.ones(2, 1, 3)).shape
        torch.Size([2, 1, 1])
    """
    return v.to(x.device).view(-1, *([1] * (x.dim() - 1)))


class _GeneratorState(NamedTuple):
    """A CPU ``torch.Generator``'s state as plain bytes (see :meth:`Augmentation.__getstate__`)."""

    state: bytes

    def restore(self) -> torch.Generator:
        g = torch.Generator()
        g.set_state(torch.frombuffer(bytearray(self.state), dtype=torch.uint8))
        return g


class Augmentation:
    """Base class: probability, per-example mask, float32 computation, replay.

    Subclasses set ``ndims`` (the accepted ranks of ``x``) and implement :meth:`sample_params`
    and :meth:`apply`.

    Args:
        p (float): probability that an example is augmented, drawn per example. Default 1.0.

    Shape:
        x: (B, C, T) for waveform augmentations, (B, F, N) or (B, C, F, N) for spectrogram ones;
        output: the shape of x (unless the class says otherwise), in x's dtype (half inputs are
        computed in float32 and cast back).
    """

    ndims: Tuple[int, ...] = (3,)

    def __init__(self, p: float = 1.0):
        check_arg(isinstance(p, (int, float)) and 0.0 <= p <= 1.0, "p", "a number in [0, 1]", p)
        self.p = float(p)
        self.generator = torch.Generator().manual_seed(0)

    # -- pickling: the generator's state travels as bytes ------------------------------------------
    def __getstate__(self) -> Dict[str, Any]:
        """A ``torch.Generator`` pickles its state as a temporary tensor; sent to a spawned or
        forkserver worker, that tensor goes into shared memory by a file descriptor that is closed
        again, before the worker starts, when the temporary dies (the worker then fails with "bad
        value(s) in fds_to_keep" or "unable to resize file"). Bytes carry no descriptor."""
        state = dict(self.__dict__)
        state["generator"] = _GeneratorState(bytes(self.generator.get_state().numpy().tobytes()))
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        gen = state.get("generator")
        if isinstance(gen, _GeneratorState):
            state = {**state, "generator": gen.restore()}
        self.__dict__.update(state)

    # -- to implement ----------------------------------------------------------------------------
    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        """Draw per-example parameters for an input of ``shape``; CPU tensors or ints."""
        return {}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        raise NotImplementedError

    def apply_targets(self, targets: Any, params: Params) -> Any:
        """Transform the targets; the default passes them through (label-preserving)."""
        return targets

    # -- the machinery, once ---------------------------------------------------------------------
    def manual_seed(self, seed: int) -> "Augmentation":
        """Reseed the generator used when a call passes no ``generator=``."""
        self.generator.manual_seed(seed)
        return self

    def draw(self, shape: torch.Size, generator: torch.Generator) -> Params:
        """The mask (p) plus :meth:`sample_params`: everything one call needs."""
        mask = torch.rand(shape[0], generator=generator) < self.p
        return {"mask": mask, **self.sample_params(shape, generator)}

    def check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor) or x.dim() not in self.ndims or not x.is_floating_point():
            got = f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: x must be a floating tensor of rank "
                             f"{' or '.join(map(str, self.ndims))}, got {got}")

    def restrict(self, params: Params, keep: Tensor) -> Params:
        """``params`` with the mask narrowed to the examples in ``keep`` (B,) (used by OneOf, SomeOf)."""
        return {**params, "mask": params["mask"] & keep}

    def __call__(self, x: Tensor, targets: Any = None, *, params: Optional[Params] = None,
                 generator: Optional[torch.Generator] = None) -> Augmented:
        """Augment ``x`` (and ``targets``); ``params=`` replays an earlier call exactly."""
        self.check_input(x)
        if generator is not None and (not isinstance(generator, torch.Generator)
                                      or generator.device.type != "cpu"):
            raise ValueError(f"generator must be a CPU torch.Generator (parameters are drawn on the CPU), "
                             f"got {getattr(generator, 'device', type(generator).__name__)}")
        if params is None:
            params = self.draw(x.shape, self.generator if generator is None else generator)
        elif "mask" not in params or params["mask"].shape[0] != x.shape[0]:
            raise ValueError(f"{type(self).__name__}: params must come from a call on a batch of "
                             f"{x.shape[0]} examples (a 'mask' of that length), got keys {sorted(params)}")
        x, targets = self.forward_params(x, targets, params)
        return Augmented(x, targets, params)

    def forward_params(self, x: Tensor, targets: Any, params: Params) -> Tuple[Tensor, Any]:
        """Apply to the masked examples in float32, blend, cast back; transform the targets."""
        mask = params["mask"]
        if bool(mask.any()):
            xf = x.float() if x.dtype in _HALF else x
            y = self.apply(xf, params)
            if not bool(mask.all()) and y.shape == xf.shape:
                y = torch.where(per_example(mask, y), y, xf)
            x = y.to(x.dtype)
        if targets is not None:
            targets = self.apply_targets(targets, params)
        return x, targets

    def __repr__(self) -> str:
        return simple_repr(self)


def run_augment(aug: Any, x: Tensor, targets: Any = None, params: Optional[Params] = None,
                generator: Optional[torch.Generator] = None) -> Augmented:
    """Call an :class:`Augmentation` (or a composition), or a plain callable ``x -> x``."""
    if isinstance(aug, Augmentation):
        return aug(x, targets, params=params, generator=generator)
    return Augmented(aug(x), targets, {})


def interp_last(x: Tensor, pos: Tensor) -> Tensor:
    """Linear interpolation of ``x`` along its last axis at fractional positions ``pos`` (B, M);
    positions outside [0, L - 1] read zero.

    Shape:
        x: (B, ..., L); pos: (B, M); output: (B, ..., M)
    """
    length = x.shape[-1]
    lo = pos.floor()
    frac = (pos - lo).to(x.dtype)
    lo = lo.long()
    lead = x.shape[1:-1]

    def take(i: Tensor) -> Tensor:
        valid = (i >= 0) & (i < length)
        idx = i.clamp(0, length - 1).view(x.shape[0], *([1] * len(lead)), -1).expand(*x.shape[:-1], -1)
        return x.gather(-1, idx) * per_example_last(valid, x)

    return take(lo) * per_example_last(1 - frac, x) + take(lo + 1) * per_example_last(frac, x)


def scaled_positions(length: int, factor: Tensor, device: torch.device) -> Tensor:
    """(B, length) float64 read positions ``n * factor`` for :func:`interp_last`."""
    n = torch.arange(length, device=device, dtype=torch.float64)
    return n[None, :] * factor.to(device, torch.float64)[:, None]


def per_example_last(v: Tensor, x: Tensor) -> Tensor:
    """(B, M) -> (B, 1, ..., 1, M) to broadcast against x of rank >= 2."""
    return v.to(x.dtype).view(v.shape[0], *([1] * (x.dim() - 2)), v.shape[-1])


def as_augmentations(name: str, value: Sequence[Any]) -> list:
    """Validate a composition's list of augmentations."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty list of augmentations, got {value!r}")
    for i, t in enumerate(value):
        if not isinstance(t, Augmentation):
            raise ValueError(f"{name}[{i}] must be an Augmentation, got {type(t).__name__}")
    return list(value)
