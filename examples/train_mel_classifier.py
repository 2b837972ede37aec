"""Train a classifier on mel spectrograms computed in the collate stage, on the GPU when present.

    python examples/train_mel_classifier.py                      # synthesizes shards first
    python examples/train_mel_classifier.py "data/piano-{000000..000017}.tar" --sr 44100

The clips are trimmed as in the nnAudio benchmark on MAPS piano clips: skip the first 20,000
samples, keep 80,000. With no shard pattern, a small synthetic set (tones, chords, noise) is
written to a temporary folder.
"""
import argparse
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.demo import TinyClassifier, write_demo_shards


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("urls", nargs="?", help="shard pattern (default: synthesize a small set)")
    p.add_argument("--sr", type=int, default=44100)
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        urls = args.urls or write_demo_shards(tmp, clips=192, sr=args.sr, seconds=2.4)
        ds = nd.ShardedAudioDataset(urls, sr=args.sr, offset=20_000, length=80_000, shuffle=256)
        collate = nd.GPUSpectrogramCollate("mel", sr=args.sr, n_fft=2048, hop_length=512, n_mels=128)
        loader = DataLoader(ds, batch_size=64, num_workers=args.workers, collate_fn=collate,
                            pin_memory=collate.device.type == "cuda")
        model = TinyClassifier(n_mels=128, n_classes=args.classes).to(collate.device)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for epoch in range(args.epochs):
            ds.set_epoch(epoch)
            for batch in nd.DeviceLoader(loader):   # batch.spec: (B, 128, N) on the collate's device
                loss = nn.functional.cross_entropy(model(batch.spec), batch.labels.to(collate.device))
                opt.zero_grad()
                loss.backward()
                opt.step()
            print(f"epoch {epoch}: loss {loss.item():.3f}")


if __name__ == "__main__":
    main()
