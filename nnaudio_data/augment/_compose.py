"""Compositions: :class:`Compose` (all, in order), :class:`OneOf` (one per example),
:class:`SomeOf` (a subset per example).

A composition draws its choices per example, folds them into each child's mask, and returns the
children's parameters under ``params["children"]``: the choices are parameters too, so
``aug(x, params=prev.params)`` replays the whole tree. Children run on the whole batch (masked-off
examples are passed through by the blend), and a child whose mask is empty is skipped.
Targets thread through the children in order.
"""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import torch
from torch import Tensor

from .._repr import changed, simple_repr
from ._base import Augmentation, Params, as_augmentations


class _Container(Augmentation):
    ndims = (2, 3, 4, 5)  # the children check their own input

    def __init__(self, transforms: Sequence[Augmentation], p: float = 1.0):
        super().__init__(p)
        self.transforms: List[Augmentation] = as_augmentations("transforms", transforms)

    def choose(self, batch: int, generator: torch.Generator) -> Tensor:
        """(B, K) bool: which child runs on which example (before the children's own p)."""
        raise NotImplementedError

    def draw(self, shape: torch.Size, generator: torch.Generator) -> Params:
        mask = torch.rand(shape[0], generator=generator) < self.p
        chosen = self.choose(shape[0], generator) & mask[:, None]
        children = [t.restrict(t.draw(shape, generator), chosen[:, k]) for k, t in enumerate(self.transforms)]
        return {"mask": mask, "chosen": chosen, "children": children}

    def restrict(self, params: Params, keep: Tensor) -> Params:
        children = [t.restrict(c, keep) for t, c in zip(self.transforms, params["children"])]
        return {**params, "mask": params["mask"] & keep, "children": children}

    def forward_params(self, x: Tensor, targets: Any, params: Params) -> Tuple[Tensor, Any]:
        if len(params["children"]) != len(self.transforms):
            raise ValueError(f"{type(self).__name__}: params hold {len(params['children'])} children, "
                             f"this composition has {len(self.transforms)}")
        for t, child in zip(self.transforms, params["children"]):
            t.check_input(x)
            x, targets = t.forward_params(x, targets, child)
        return x, targets

    def __repr__(self) -> str:  # the augmentations first, unnamed, then what differs from the defaults
        pairs = [(k, v) for k, v in changed(self) if k not in ("n", "transforms")]
        return simple_repr(self, pairs, head=self._head())

    def _head(self) -> List[str]:
        return [repr(self.transforms)]


class Compose(_Container):
    """Apply every augmentation in order (each with its own ``p``).

    Args:
        transforms (list[Augmentation]): the chain.
        p (float): probability that an example goes through the chain at all. Default 1.0.

    Shape:
        x: what the children accept; output: what the last child returns.

    Example:
        >>> from nnaudio_data.augment import Compose, Gain, PolarityInversion
        >>> aug = Compose([Gain((6.0, 6.0)), PolarityInversion()])
        >>> out = aug(torch.ones(2, 1, 3), generator=torch.Generator().manual_seed(0))
        >>> out.x[0, 0].tolist()  # doctest: +ELLIPSIS
        [-1.99..., -1.99..., -1.99...]
        >>> torch.equal(aug(torch.ones(2, 1, 3), params=out.params).x, out.x)
        True
    """

    def choose(self, batch: int, generator: torch.Generator) -> Tensor:
        return torch.ones(batch, len(self.transforms), dtype=torch.bool)


class OneOf(_Container):
    """Apply one augmentation per example, picked uniformly (or by ``weights``).

    Args:
        transforms (list[Augmentation]): the candidates.
        weights (list[float], optional): relative pick probabilities, >= 0. Default: uniform.
        p (float): probability that an example gets any of them. Default 1.0.

    Shape:
        x: what the children accept; output: the same shape.

    Example:
        >>> from nnaudio_data.augment import OneOf, Gain, PolarityInversion
        >>> aug = OneOf([Gain((6.0, 6.0)), PolarityInversion()])
        >>> out = aug(torch.ones(4, 1, 2), generator=torch.Generator().manual_seed(1))
        >>> out.params["chosen"].sum(1).tolist()
        [1, 1, 1, 1]
    """

    def __init__(self, transforms: Sequence[Augmentation], weights: "Sequence[float] | None" = None,
                 p: float = 1.0):
        super().__init__(transforms, p)
        if weights is not None and (len(weights) != len(self.transforms) or min(weights) < 0
                                    or sum(weights) <= 0):
            raise ValueError(f"weights must be {len(self.transforms)} numbers >= 0 with a positive sum, "
                             f"got {weights!r}")
        self.weights = None if weights is None else [float(w) for w in weights]

    def choose(self, batch: int, generator: torch.Generator) -> Tensor:
        w = torch.ones(len(self.transforms)) if self.weights is None else torch.tensor(self.weights)
        pick = torch.multinomial(w.expand(batch, -1), 1, generator=generator)[:, 0]
        return torch.nn.functional.one_hot(pick, len(self.transforms)).bool()



class SomeOf(_Container):
    """Apply a random subset of ``n`` augmentations per example, in list order.

    Args:
        n (int | tuple[int, int]): how many per example, fixed or a (min, max) range, within
            [0, len(transforms)].
        transforms (list[Augmentation]): the candidates.
        p (float): probability that an example gets any of them. Default 1.0.

    Shape:
        x: what the children accept; output: the same shape.

    Example:
        >>> from nnaudio_data.augment import SomeOf, Gain, PolarityInversion, TimeShift
        >>> aug = SomeOf((1, 2), [Gain(), PolarityInversion(), TimeShift(0.1)])
        >>> out = aug(torch.ones(5, 1, 20), generator=torch.Generator().manual_seed(0))
        >>> all(1 <= k <= 2 for k in out.params["chosen"].sum(1).tolist())
        True
    """

    def __init__(self, n: "int | Tuple[int, int]", transforms: Sequence[Augmentation], p: float = 1.0):
        super().__init__(transforms, p)
        lo, hi = (n, n) if isinstance(n, int) else tuple(n)
        if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= len(self.transforms)):
            raise ValueError(f"n must be an int or (min, max) ints within [0, {len(self.transforms)}], "
                             f"got {n!r}")
        self.n = (lo, hi)

    def choose(self, batch: int, generator: torch.Generator) -> Tensor:
        k = torch.randint(self.n[0], self.n[1] + 1, (batch,), generator=generator)
        rank = torch.rand(batch, len(self.transforms), generator=generator).argsort(1).argsort(1)
        return rank < k[:, None]

    def _head(self) -> List[str]:
        return [repr(self.n[0] if self.n[0] == self.n[1] else self.n)] + super()._head()
