"""``nnaudio-data bench --check FILE``: does a run reproduce a previous one? The sections of FILE
are measured again with FILE's configuration, and every speed ratio whose new median falls outside
FILE's range for it (min-max over its rounds) is flagged, in the new ``bench.json``: the summary
gets a ``flag`` (printed "did not reproduce") and ``check.flags`` lists them all. ``--report``
refuses to publish a run with flags unless ``--force``.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Tuple

# the run-level settings a rerun must share with FILE (besides each section's own arguments)
RUN_KEYS = ("clips", "sr", "length", "threads", "device")


def ratio_items(bench: Dict[str, Any]) -> Iterator[Tuple[str, str, str, Dict[str, Any]]]:
    """Every measured ratio of a bench: ``(section, task, "OURS vs PEER", summary)``.

    Example:
        >>> s = {"median": 2.0, "min": 1.5, "max": 2.5, "n": 3}
        >>> [i[:3] for i in ratio_items({"sections": {"spec": {"figures": {"ratios": {"mel": {"a vs b": s}}}}}})]
        [('spec', 'mel', 'a vs b')]
    """
    for section, sec in bench.get("sections", {}).items():
        for task, ratios in sec.get("figures", {}).get("ratios", {}).items():
            for name, s in ratios.items():
                if s:
                    yield section, task, name, s


def load(path: str) -> Dict[str, Any]:
    with open(path) as f:
        bench = json.load(f)
    if not isinstance(bench, dict) or not bench.get("sections"):
        raise ValueError(f"{path} must be a bench.json with measured sections, found none")
    return bench


def rerun_config(old: Dict[str, Any], cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The configuration that measures ``old``'s sections again: ``cfg`` (the command line's)
    overridden by what ``old`` was measured with (its run settings and each section's arguments).

    Example:
        >>> old = {"clips": 400, "sections": {"spec": {"config": {"spec_batch": 16, "_tmp": 1}}}}
        >>> rerun_config(old, {"clips": 8, "spec_batch": 2, "out": "x"})
        {'clips': 400, 'spec_batch': 16, 'out': 'x'}
    """
    out = dict(cfg)
    out.update({k: old[k] for k in RUN_KEYS if k in old and k in cfg})
    for sec in old.get("sections", {}).values():
        out.update({k: v for k, v in sec.get("config", {}).items() if k in cfg})
    out.update({k: v for k, v in old.get("config", {}).items() if k in cfg})
    return out


def check(new: Dict[str, Any], old: Dict[str, Any], against: str) -> List[str]:
    """Flag every ratio of ``new`` whose median lies outside ``old``'s range for the same ratio;
    record the result in ``new["check"]`` and return the flags (one line each).

    Example:
        >>> s = lambda m, lo, hi: {"median": m, "min": lo, "max": hi, "n": 3}
        >>> b = lambda r: {"sections": {"spec": {"figures": {"ratios": {"mel": {"a vs b": r}}}}}}
        >>> new = b(s(1.0, 0.9, 1.1))
        >>> check(new, b(s(2.0, 1.5, 2.5)), "old.json")
        ["spec/mel: a vs b 1.00x, outside the previous run's range 1.50-2.50x"]
        >>> new["check"]["compared"], "flag" in new["sections"]["spec"]["figures"]["ratios"]["mel"]["a vs b"]
        (1, True)
    """
    previous = {item[:3]: item[3] for item in ratio_items(old)}
    flags, compared = [], 0
    for section, task, name, s in ratio_items(new):
        o = previous.get((section, task, name))
        if not o:
            continue
        compared += 1
        if not o["min"] <= s["median"] <= o["max"]:
            s["flag"] = f"outside the previous run's range {o['min']:.2f}-{o['max']:.2f}x"
            flags.append(f"{section}/{task}: {name} {s['median']:.2f}x, {s['flag']}")
    new["check"] = {"against": against, "compared": compared, "flags": flags}
    return flags
