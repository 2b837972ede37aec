"""Peer benchmark for torch-audiomentations, run in its own environment (it needs torchaudio, which
pins its own torch build): ``/path/to/venv/bin/python augment_tam.py --clips 128``. Standalone on
purpose (imports neither nnaudio_data nor anything beyond torch); prints one JSON line,
``{"chain": clips/s, ...}``. The work matches ``nnaudio_data.tools.bench.augment``: Gain +
AddColoredNoise (pink, SNR 3..30 dB) + Shift (rollover) on (B, 1, T), then frequency and time masks
(torchaudio, per example) on a fixed magnitude spectrogram, every transform with p = 1.
"""
import argparse
import json
import time
import warnings

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=1770)
    ap.add_argument("--length", type=int, default=80_000)
    ap.add_argument("--sr", type=int, default=44100)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--freq-width", type=int, default=27)
    ap.add_argument("--time-width", type=int, default=40)
    ap.add_argument("--n-fft", type=int, default=1024)
    ap.add_argument("--hop", type=int, default=256)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # torch-audiomentations draws from the global RNG
    import torch_audiomentations as tam
    import torchaudio

    wave = tam.Compose([
        tam.Gain(-12.0, 12.0, p=1.0),
        tam.AddColoredNoise(3.0, 30.0, min_f_decay=1.0, max_f_decay=1.0, p=1.0),
        tam.Shift(-0.5, 0.5, rollover=True, p=1.0),
    ], output_type="tensor")
    masks = torch.nn.Sequential(torchaudio.transforms.FrequencyMasking(args.freq_width, iid_masks=True),
                                torchaudio.transforms.TimeMasking(args.time_width, iid_masks=True))
    x = torch.randn(args.batch, 1, args.length, generator=torch.Generator().manual_seed(0)) * 0.1
    spec = torch.stft(x[:, 0], args.n_fft, args.hop, window=torch.hann_window(args.n_fft),
                      return_complex=True).abs()[:, None]
    n_batches = max(1, -(-args.clips // args.batch))

    def step():
        y = wave(x, sample_rate=args.sr)
        s = masks(spec)
        return y, s

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n_batches):
        step()
    dt = time.perf_counter() - t0
    print(json.dumps({"chain": n_batches * args.batch / dt, "seconds": dt,
                      "torch": torch.__version__, "torch_audiomentations": getattr(tam, "__version__", "?")}))


if __name__ == "__main__":
    main()
