"""The README's multi-rank snippet runs as written under torchrun (two gloo ranks), on a small
synthetic shard set; run again, it resumes from its checkpoint. Substituted before running: the
shard pattern, and one DataLoader worker per rank instead of four (two busy cores)."""
import os
import re
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANG = 900  # seconds: only a hang reaches this


def readme_snippet() -> str:
    text = open(os.path.join(ROOT, "README.md")).read()
    block = re.search(r"<!-- ddp-snippet:[^\n]*-->\n```python\n(.*?)```", text, re.S)
    assert block, "README lost its ddp-snippet block"
    return block.group(1)


@pytest.mark.slow  # torchrun, two ranks with a spawned worker each, run twice: ~1 min
def test_readme_ddp_snippet_runs_and_resumes(tmp_path):
    from nnaudio_data.tools.demo import write_demo_shards

    urls = write_demo_shards(str(tmp_path / "data"), clips=48, sr=16000, seconds=0.5, per_shard=8)
    code = readme_snippet()
    assert 'URLS = "speech-{0000..0099}.tar"' in code and "num_workers=4" in code
    code = code.replace('URLS = "speech-{0000..0099}.tar"', f"URLS = {urls!r}").replace("num_workers=4", "num_workers=1")
    script = tmp_path / "train.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    for attempt in range(2):
        proc = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG)
        assert proc.returncode == 0, proc.stderr[-3000:]
        names = sorted(os.listdir(tmp_path / "checkpoints"))
        assert names and all(n.startswith("step-") for n in names), names
    snapshot = torch.load(tmp_path / "checkpoints" / names[-1], weights_only=True)
    assert snapshot["epoch"] == 3 and snapshot["world"] == 2
    assert len(snapshot["ranks"]) == 2 and set(snapshot["shared"]) == {"model", "optimizer", "collate"}
