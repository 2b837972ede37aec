"""One measurement in a fresh process: ``python -m nnaudio_data.tools.bench.child SECTION SYSTEM CONFIG``
prints the result as one JSON line (see ``runner.py``)."""
from __future__ import annotations

import json
import sys
from typing import List

from .runner import ONCE, section_module


def child_main(argv: List[str]) -> int:
    """``python -m nnaudio_data.tools.bench.child SECTION SYSTEM CONFIG_JSON``: one measurement."""
    section, system, cfg = argv[0], argv[1], json.loads(argv[2])
    import torch

    torch.set_num_threads(int(cfg["threads"]))
    mod = section_module(section)
    try:
        result = mod.once(cfg) if system == ONCE else mod.measure(system, cfg)
    except ImportError as e:
        result = {"skipped": f"not importable ({e})"}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
