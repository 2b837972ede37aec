"""PNG bar chart of benchmark seconds (per system, per transform, log scale), when matplotlib is
importable; otherwise a note and nothing written."""
from __future__ import annotations

import os
from typing import Dict, Optional


def write_chart(seconds: Dict[str, Dict[str, float]], out: str, name: str) -> Optional[str]:
    """Write ``<out>/<name>.png`` from ``{transform: {system: seconds}}``; return its path or None.

    Example:
        >>> write_chart({}, ".", "empty") is None
        True
    """
    if not seconds:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no chart written")
        return None
    transforms = list(seconds)
    systems = list(dict.fromkeys(s for t in transforms for s in seconds[t]))
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(2 + 2 * len(transforms), 4))
    for i, system in enumerate(systems):
        xs = [j + i * width for j in range(len(transforms))]
        ax.bar(xs, [seconds[t].get(system, float("nan")) for t in transforms], width, label=system)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(transforms))], transforms)
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log scale)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
