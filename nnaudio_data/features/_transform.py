"""The constructor arguments a transform was given, for its ``repr``: :class:`Transform` is the
``nn.Module`` base of the feature classes that records, once per construction, the arguments that
differ from the signature's defaults, and puts them first in ``extra_repr``, so that
``MelSpectrogram(sr=16000, n_mels=40)`` prints ``sr=16000, n_mels=40``. What a class's own
``extra_repr`` adds (kernel shapes, the backend chosen) follows, without repeating a name.
``verbose`` (nnAudio's logging switch) is not shown: it does not change the transform."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Dict, List

from torch import Tensor, nn


def _same(a: Any, b: Any) -> bool:
    """``a`` equals the default ``b`` (same type, equal value; tensors never count as defaults)."""
    if a is b:
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        a, b = list(a), list(b)  # (1, 2) given where the default is [1, 2]
    if isinstance(a, Tensor) or isinstance(b, Tensor) or type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):
        return False


def _show(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    return repr(value)


def _split(text: str) -> List[str]:
    """``"a=1, b=(2, 3)"`` -> ``["a=1", "b=(2, 3)"]``: commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _given(sig: inspect.Signature, args: tuple, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    bound = sig.bind(*args, **kwargs)
    out: Dict[str, Any] = {}
    for name, value in list(bound.arguments.items())[1:]:  # [0] is self
        par = sig.parameters[name]
        if par.kind is par.VAR_KEYWORD:
            out.update(value)
        elif par.kind is par.VAR_POSITIONAL:
            out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        elif name != "verbose" and not _same(value, par.default):
            out[name] = value
    return out


class Transform(nn.Module):
    """``nn.Module`` whose ``repr`` starts with the constructor arguments that differ from their
    defaults (recorded by the outermost ``__init__`` of the class built, after it returns).

    Example:
        >>> from nnaudio_data.features import MelSpectrogram
        >>> MelSpectrogram(sr=16000, n_mels=40).extra_repr()
        'sr=16000, n_mels=40, mel_basis=(40, 1025), power=2.0'
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_args", False):
            return
        sig = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: nn.Module, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            # the outermost constructor finishes last: its arguments are the user's
            self.__dict__["_given_args"] = _given(sig, (self, *args), kw)

        recording_init._records_args = True  # type: ignore[attr-defined]
        cls.__init__ = recording_init  # type: ignore[method-assign]

    def given_args(self) -> Dict[str, Any]:
        """The constructor arguments given that differ from the defaults, by name."""
        return dict(self.__dict__.get("_given_args", {}))

    def _repr_parts(self) -> List[str]:
        given = {k: v for k, v in self.given_args().items()
                 if not isinstance(v, nn.Module)}  # a module argument is a child: shown below
        own = [p for p in _split(self.summary()) if p.split("=", 1)[0].strip() not in given]
        return [f"{k}={_show(v)}" for k, v in given.items()] + own

    def summary(self) -> str:
        """What the class adds to the arguments in its ``repr`` (override; default nothing)."""
        return ""

    def extra_repr(self) -> str:
        return ", ".join(self._repr_parts())
