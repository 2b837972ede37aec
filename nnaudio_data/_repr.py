"""One way to write a ``repr``: the class name and the constructor arguments that differ from
their defaults, as julius's ``simple_repr`` does (``MelSpectrogram(sr=16000, n_mels=40)``).

:func:`changed` lists those arguments, read from the object's attributes of the same names (or
from a mapping the caller gives, for a class that does not keep them); :func:`simple_repr` writes
them. Transforms, augmentations, the collate, the device loader and the clip preparation use it.
"""
from __future__ import annotations

import inspect
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

Pairs = List[Tuple[str, Any]]


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def same(value: Any, default: Any) -> bool:
    """Whether ``value`` shows nothing beyond ``default``: equal numbers (``1`` and ``1.0``), equal
    sequences (a tuple given for a list default), a range ``(a, a)`` stored for a scalar default
    ``a``; a tensor never counts as a default.

    Example:
        >>> same(2, 2.0), same((1, 2), [1, 2]), same((0.5, 0.5), 0.5), same("a", None)
        (True, True, True, False)
    """
    if value is default:
        return True
    if isinstance(value, Tensor) or isinstance(default, Tensor):
        return False
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return len(value) == len(default) and all(same(a, b) for a, b in zip(value, default))
    if isinstance(value, tuple) and value and _number(default):
        return all(same(v, default) for v in value)
    if _number(value) and _number(default):
        return bool(value == default)
    if type(value) is not type(default):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError, RuntimeError):
        return False


def show(value: Any) -> str:
    """``repr(value)``, but a tensor by its shape and dtype."""
    if isinstance(value, Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    return repr(value)


def changed(obj: Any, values: Optional[Mapping[str, Any]] = None, always: Sequence[str] = (),
            skip: Sequence[str] = ("verbose",)) -> Pairs:
    """(name, value) for each parameter of ``type(obj)``'s constructor whose value differs from its
    default, in signature order: the value is ``values[name]`` when ``values`` is given, else the
    attribute ``name`` (a parameter without either is left out). Names in ``always`` are shown
    whatever their value; ``*args``, ``**kwargs`` and names in ``skip`` never are."""
    out: Pairs = []
    for name, par in inspect.signature(type(obj)).parameters.items():
        if par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD) or name in skip:
            continue
        if values is not None:
            if name not in values:
                continue
            value = values[name]
        elif hasattr(obj, name):
            value = getattr(obj, name)
        else:
            continue
        if name in always or par.default is par.empty or not same(value, par.default):
            out.append((name, value))
    return out


def join(pairs: Iterable[Tuple[str, Any]]) -> str:
    """``"a=1, b='x'"`` from ``[("a", 1), ("b", "x")]``."""
    return ", ".join(f"{k}={show(v)}" for k, v in pairs)


def simple_repr(obj: Any, pairs: Optional[Pairs] = None, head: Sequence[str] = (),
                name: Optional[str] = None) -> str:
    """``Name(head..., k=v, ...)`` with ``pairs`` (default :func:`changed` of ``obj``).

    Example:
        >>> class Gain:
        ...     def __init__(self, db=0.0, p=1.0):
        ...         self.db, self.p = db, p
        >>> simple_repr(Gain(db=6.0))
        'Gain(db=6.0)'
    """
    parts = list(head) + ([join(changed(obj) if pairs is None else pairs)])
    return f"{name or type(obj).__name__}({', '.join(p for p in parts if p)})"
