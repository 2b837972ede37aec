"""Object storage for real: shards written to and streamed from an S3-compatible server (moto's
server mode on 127.0.0.1, started here), through fsspec / s3fs, with DataLoader worker processes.
Skipped where moto or s3fs is not installed."""
import io
import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

import nnaudio_data as nd  # noqa: E402
from nnaudio_data.data import Retry, open_shard  # noqa: E402
from nnaudio_data.authoring._writer import write_shards  # noqa: E402
from s3kit import CuttingProxy, start_moto, storage_options  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "nnaudio-test"
CLASSES = ["no", "yes"]
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


@pytest.fixture(scope="module")
def s3():
    """(storage_options, endpoint) of a fresh moto server with one bucket."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server, endpoint = start_moto()
    options = storage_options(endpoint)
    import s3fs
    s3fs.S3FileSystem(**options).call_s3("create_bucket", Bucket=BUCKET)
    yield options, endpoint
    server.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder of 24 clips in two classes (8 kHz, 0.1 s), and its local shards."""
    root = tmp_path_factory.mktemp("corpus")
    for i in range(24):
        path = root / "src" / CLASSES[i % 2] / f"{i:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        sf.write(buf, np.random.default_rng(i).uniform(-0.5, 0.5, 800), 8000, format="WAV", subtype="PCM_16")
        path.write_bytes(buf.getvalue())
    args = dict(split=["valid=0.25"], shuffle=True, seed=5, max_count=5, progress=False)
    summary = write_shards(root / "src", root / "local", **args)
    return root, args, summary


def test_cli_writes_shards_to_s3(s3, corpus):
    options, _ = s3
    root, _, local = corpus
    proc = subprocess.run([sys.executable, "-m", "nnaudio_data.cli", "shard", str(root / "src"),
                           f"s3://{BUCKET}/corpus", "--split", "valid=0.25", "--shuffle", "--seed", "5",
                           "--max-count", "5", "--storage-options", json.dumps(options)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote 24 clips in {len(local.shards)} shards, {local.bytes} bytes" in proc.stdout
    import s3fs
    fs = s3fs.S3FileSystem(**options)
    names = sorted(p.rsplit("/", 1)[1] for p in fs.ls(f"{BUCKET}/corpus", refresh=True))
    assert names == sorted([*local.shards, "index.json", "train.index.json", "valid.index.json"])
    for name in names:  # the same shards, byte for byte, as written to a local folder
        assert fs.cat(f"{BUCKET}/corpus/{name}") == (root / "local" / name).read_bytes(), name


def _keys_labels(loader):
    out = {}
    for batch in loader:
        assert batch.labels.dtype == torch.int64
        out.update(zip(batch.keys, batch.labels.tolist()))
    return out


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_stream_exactly_once_over_two_workers_and_listing_glob(s3, corpus, context):
    options, _ = s3
    root, args, local = corpus
    write_shards(root / "src", f"s3://{BUCKET}/read-{context}", storage_options=options, **args)
    n_train = len(local.splits["train"].shards)
    braced = f"s3://{BUCKET}/read-{context}/train-{{000000..{n_train - 1:06d}}}.tar"
    ds = nd.ShardedAudioDataset(braced, sr=8000, storage_options=options, shuffle=True)
    listed = nd.ShardedAudioDataset(f"s3://{BUCKET}/read-{context}/train-*.tar", sr=8000, storage_options=options)
    assert listed.urls == ds.urls and len(ds.urls) == n_train
    assert ds.classes == CLASSES and len(ds) == 18  # index and classes read from the bucket
    got = _keys_labels(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=nd.collate_audio,
                                  multiprocessing_context=context))
    ref = nd.ShardedAudioDataset(str(root / "local" / "train-*.tar"), sr=8000)
    want = {s["key"]: s["label"] for s in ref}
    assert got == want and len(got) == 18  # every clip once, the same labels as from local disk
    for key, label in got.items():
        assert CLASSES[label] == key.split("__")[0]


def test_resume_from_s3(s3, corpus):
    options, _ = s3
    root, args, _ = corpus
    write_shards(root / "src", f"s3://{BUCKET}/resume", storage_options=options, **args)
    make = lambda: nd.ShardedAudioDataset(f"s3://{BUCKET}/resume/train-*.tar", sr=8000, shuffle=True,  # noqa: E731
                                          seed=1, storage_options=options)
    ds = make()
    before = []
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=nd.collate_audio)
    for i, batch in enumerate(ds.track(loader)):
        before += batch.keys
        if i == 1:
            break
    ds2 = make()
    ds2.load_state_dict(json.loads(json.dumps(ds.state_dict())))
    after = [k for b in ds2.track(DataLoader(ds2, batch_size=3, num_workers=2, collate_fn=nd.collate_audio))
             for k in b.keys]
    assert len(before) == 6 and not set(before) & set(after) and len(before) + len(after) == 18


