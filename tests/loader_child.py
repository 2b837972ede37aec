"""Run every collate feature (four loaders, five sets of workers) through DataLoader workers started by one start method; print one
JSON line of per-configuration digests. Run as a script by ``test_start_methods.py`` so that its
stderr (worker tracebacks, aborts at shutdown) can be checked for silence:

    python tests/loader_child.py CONTEXT SHARD_DIR
"""
import hashlib
import json
import sys

import torch
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.augment import (AddBackgroundNoise, AddColoredNoise, ApplyImpulseResponse, Compose,
                                  FrequencyMasking, Gain, Mixup, TimeMasking, TimeShift)

SR = 8000
KERNEL = dict(sr=SR, n_fft=128, hop_length=64, n_mels=16)


def digest(batches):
    h = hashlib.sha256()
    for b in batches:
        for t in (b.waveform, b.spec, b.labels):
            h.update(t.detach().contiguous().numpy().tobytes())
        h.update(",".join(b.keys).encode())
    return h.hexdigest()[:16]


def noise_source():
    g = torch.Generator().manual_seed(5)
    return [torch.randn(300 + 50 * i, generator=g) for i in range(4)]


def configs():
    """name -> (collate, loader options, consume with DeviceLoader and train)."""
    wave = Compose([Gain((-6.0, 6.0)), AddColoredNoise(20.0, color=(-1.0, 1.0)), TimeShift(0.1),
                    AddBackgroundNoise(noise_source(), snr_db=15.0),
                    ApplyImpulseResponse([torch.tensor([1.0, 0.0, 0.3])])])
    spec = Compose([FrequencyMasking(4), TimeMasking(3)])
    return {
        "augment_mixup_in_workers": (nd.GPUSpectrogramCollate(
            "mel", device="cpu", augment=Compose([wave, Mixup(0.4, 64)]), seed=1, **KERNEL),
            {"persistent_workers": True}, False),
        "spec_augment_main": (nd.GPUSpectrogramCollate("stft", device="cpu", n_fft=128,
                                                       spec_augment=spec, where="main"), {}, False),
        "trainable_deviceloader": (nd.GPUSpectrogramCollate("mel", device="cpu", augment=wave,
                                                            spec_augment=spec, trainable_mel=True,
                                                            **KERNEL), {}, True),
    }


def run(ctx, urls):
    out = {}
    for name, (collate, opts, train) in configs().items():
        ds = nd.ShardedAudioDataset(urls, sr=SR, length=600)
        loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate,
                            multiprocessing_context=ctx, **opts)
        if train:
            opt = torch.optim.SGD(collate.parameters(), lr=0.1)
            batches = []
            for b in nd.DeviceLoader(loader, prefetch=2):
                loss = b.spec.mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                batches.append(b)
        else:
            batches = list(loader)
            if opts.get("persistent_workers"):
                batches += list(loader)  # a second epoch on the same workers
        out[name] = digest(batches)
        if train:  # an iterator abandoned after one batch: its workers are shut down mid-stream
            next(iter(loader)).spec
    # the shutdown race: an iterator abandoned while workers still send large batches (a spectrogram
    # computed in the worker is moved to shared memory by the queue's feeder thread)
    big = [{"waveform": torch.randn(1, 16000, generator=torch.Generator().manual_seed(i))} for i in range(128)]
    loader = DataLoader(big, batch_size=16, num_workers=2, multiprocessing_context=ctx, prefetch_factor=4,
                        collate_fn=nd.GPUSpectrogramCollate("stft", device="cpu", n_fft=512, hop_length=16))
    for i, _ in enumerate(loader):
        if i == 1:
            break
    print(json.dumps(out))


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
