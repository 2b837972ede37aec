"""torchaudio peer of the ``spectrogram`` section, run by the python of an environment with
torchaudio (``--torchaudio-python``; torchaudio pins its own torch build):
``python peer_torchaudio.py CONFIG_JSON``. Standalone on purpose (imports only torch and
torchaudio); builds the same batches as ``spectrogram.batches`` and prints one JSON line
``{"stft": seconds, "mel": seconds}``.
"""
import json
import sys
import time

import torch


def main(cfg: dict) -> dict:
    torch.set_num_threads(int(cfg["threads"]))
    try:
        import torchaudio
    except ImportError as e:
        return {"skipped": f"not importable ({e})"}
    device = torch.device(cfg["device"])
    gen = torch.Generator().manual_seed(0)
    b, n = cfg["spec_batch"], cfg["clips"]
    pool = torch.randn(min(n, 4 * b), cfg["length"], generator=gen) * 0.1
    data = [pool.roll(i, 0)[: min(b, n - i * b)].to(device) for i in range(-(-n // b))]
    common = dict(n_fft=cfg["spec_n_fft"], hop_length=cfg["spec_hop"], center=True, pad_mode="reflect")
    fns = {"stft": torchaudio.transforms.Spectrogram(power=1.0, **common).to(device),
           "mel": torchaudio.transforms.MelSpectrogram(sample_rate=cfg["sr"], n_mels=cfg["spec_n_mels"],
                                                       **common).to(device)}
    out = {}
    with torch.no_grad():
        for task, fn in fns.items():
            fn(data[0])
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            time.sleep(0.3)
            start = time.perf_counter()
            for x in data:
                fn(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            out[task] = time.perf_counter() - start
    return out


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
