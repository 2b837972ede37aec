"""Train a trainable log-mel front end and a classifier on several ranks, with one consistent
checkpoint for the whole job and resume after a kill.

    torchrun --standalone --nproc_per_node 2 examples/train_ddp.py --checkpoint-dir ckpt
    # kill it (see README, "Stopping a torchrun job"), run the same command again: it resumes

Without shard patterns, a small synthetic set is written to ``--data`` (once, by rank 0).

What it shows, end to end:

- the collate's mel filterbank is trainable; under a process group it runs inside its own
  ``DistributedDataParallel`` (automatically), so its gradients are averaged over the ranks as the
  model's are, and the kernels stay identical on every rank;
- DataLoader workers are spawned and persistent: no worker is forked from a rank that runs the
  process group's threads, a worker exits by itself when its rank is killed, CUDA is never
  touched in a worker, and torch and the package are imported once per job, not once per epoch;
- ``nd.Checkpoint`` saves model, optimiser, collate and every rank's data state at one step in
  one file, and resumes every rank from it: each clip of the epoch is delivered once, and every
  rank resumes with the same number of batches.
"""
import argparse
import os
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.augment import Compose, FrequencyMasking, Gain, TimeMasking
from nnaudio_data.tools.demo import write_demo_shards


def make_model(n_mels, n_classes):
    """log-mel in dB (B, F, N) -> logits (B, K)."""
    return nn.Sequential(nn.Conv1d(n_mels, 32, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, n_classes))


def shards(args, rank):
    """The shard pattern: given, or synthesized into ``args.data`` by rank 0 (the others wait)."""
    if args.urls:
        return args.urls
    done = os.path.join(args.data, "DONE")
    if rank == 0 and not os.path.exists(done):
        write_demo_shards(args.data, clips=args.clips, sr=args.sr, seconds=args.seconds, per_shard=16)
        open(done, "w").close()
    if dist.is_initialized():
        dist.barrier()
    return os.path.join(args.data, f"demo-{{000000..{(args.clips - 1) // 16:06d}}}.tar")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("urls", nargs="?", help="shard pattern (default: synthesize a small set)")
    p.add_argument("--data", default="ddp-demo-data", help="where to synthesize the small set")
    p.add_argument("--checkpoint-dir", default="ddp-checkpoints")
    p.add_argument("--sr", type=int, default=16000)
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--clips", type=int, default=96)
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--save-every", type=int, default=1, help="optimiser steps between snapshots")
    p.add_argument("--stop-after", type=int, default=None,
                   help="exit after this many steps of this run (to try resuming)")
    p.add_argument("--keys-log", default=None,
                   help="append each step's clip keys to KEYS_LOG.rank<r> (to check exactly-once delivery)")
    args = p.parse_args(argv)

    cuda = torch.cuda.is_available()
    if "WORLD_SIZE" in os.environ:  # started by torchrun
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)

    ds = nd.ShardedAudioDataset(shards(args, rank), sr=args.sr, length=int(args.sr * args.seconds),
                                shuffle=64, seed=0)
    collate = nd.GPUSpectrogramCollate("logmel", device=device, sr=args.sr, n_fft=512, hop_length=128,
                                       n_mels=40, trainable_mel=True, seed=0, augment=Gain((-6.0, 6.0)),
                                       spec_augment=Compose([FrequencyMasking(6), TimeMasking(8)]))
    loader = DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers, collate_fn=collate,
                        pin_memory=cuda, persistent_workers=args.workers > 0,
                        multiprocessing_context="spawn" if args.workers else None)
    model = make_model(40, args.classes).to(device)
    ddp = nn.parallel.DistributedDataParallel(model) if dist.is_initialized() else model
    opt = torch.optim.Adam(list(model.parameters()) + list(collate.parameters()), lr=3e-3)

    ckpt = nd.Checkpoint(args.checkpoint_dir, dataset=ds, model=model, optimizer=opt, collate=collate)
    resumed = ckpt.resume()  # every rank at the same step, or none
    step, start = (resumed.step, resumed.epoch) if resumed else (0, 0)
    print(f"rank {rank}: {'resuming at step %d, epoch %d' % resumed if resumed else 'starting'}", flush=True)
    log = open(f"{args.keys_log}.rank{rank}", "a") if args.keys_log else None
    ran = 0
    for epoch in range(start, args.epochs):
        ds.set_epoch(epoch)  # keeps what a resumed state consumed of this epoch
        collate.set_epoch(epoch)
        for batch in ds.track(nd.DeviceLoader(loader)):
            loss = nn.functional.cross_entropy(ddp(batch.spec), batch.labels.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step, ran = step + 1, ran + 1
            if log:
                print(step, epoch, *batch.keys, file=log, flush=True)
            if step % args.save_every == 0:
                ckpt.save(step, epoch)
            if args.stop_after is not None and ran >= args.stop_after:
                print(f"rank {rank}: stopping after step {step}", flush=True)
                return
        ckpt.save(step, epoch + 1)  # the epoch is complete: a resume starts the next one
        print(f"rank {rank}: epoch {epoch} done at step {step}, loss {loss.item():.3f}", flush=True)
    if dist.is_initialized():
        dist.barrier()  # no rank tears its connections down while another still uses them
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
