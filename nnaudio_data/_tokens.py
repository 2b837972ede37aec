"""One registry for objects that cross process boundaries by reference: a :class:`Token` names a
live object in the process that owns it.

Two things travel this way. A collate (``_collate.py``): a batch pickled back from a DataLoader
worker refers to its collate by token, so the main process runs the one live collate, whose kernel
the optimiser holds, instead of a copy. And a dataset's stats inbox (``data/_progress.py``): each
sample's tag names the inbox of the dataset that made it, so that whoever hands the batch over
(``ds.track``, ``nd.DeviceLoader``) can deliver the counts the tag carries to it.

The rules:

- :func:`register` is called by the object's owner, in its own process; the token holds that
  process id and a serial number, so tokens of different processes never collide.
- A :class:`Token` is a plain named tuple: unpickling one does nothing but carry the two ints. What
  a token stands for is looked up explicitly, with :func:`resolve`, by the code that needs it.
- :func:`resolve` answers in the owning process only (and in a process that :func:`adopt`-ed a copy
  under the token). A forked child inherits this module's table, but its entries are keyed by the
  process that made them, so the child does not see its parent's objects: there, as in any other
  process, :func:`resolve` returns None.
- Entries are weak: the registry never keeps an object alive.

Example:
    >>> class Thing: pass
    >>> thing = Thing()
    >>> token = register(thing)
    >>> resolve(token) is thing
    True
    >>> import pickle; resolve(pickle.loads(pickle.dumps(token))) is thing
    True
    >>> resolve(Token(pid=token.pid + 1, serial=token.serial)) is None   # another process's
    True
"""
from __future__ import annotations

import itertools
import os
import weakref
from typing import Any, NamedTuple, Optional, Tuple

__all__ = ["Token", "register", "adopt", "resolve"]


class Token(NamedTuple):
    """The name of a registered object: the owner's process id and a serial number."""

    pid: int
    serial: int


# (process that registered, token) -> object. The process id in the key keeps a forked child from
# resolving what it inherited from its parent.
_LIVE: "weakref.WeakValueDictionary[Tuple[int, Token], Any]" = weakref.WeakValueDictionary()
_SERIAL = itertools.count()


def register(obj: Any) -> Token:
    """Register ``obj`` (owned by this process) and return its new token."""
    token = Token(os.getpid(), next(_SERIAL))
    _LIVE[(token.pid, token)] = obj
    return token


def adopt(token: Token, obj: Any) -> None:
    """Make ``obj`` what ``token`` stands for in this process: a copy rebuilt here of an object
    that another process owns (a collate unpickled in a spawned worker), so that later look-ups in
    this process find that one copy."""
    _LIVE[(os.getpid(), token)] = obj


def resolve(token: Any) -> Optional[Any]:
    """The object ``token`` stands for in this process: the owner's object, an adopted copy, or
    None (another process's token, an object since collected, or not a token at all)."""
    if not isinstance(token, Token):
        return None
    return _LIVE.get((os.getpid(), token))
