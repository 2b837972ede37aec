"""Train a classifier on a trainable log-mel computed in the collate stage, on the GPU when present.

    python examples/train_mel_classifier.py                      # synthesizes shards first
    python examples/train_mel_classifier.py "data/piano-{000000..000017}.tar" --sr 44100

The clips are trimmed as in the nnAudio benchmark on MAPS piano clips: skip the first ``--offset``
samples (20,000), keep ``--length`` (80,000). With no shard pattern, a small synthetic set (tones,
chords, noise) is written to a temporary folder.

What it shows, end to end:

- the mel filterbank is trainable (kept non-negative), its log (dB) is the model's input, and the
  optimiser holds the collate's parameters next to the model's;
- ``DeviceLoader`` prepares batches ahead while the trainable kernel runs at hand-over, with the
  parameters of that moment;
- DataLoader workers are spawned (safe next to CUDA and a process group's threads) and
  persistent (torch and the package are imported once per run, not once per epoch); the
  waveform (gain, colored noise) and the log-mel (frequency and time masks) are augmented with
  seeds derived per process;
- a checkpoint holds the model, the collate's kernel and the optimiser; it is restored into a
  fresh collate that then computes the same log-mel.
"""
import argparse
import os
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.augment import AddColoredNoise, Compose, FrequencyMasking, Gain, TimeMasking
from nnaudio_data.tools.demo import write_demo_shards


def make_collate(args, augment=True):
    """The log-mel collate; its kernel is built for the clips' rate, ``args.sr``."""
    aug = dict(augment=Compose([Gain((-6.0, 6.0)), AddColoredNoise((10.0, 30.0))]),
               spec_augment=Compose([FrequencyMasking(8), TimeMasking(10)])) if augment else {}
    return nd.GPUSpectrogramCollate("logmel", device=args.device, sr=args.sr, n_fft=args.n_fft,
                                    hop_length=args.n_fft // 4, n_mels=args.n_mels,
                                    trainable_mel=True, seed=0, **aug)


def make_model(n_mels, n_classes):
    """log-mel in dB (B, F, N) -> logits (B, K)."""
    return nn.Sequential(nn.BatchNorm1d(n_mels), nn.Conv1d(n_mels, 32, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, n_classes))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("urls", nargs="?", help="shard pattern (default: synthesize a small set)")
    p.add_argument("--sr", type=int, default=44100)
    p.add_argument("--offset", type=int, default=20_000)
    p.add_argument("--length", type=int, default=80_000)
    p.add_argument("--clips", type=int, default=192, help="clips to synthesize (default 192)")
    p.add_argument("--n-fft", type=int, default=2048)
    p.add_argument("--n-mels", type=int, default=128)
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default=None, help="default: cuda when present, else cpu")
    p.add_argument("--checkpoint", default=None, help="where to save (default: a temporary file)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        seconds = (args.offset + args.length) / args.sr * 1.2
        urls = args.urls or write_demo_shards(tmp, clips=args.clips, sr=args.sr, seconds=seconds)
        ds = nd.ShardedAudioDataset(urls, sr=args.sr, offset=args.offset, length=args.length,
                                    shuffle=256, seed=0)
        collate = make_collate(args)
        loader = DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers, collate_fn=collate,
                            pin_memory=collate.device.type == "cuda",
                            multiprocessing_context="spawn" if args.workers else None,
                            persistent_workers=args.workers > 0)
        model = make_model(args.n_mels, args.classes).to(collate.device)
        opt = torch.optim.Adam(list(model.parameters()) + list(collate.parameters()), lr=3e-3)
        for epoch in range(args.epochs):
            ds.set_epoch(epoch)
            collate.set_epoch(epoch)
            for batch in nd.DeviceLoader(loader):   # batch.spec: (B, n_mels, N) log-mel in dB
                loss = nn.functional.cross_entropy(model(batch.spec), batch.labels.to(collate.device))
                opt.zero_grad()
                loss.backward()
                opt.step()
            print(f"epoch {epoch}: loss {loss.item():.3f}", flush=True)

        path = args.checkpoint or os.path.join(tmp, "checkpoint.pt")
        torch.save({"model": model.state_dict(), "collate": collate.state_dict(),
                    "optimizer": opt.state_dict(), "epoch": args.epochs}, path)
        restored = make_collate(args, augment=False)
        restored.load_state_dict(torch.load(path)["collate"])
        probe = [{"waveform": torch.randn(1, args.length, generator=torch.Generator().manual_seed(0)),
                  "sr": args.sr}]
        same = torch.equal(restored.eval()(probe).spec, collate.eval()(probe).spec)
        print(f"checkpoint {os.path.basename(path)}: restored collate gives the same log-mel: {same}")
        if not same:
            raise SystemExit("the restored collate differs from the trained one")


if __name__ == "__main__":
    main()
