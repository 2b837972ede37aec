"""``import`` section: start-up cost, each round in fresh interpreters.

- ``torch``: seconds of ``import torch``;
- ``nnaudio_data``: seconds of ``from nnaudio_data import *`` after ``import torch`` in the same
  process: the package's own cost with every public name loaded (goal: under 0.3 s). The top level
  is lazy, so a bare ``import nnaudio_data`` costs almost nothing: each name loads its module on
  first use, and this figure is what using all of them costs;
- ``nnaudio-data --help``: seconds of the whole command, interpreter start-up included; it imports
  neither torch nor any subcommand's module (only the chosen subcommand's module is imported).
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional

from .stats import summary, series

SYSTEMS = ("torch", "nnaudio_data", "nnaudio-data --help")
GOAL_S = 0.3

_PROBE = """
import json, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from nnaudio_data import *
t2 = time.perf_counter()
print(json.dumps({"import_s": %s}))
"""


def systems(cfg: Dict[str, Any]) -> List[str]:
    return list(SYSTEMS)


def external_command(system: str, cfg: Dict[str, Any]) -> Optional[List[str]]:
    """A bare interpreter: the runner's child would import the package before the clock starts."""
    if system == "nnaudio-data --help":
        probe = ("import json, subprocess, sys, time\nt0 = time.perf_counter()\n"
                 "subprocess.run([sys.executable, '-m', 'nnaudio_data.cli', '--help'], check=True, "
                 "stdout=subprocess.DEVNULL)\n"
                 "print(json.dumps({'import_s': time.perf_counter() - t0}))")
        return [sys.executable, "-c", probe]
    return [sys.executable, "-c", _PROBE % ("t1 - t0" if system == "torch" else "t2 - t1")]


def measure(system: str, cfg: Dict[str, Any]) -> Dict[str, float]:  # pragma: no cover - external
    raise RuntimeError("the import section is measured by bare interpreters (external_command)")


def summarize(raw, once, cfg) -> Dict[str, Any]:
    values = {s: summary([v for v in series(raw, s, "import_s") if v is not None]) for s in raw}
    return {"seconds": {s: v for s, v in values.items() if v}, "goal_s": GOAL_S}


def markdown(fig: Dict[str, Any], cfg: Dict[str, Any]) -> str:
    from .report import value_rows

    return ("| what | seconds, median (range) |\n|---|---:|\n"
            + value_rows(fig["seconds"], digits=3)
            + f"\n\n`nnaudio_data` is `from nnaudio_data import *` (every public name loaded; the top "
              f"level is lazy) after `import torch` in the same process (goal: under {fig['goal_s']} s); "
              "`nnaudio-data --help` imports neither torch nor any subcommand.")


def headline(fig: Dict[str, Any]) -> List[str]:
    from .stats import fmt_value

    s = fig["seconds"].get("nnaudio_data")
    return [f"`from nnaudio_data import *` after `import torch`: {fmt_value(s, unit=' s')}"] if s else []
