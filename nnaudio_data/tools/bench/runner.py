"""The bench's schedule: every system of every section is measured ``reps`` times, each time in a
fresh process, interleaved (round r runs every system once, starting one system later than round
r - 1), so that every system sees the same machine load. Nothing is measured in the parent.

A section module exposes:

- ``systems(cfg) -> list``: the systems to measure (ours and peers);
- ``measure(system, cfg) -> dict``: one measurement ``{task: value}``, run in a fresh process
  (``python -m nnaudio_data.tools.bench.child SECTION SYSTEM CONFIG``); it returns
  ``{"skipped": reason}`` when the system is not importable;
- ``summarize(raw, once, cfg) -> dict``: the figures, from ``raw`` (system -> one ``{task: value}``
  or None per round) and ``once``;
- optionally ``prepare(cfg, workdir) -> dict`` (config additions, e.g. shards written once, in the
  parent), ``once(cfg) -> dict`` (untimed checks run once in a fresh process: accuracy, kernel
  bytes, memory), and ``external_command(system, cfg) -> list | None`` (a command line for a system
  measured by another interpreter, e.g. an environment with torchaudio).
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional

SECTIONS = ("import", "spectrogram", "cqt", "loader", "augment", "kws")
_MODULES = {"import": "importtime"}
CHILD_LIMIT_S = 3600  # a hang bound for one child; no honest measurement comes near it
ONCE = "__once__"


def section_module(name: str):
    return importlib.import_module(f"nnaudio_data.tools.bench.{_MODULES.get(name, name)}")


def child_env(threads: int) -> Dict[str, str]:
    """The parent's environment with this package importable and every thread pool at ``threads``."""
    import nnaudio_data

    root = os.path.dirname(os.path.dirname(os.path.abspath(nnaudio_data.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_child(cmd: List[str], threads: int) -> Dict[str, Any]:
    """Run one measurement process; its last stdout line is the JSON result."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=child_env(threads),
                              timeout=CHILD_LIMIT_S)
    except subprocess.TimeoutExpired:
        return {"failed": f"no result after {CHILD_LIMIT_S} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"failed": f"exit {done.returncode}: {tail}"}
    return json.loads(lines[-1])


def _command(mod, section: str, system: str, cfg: Dict[str, Any]) -> List[str]:
    external = getattr(mod, "external_command", None)
    cmd = external(system, cfg) if external else None
    return cmd or [sys.executable, "-m", "nnaudio_data.tools.bench.child", section, system, json.dumps(cfg)]


def run_section(section: str, cfg: Dict[str, Any], reps: int, log=print) -> Dict[str, Any]:
    """Measure one section: ``reps`` interleaved rounds of fresh processes, then its once-checks."""
    mod = section_module(section)
    workdir = tempfile.mkdtemp(prefix=f"nnaudio-bench-{section}-")
    try:
        scfg = dict(cfg)
        if hasattr(mod, "prepare"):
            scfg.update(mod.prepare(scfg, workdir))
        systems = list(mod.systems(scfg))
        raw: Dict[str, List[Optional[Dict[str, float]]]] = {s: [None] * reps for s in systems}
        notes: Dict[str, str] = {}
        for r in range(reps):
            k = r % max(1, len(systems))
            for system in systems[k:] + systems[:k]:
                if system in notes:
                    continue  # not importable or failed: said once, not retried
                result = run_child(_command(mod, section, system, scfg), scfg["threads"])
                if "skipped" in result or "failed" in result:
                    notes[system] = result.get("skipped") or result["failed"]
                    log(f"  {system}: {notes[system]}")
                    continue
                raw[system][r] = result
                log(f"  round {r + 1}/{reps} {system:24s} " + "  ".join(
                    f"{t} {v:.4g}" for t, v in result.items() if isinstance(v, (int, float))))
        raw = {s: v for s, v in raw.items() if any(x is not None for x in v)}
        once: Dict[str, Any] = {}
        if hasattr(mod, "once"):
            once = run_child(_command(mod, section, ONCE, scfg), scfg["threads"])
        public_cfg = {k: v for k, v in scfg.items() if not k.startswith("_")}
        return {"raw": raw, "once": once, "notes": notes, "config": public_cfg,
                "figures": mod.summarize(raw, once, scfg)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
