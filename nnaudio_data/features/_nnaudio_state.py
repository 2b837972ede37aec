"""Loading nnAudio 0.3's constant-Q state dicts: its keys and kernel layout translated to ours.

nnAudio keeps ``cqt_kernels_real`` / ``cqt_kernels_imag`` (F, 1, W) (``..._{i}`` per octave for VQT),
applied as ``conv1d(x, real) - i conv1d(x, imag)``, plus ``lenghts`` (F,), ``lowpass_filter``
(1, 1, 256) and ``early_downsample_filter`` (1, 1, 256). Ours keep the applied (conjugated) kernel
as one real (W, 2F) [Re | Im] matrix per octave, the per-bin output scales, and the FIR taps flat.

- CQT2010v2 / VQT: the kernels are ours up to layout and the early-downsampling factor: exact.
  nnAudio's VQT(gamma=0) holds one kernel per octave where ours holds one for all: loading it
  gives the module one kernel per octave, as nnAudio.
- CQT1992v2: each octave of ours is a crop of nnAudio's full-width kernels, subsampled to the rate
  the octave runs at. Kernels equal to the built ones convert to that layout; any others (trained)
  switch the module to nnAudio's own layout (all bins, full width, full rate), which holds every
  tap: exact, at nnAudio's cost. ``trainable=True`` builds that layout from the start.
- ``mode="librosa"``: nnAudio has no such kernels; its states are refused with a clear error.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from torch import Tensor


def _pairs(state: dict, prefix: str) -> List[Tuple[str, str]]:
    if prefix + "cqt_kernels_real" in state:
        return [(prefix + "cqt_kernels_real", prefix + "cqt_kernels_imag")]
    out, i = [], 0
    while prefix + f"cqt_kernels_real_{i}" in state:
        out.append((prefix + f"cqt_kernels_real_{i}", prefix + f"cqt_kernels_imag_{i}"))
        i += 1
    return out


def _applied(state: dict, re_key: str, im_key: str) -> Tensor:
    """nnAudio's kernel pair as the applied real (F, 2, W) [Re, Im] stack (its imag is negated)."""
    re, im = state.pop(re_key), state.pop(im_key)
    return torch.stack([re.reshape(re.shape[0], -1), -im.reshape(im.shape[0], -1)], 1)


def _ours(k: Tensor) -> Tensor:
    """(F, 2, W) -> our (W, 2F) [Re | Im] layout."""
    return torch.cat([k[:, 0], k[:, 1]], 0).T.contiguous()


def _key(module, prefix: str, i: int) -> str:
    return prefix + (f"kernels.{i}" if module.trainable else f"kernel_{i}")


def from_nnaudio_state(module, state: dict, prefix: str, local_metadata, strict, missing_keys,
                       unexpected_keys, error_msgs) -> None:
    """``load_state_dict`` pre-hook of the constant-Q modules (see the module docstring)."""
    pairs = _pairs(state, prefix)
    if not pairs:
        return
    name = type(module).__name__
    if getattr(module, "mode", "nnaudio") != "nnaudio":
        error_msgs.append(f"{prefix}cqt_kernels_real: an nnAudio state holds mode='nnaudio' kernels; "
                          f"build {name}(mode='nnaudio') to load it, got mode={module.mode!r}")
        return
    kernels = [_applied(state, *p) for p in pairs]
    lengths = state.pop(prefix + "lenghts", None)
    for key in ("librosa", "convolutional", "wrap"):
        state[prefix + f"scale_{key}"] = getattr(module, f"scale_{key}").detach().clone()
    if lengths is not None:
        state[prefix + "scale_librosa"] = lengths.to(torch.float32).sqrt()
    if module._fir:
        _fir_state(module, state, prefix, kernels, error_msgs)
    else:
        _direct_state(module, state, prefix, kernels[0])


def _fir_state(module, state, prefix, kernels, error_msgs) -> None:
    shapes = [(k.shape[-1], 2 * k.shape[0]) for k in kernels]
    if len(kernels) == len(module.octaves) and (
            module._n_kernels != len(kernels) or
            any(tuple(module._kernel(i).shape) != s for i, s in enumerate(shapes))):
        module._use_kernel_per_octave(shapes)  # nnAudio's VQT(gamma=0): one kernel per octave
    if len(kernels) != module._n_kernels:
        error_msgs.append(f"{prefix}cqt_kernels_real: the state holds {len(kernels)} kernel(s), "
                          f"this {type(module).__name__} {module._n_kernels}")
        return
    for i, k in enumerate(kernels):
        state[_key(module, prefix, i)] = _ours(k) * module._factor
    if prefix + "lowpass_filter" in state:
        state[prefix + "halfband"] = state.pop(prefix + "lowpass_filter").reshape(-1)
    if prefix + "early_downsample_filter" in state:
        state[prefix + "early_filter"] = state.pop(prefix + "early_downsample_filter").reshape(-1)


def _direct_state(module, state, prefix, full: Tensor) -> None:
    """CQT1992v2: crop and subsample per octave when that loses nothing, else nnAudio's layout."""
    oc0 = module.octaves[0]
    is_full = len(module.octaves) == 1 and oc0.level == 0 and oc0.offset == 0 and \
        module._kernel(0).shape[0] == full.shape[-1]
    if not is_full:
        blocks = []
        for oc in module.octaves:
            step = 1 << oc.level
            w = module._kernel(oc.kernel).shape[0]
            a = oc.offset * step
            blocks.append(full[oc.lo:oc.hi, :, a: a + w * step: step] * step)
        ref = [module._kernel(oc.kernel).detach() for oc in module.octaves]
        peak = max(float(r.abs().max()) for r in ref)
        same = all(b.shape[-1] == r.shape[0] and
                   torch.allclose(_ours(b).to(r), r, rtol=0, atol=1e-6 * peak)
                   for b, r in zip(blocks, ref))
        if same:
            for i, b in enumerate(blocks):
                state[_key(module, prefix, module.octaves[i].kernel)] = _ours(b)
            return
        module._use_full_layout(full.shape[-1])
    state[_key(module, prefix, 0)] = _ours(full)
