"""Spectrogram kinds by name: the one table (:data:`KINDS`, :data:`LOG_KINDS`) that
``GPUSpectrogramCollate(kind)`` reads."""
from __future__ import annotations

import difflib
import inspect
import re
from typing import Any, Dict, List, Tuple

from torch import nn

# kind -> (class name in nnaudio_data.features, defaults the collate applies unless overridden)
KINDS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "stft": ("STFT", {"output_format": "Magnitude"}),
    "log": ("STFT", {"output_format": "Magnitude", "freq_scale": "log"}),
    "mel": ("MelSpectrogram", {}),
    "mfcc": ("MFCC", {}),
    "cqt": ("CQT", {"output_format": "Magnitude"}),
    "vqt": ("VQT", {"output_format": "Magnitude"}),
    "gammatone": ("Gammatonegram", {}),
}
# log kinds -> (spectrogram kind above, what it outputs: the dB conversion); built by db.make_log
LOG_KINDS: Dict[str, Tuple[str, str]] = {"logmel": ("mel", "power"), "logstft": ("stft", "amplitude")}


def resolve_kind(kind: str) -> str:
    """The registered kind named ``kind``, matched case-insensitively ("MEL" is "mel"); any other
    name raises a ``ValueError`` that lists the kinds and suggests the closest ones.

    Example:
        >>> resolve_kind("LogMel")
        'logmel'
        >>> resolve_kind("mell")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: kind 'mell' is not a spectrogram kind; did you mean 'mel' or 'logmel'? ...
    """
    names = sorted([*KINDS, *LOG_KINDS])
    if not isinstance(kind, str):
        raise TypeError(f"kind must be one of {names} or an nn.Module, got {type(kind).__name__}")
    if kind.lower() in names:
        return kind.lower()
    close = difflib.get_close_matches(kind.lower(), names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise ValueError(f"kind {kind!r} is not a spectrogram kind; {hint}"
                     f"kind must be one of {names} or an nn.Module")


# classes whose **kwargs go on to another class of the table (Mel = STFT + filterbank, ...)
FORWARDS: Dict[str, str] = {"MelSpectrogram": "STFT", "MFCC": "MelSpectrogram", "Gammatonegram": "STFT"}
_UNEXPECTED = re.compile(r"(?:unexpected keyword argument|takes no argument) '(\w+)'")


def _class_name(kind: str) -> str:
    return KINDS[LOG_KINDS[kind][0] if kind in LOG_KINDS else kind][0]


def kernel_arguments(kind: str) -> List[str]:
    """The named arguments of the collate's ``kind`` (sorted), following :data:`FORWARDS`: the
    candidates a misspelt one is matched against (a constructor may take more, by ``**kwargs``).

    Example:
        >>> "n_mels" in kernel_arguments("mfcc"), "top_db" in kernel_arguments("logmel")
        (True, True)
    """
    from nnaudio_data import features
    from ._db import _DB_ARGS

    kind = resolve_kind(kind)
    names, cls_name = set(_DB_ARGS) if kind in LOG_KINDS else set(), _class_name(kind)
    while cls_name:
        params = inspect.signature(getattr(features, cls_name)).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        cls_name = FORWARDS.get(cls_name, "") if any(p.kind == p.VAR_KEYWORD for p in params) else ""
    return sorted(names)


def misspelt_argument(kind: str, error: TypeError) -> TypeError:
    """The constructor's "unexpected keyword argument" error, saying which kind it was for and the
    closest arguments that kind takes; any other TypeError as it is.

    Example:
        >>> misspelt_argument("mel", TypeError("STFT.__init__() got an unexpected keyword argument 'n_mel'"))
        TypeError("kind 'mel' (features.MelSpectrogram) takes no argument 'n_mel'; did you mean 'n_mels'?")
    """
    m = _UNEXPECTED.search(str(error))
    if m is None:
        return error
    name, accepted = m.group(1), kernel_arguments(kind)
    close = (difflib.get_close_matches(name, accepted, n=2, cutoff=0.6)
             or [a for a in accepted if a.startswith(name)][:2])  # "hop": "hop_length"
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return TypeError(f"kind {kind!r} (features.{_class_name(kind)}) takes no argument {name!r}{hint}")


def make_transform(kind: "str | nn.Module", **kwargs: Any) -> nn.Module:
    """Build the transform named ``kind`` with ``kwargs``, or return a given module as it is.

    Example:
        >>> make_transform("mel", sr=16000, n_fft=512, n_mels=40).__class__.__name__
        'MelSpectrogram'
    """
    if isinstance(kind, nn.Module):
        if kwargs:
            raise ValueError(f"kernel arguments are only accepted with a kind name, got a module "
                             f"and {sorted(kwargs)}")
        return kind
    from ._db import make_log

    kind = resolve_kind(kind)
    try:
        if kind in LOG_KINDS:
            return make_log(kind, **kwargs)
        return _build(kind, kwargs)
    except TypeError as e:  # a misspelt argument: say which kind, and what was meant
        raise misspelt_argument(kind, e) from None


def _build(kind: str, kwargs: Dict[str, Any]) -> nn.Module:
    from nnaudio_data import features

    cls_name, defaults = KINDS[kind]
    cls = getattr(features, cls_name, None)
    if cls is None:
        raise NotImplementedError(f"kind {kind!r} needs features.{cls_name}, which is not available")
    return cls(**{**defaults, **kwargs})
