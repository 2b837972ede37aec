"""Label maps: class names <-> int64 class ids, single- and multi-label.

The shard writer decides the label space of a corpus once, over every split, with
:func:`label_space`, and records it in the shard index (``"classes"``, sorted, and
``"multi_label"``). Readers turn stored labels into ids with :class:`LabelMap`: a class name
becomes its index in ``classes`` (an int, int64 once collated), a list of names becomes a
multi-hot float32 tensor (K,). A name not in ``classes`` is the sample's ``unknown_label`` skip.

Which labels get a map: when every label present is a string (or, for multi-label corpora, a
list of strings), or a mix of strings and integers (integers then count as names too: "7" and 7
are one class). Labels that are all integers are class ids already and get none; other labels
(transcripts, note lists, dicts) are kept as they are.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch

from ._errors import ErrorPolicy, SampleError
from .._checks import check_arg

LABEL_MODES = ("auto", "raw")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _name(x: Any) -> str:
    return str(x)  # names are exact: "dog" and "dog " are two classes


def label_space(labels: Iterable[Any]) -> Tuple[Optional[List[str]], bool]:
    """(sorted class names, multi_label) of a corpus's labels; (None, False) when they need no map.

    Example:
        >>> label_space(["dog", "cat", None, "dog"])
        (['cat', 'dog'], False)
        >>> label_space([["dog", "bark"], ["cat"]])
        (['bark', 'cat', 'dog'], True)
        >>> label_space([3, "12", 0])
        (None, False)
    """
    names: set = set()
    multi, only_ints = False, True
    for label in labels:
        if label is None:
            continue
        if isinstance(label, (list, tuple)):
            if not all(isinstance(x, str) or _is_int(x) for x in label):
                return None, False  # e.g. note lists: kept as they are
            multi, only_ints = True, False
            names.update(_name(x) for x in label)
        elif isinstance(label, str) and not label.strip().lstrip("+-").isdigit():
            only_ints = False
            names.add(_name(label))
        elif _is_int(label) or isinstance(label, str):
            names.add(_name(label))
        else:
            return None, False
    if only_ints:
        return None, False
    return sorted(names), multi


class LabelMap:
    """Class names -> ids: ``encode("dog")`` is an int, ``encode(["dog", "cat"])`` (multi-label)
    a multi-hot float32 tensor.

    Args:
        classes (sequence of str): the class names; a name's id is its position.
        multi_label (bool): labels are lists of names -> multi-hot (K,). Default False.

    Shape:
        multi-label output: (K,), K = ``len(classes)``.

    Example:
        >>> m = LabelMap(["cat", "dog"]); m.encode("dog", "a.tar", "k")
        1
        >>> LabelMap(["bark", "cat", "dog"], multi_label=True).encode(["dog", "bark"], "a.tar", "k")
        tensor([1., 0., 1.])
    """

    def __init__(self, classes: Sequence[str], multi_label: bool = False):
        classes = [str(c) for c in classes]
        check_arg(len(set(classes)) == len(classes), "classes", "unique names", classes)
        self.classes, self.multi_label = classes, bool(multi_label)
        self._ids: Dict[str, int] = {c: i for i, c in enumerate(classes)}

    def _id(self, name: Any, url: str, key: str) -> int:
        i = self._ids.get(_name(name)) if isinstance(name, str) or _is_int(name) else None
        if i is None:
            raise SampleError(url, key, "unknown_label", f"label {name!r} is not one of the "
                                                         f"{len(self.classes)} classes of the index")
        return i

    def encode(self, label: Any, url: str, key: str) -> Any:
        """The id (or multi-hot tensor) of ``label``; None stays None; raises SampleError."""
        if label is None:
            return None
        if not self.multi_label:
            return self._id(label, url, key)
        names = label if isinstance(label, (list, tuple)) else [label]
        hot = torch.zeros(len(self.classes), dtype=torch.float32)
        for name in names:
            hot[self._id(name, url, key)] = 1.0
        return hot

    def __repr__(self) -> str:
        multi = ", multi_label=True" if self.multi_label else ""
        return f"LabelMap({len(self.classes)} classes{multi})"


def resolve_labels(labels: Any, index_doc: Optional[dict]) -> Optional[LabelMap]:
    """The map a dataset applies: ``labels="auto"`` takes the index's ``classes`` (none without),
    ``"raw"`` none, a sequence of names those names (single-label)."""
    if isinstance(labels, str):
        check_arg(labels in LABEL_MODES, "labels", f"one of {LABEL_MODES} or a list of class names", labels)
        if labels == "raw" or not index_doc or not index_doc.get("classes"):
            return None
        return LabelMap(index_doc["classes"], bool(index_doc.get("multi_label", False)))
    if isinstance(labels, LabelMap):
        return labels
    if isinstance(labels, (list, tuple)) and labels and all(isinstance(c, str) for c in labels):
        return LabelMap(labels)
    raise ValueError(f"labels must be one of {LABEL_MODES} or a list of class names, got {labels!r}")


def map_labels(items: Iterable[Dict[str, Any]], label_map: Optional[LabelMap],
               policy: ErrorPolicy) -> Iterator[Dict[str, Any]]:
    """Stream stage: each item's ``label`` through ``label_map`` (none: unchanged); an unknown
    name is that item's ``unknown_label`` rejection under ``policy``."""
    if label_map is None:
        yield from items
        return
    for item in items:
        try:
            item["label"] = label_map.encode(item["label"], item["url"], item["key"])
        except SampleError as e:
            e.index = item.get("__index__")
            policy.handle(e)
            continue
        yield item
