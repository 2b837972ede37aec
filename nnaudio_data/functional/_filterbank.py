"""Apply a filterbank (mel, gammatone) to a power spectrogram, skipping the zeros of banded filters.

Mel filters are triangles: filter m is non-zero on a few bins only. Splitting the filters into row
blocks and multiplying each block by the bins its filters touch does a fraction of the dense
matmul's work (for 128 mel bands over 1025 bins, about 13%).
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import torch
from torch import Tensor

Block = Tuple[int, int, int, int]  # rows [r0, r1), bins [c0, c1)


def band_blocks(basis: Tensor, n_blocks: int = 8) -> List[Block]:
    """Row blocks of ``basis`` with the range of bins each block's rows touch.

    Args:
        basis (Tensor): (M, F) filterbank.
        n_blocks (int): row blocks (at most M). Default 8.

    Shape:
        basis: (M, F); output: list of (r0, r1, c0, c1)

    Example:
        >>> band_blocks(torch.tensor([[1., 1., 0., 0.], [0., 0., 1., 0.]]), 2)
        [(0, 1, 0, 2), (1, 2, 2, 3)]
    """
    nonzero = (basis != 0).cpu().numpy()
    blocks = []
    for rows in np.array_split(np.arange(basis.shape[0]), min(n_blocks, basis.shape[0])):
        cols = np.flatnonzero(nonzero[rows].any(0))
        c0, c1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 1)
        blocks.append((int(rows[0]), int(rows[-1]) + 1, c0, c1))
    return blocks


def apply_filterbank(power: Tensor, basis: Tensor, blocks: "List[Block] | None" = None) -> Tensor:
    """``basis @ power`` per item; with ``blocks`` from :func:`band_blocks`, only the non-zero bands.

    Args:
        power (Tensor): power spectrogram.
        basis (Tensor): (M, F) filterbank.
        blocks (list, optional): band blocks of ``basis``; None for a dense matmul (trainable).

    Shape:
        power: (B, F, N); output: (B, M, N) contiguous

    Example:
        >>> fb = torch.tensor([[1., 1., 0., 0.], [0., 0., 1., 0.]])
        >>> apply_filterbank(torch.ones(1, 4, 3), fb, band_blocks(fb)).tolist()
        [[[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]]
    """
    if blocks is None:
        return torch.matmul(basis, power)
    return torch.cat([torch.matmul(basis[r0:r1, c0:c1], power[:, c0:c1])
                      for r0, r1, c0, c1 in blocks], 1)