def test_missing_object_is_a_named_skip(s3, corpus):
    options, _ = s3
    root, _, local = corpus
    name = next(iter(local.splits["valid"].shards))
    import s3fs
    s3fs.S3FileSystem(**options).pipe(f"{BUCKET}/noindex/a.tar", (root / "local" / name).read_bytes())
    urls = [f"s3://{BUCKET}/noindex/a.tar", f"s3://{BUCKET}/noindex/gone.tar"]
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip", storage_options=options)
    items = list(DataLoader(ds, batch_size=None, num_workers=0))
    assert len(items) == local.shards[name]
    assert ds.stats.skipped == Counter({"missing_shard": 1})
    with pytest.raises(nd.data.SampleError) as info:
        list(nd.ShardedAudioDataset(urls[1:], sr=8000, on_error="raise", storage_options=options))
    assert info.value.reason == "missing_shard" and info.value.url == urls[1]


def test_missing_bucket_is_a_clear_error(s3, corpus):
    options, _ = s3
    root, _, _ = corpus
    with pytest.raises(ValueError, match="bucket 'no-such-bucket' of 's3://no-such-bucket/x' does not exist"):
        write_shards(root / "src", "s3://no-such-bucket/x", storage_options=options, progress=False)


def test_dropped_connection_resumes_at_the_byte_offset(s3):
    """Responses cut mid-body: s3fs retries the range it was reading, and when it gives up (five
    cuts in a row) the reader reopens at the byte it had reached; never a restart from byte 0."""
    options, endpoint = s3
    import s3fs
    data = np.random.default_rng(0).bytes(3_000_000)
    s3fs.S3FileSystem(**options).pipe(f"{BUCKET}/big.tar", data)
    block = 512 * 1024
    proxy = CuttingProxy(endpoint, cut_path=f"/{BUCKET}/big.tar", cut_requests=range(2, 8), cut_after=200_000)
    try:
        via = storage_options(proxy.endpoint, default_block_size=block,
                              config_kwargs={"retries": {"max_attempts": 1}})
        with open_shard(f"s3://{BUCKET}/big.tar", Retry(backoff=0), storage_options=via) as f:
            got = f.read()
            retries = f.raw.retries
    finally:
        proxy.close()
    assert got == data and proxy.cuts == 6
    starts = [start for method, _, start in proxy.requests if method == "GET"]
    assert starts[0] == 0 and all(s > 0 for s in starts[1:]), starts
    assert starts[1:8] == [starts[1]] * 7  # the cut range again, by s3fs and then by our reader
    assert retries == 1  # s3fs gave up once (after its own attempts); our reader resumed


def test_listed_object_named_like_a_command_is_an_object(s3, corpus, tmp_path, monkeypatch):
    """A bucket listing is data: an object named ``pipe:...`` matched by a glob is read from the
    store, never run."""
    import s3fs

    options, _ = s3
    root, _, summary = corpus
    shard = root / "local" / sorted(summary.splits["train"].shards)[0]
    fs = s3fs.S3FileSystem(**options)
    fs.put(str(shard), f"{BUCKET}/evil/pipe:touch PWNED; cat x #.tar")
    monkeypatch.chdir(tmp_path)
    ds = nd.ShardedAudioDataset(f"s3://{BUCKET}/evil/*.tar", sr=8000, storage_options=options, on_error="raise")
    assert ds.urls == [f"s3://{BUCKET}/evil/pipe:touch PWNED; cat x #.tar"]
    assert len(list(ds)) == summary.splits["train"].shards[shard.name] and not (tmp_path / "PWNED").exists()
