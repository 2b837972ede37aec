"""Mixup: mix each example with another of the batch, and their targets by the same weights."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._base import Augmentation, Params, per_example
from .._checks import check_arg


class Mixup(Augmentation):
    """Mix example i with example ``perm[i]`` of the same batch: ``lam x_i + (1 - lam) x_perm[i]``,
    ``lam ~ Beta(alpha, alpha)`` per example; targets are mixed by the same ``lam``.

    Targets are one-hot (integer class indices (B,), turned into float (B, num_classes)) or soft
    labels (float (B, ...), mixed as they are); the output targets are always float. Examples left
    out by ``p`` keep their input and their (one-hot) target. Beta draws are inverse-CDF samples of
    uniforms from the generator (scipy ``betaincinv``), so they follow the seed too.

    Args:
        alpha (float): Beta concentration, > 0 (small: weights near 0 or 1). Default 0.4.
        num_classes (int, optional): needed for integer targets.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T) (or any (B, ...)); targets: (B,) int or (B, ...) float; output: x's shape and
        dtype, targets (B, num_classes) or (B, ...) float. params: "lam" (B,), "perm" (B,) int64.

    Example:
        >>> out = Mixup(alpha=1.0, num_classes=2)(torch.randn(4, 1, 8), torch.tensor([0, 1, 1, 0]))
        >>> out.targets.shape, bool(torch.allclose(out.targets.sum(1), torch.ones(4)))
        (torch.Size([4, 2]), True)
    """

    ndims = (2, 3, 4)

    def __init__(self, alpha: float = 0.4, num_classes: "int | None" = None, p: float = 1.0):
        super().__init__(p)
        check_arg(isinstance(alpha, (int, float)) and not alpha <= 0, "alpha", "a number > 0", alpha)
        check_arg(num_classes is None or (isinstance(num_classes, int) and num_classes >= 1), "num_classes",
                  "an int >= 1", num_classes)
        self.alpha, self.num_classes = float(alpha), num_classes

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        u = torch.rand(shape[0], generator=generator, dtype=torch.float64)
        from scipy.special import betaincinv  # here, not at import time (slow import)

        lam = torch.from_numpy(betaincinv(self.alpha, self.alpha, u.numpy())).float()
        return {"lam": lam, "perm": torch.randperm(shape[0], generator=generator)}

    @staticmethod
    def weights(params: Params) -> Tensor:
        """lam where the mask is on, 1 (no mixing) elsewhere."""
        return torch.where(params["mask"], params["lam"], torch.ones_like(params["lam"]))

    def apply(self, x: Tensor, params: Params) -> Tensor:
        lam = per_example(self.weights(params), x).to(x.dtype)
        return lam * x + (1 - lam) * x[params["perm"].to(x.device)]

    def apply_targets(self, targets: Any, params: Params) -> Any:
        if not isinstance(targets, Tensor) or targets.shape[:1] != params["lam"].shape:
            raise ValueError(f"Mixup: targets must be a tensor (B, ...) with B = {len(params['lam'])}, got "
                             f"{getattr(targets, 'shape', type(targets).__name__)}")
        if not targets.is_floating_point():
            if self.num_classes is None or targets.dim() != 1:
                raise ValueError(f"Mixup: integer targets must be class indices (B,) with num_classes set, "
                                 f"got shape {tuple(targets.shape)} and num_classes={self.num_classes}")
            targets = torch.nn.functional.one_hot(targets.long(), self.num_classes)
        targets = targets.float()
        return self.apply(targets, params)
