"""The ``nn.Module`` base of the feature classes (:class:`Transform`): it records, once per
construction, the constructor arguments that differ from the signature's defaults, and puts them
first in ``extra_repr``, so that ``MelSpectrogram(sr=16000, n_mels=40)`` prints ``sr=16000,
n_mels=40``. What a class's own :meth:`Transform.summary` adds (kernel shapes, the backend chosen)
follows, without repeating a name. ``verbose`` (nnAudio's logging switch) is not shown: it does not
change the transform. The comparison with defaults and the formatting are :mod:`nnaudio_data._repr`'s.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Dict, List, Tuple

from torch import nn

from .._repr import join, same


def _given(sig: inspect.Signature, args: tuple, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    bound = sig.bind(*args, **kwargs)
    out: Dict[str, Any] = {}
    for name, value in list(bound.arguments.items())[1:]:  # [0] is self
        par = sig.parameters[name]
        if par.kind is par.VAR_KEYWORD:
            out.update(value)
        elif par.kind is par.VAR_POSITIONAL:
            out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        elif name != "verbose" and not same(value, par.default):
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

    def summary(self) -> List[Tuple[str, Any]]:
        """What the class adds to the arguments in its ``repr``, as (name, value) pairs (override;
        default nothing)."""
        return []

    def extra_repr(self) -> str:
        given = {k: v for k, v in self.given_args().items()
                 if not isinstance(v, nn.Module)}  # a module argument is a child: shown below
        return join(list(given.items()) + [(k, v) for k, v in self.summary() if k not in given])
