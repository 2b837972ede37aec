"""The spectrogram benchmark runs end to end on a tiny configuration and reports every system."""
import argparse

from nnaudio_data.bench import spectrogram


def _args(tmp_path, *extra):
    parser = argparse.ArgumentParser()
    spectrogram.add_arguments(parser)
    args = parser.parse_args(["--spec-n-fft", "256", "--spec-hop", "64", "--spec-n-mels", "32",
                              "--spec-batch", "2", "--spec-repeats", "1", *extra])
    for k, v in dict(clips=3, sr=16000, length=4000, threads=1, device="cpu", out=str(tmp_path)).items():
        setattr(args, k, v)
    return args


def test_small_run_reports_all_systems(tmp_path, capsys):
    figures = spectrogram.run(_args(tmp_path, "--spec-same-process"))
    systems = {"ours-fft", "ours-conv1d", "torch.stft", "nnAudio", "librosa"}
    assert set(figures["seconds"]["stft"]) == set(figures["seconds"]["mel"]) == systems
    assert all(s > 0 for t in figures["seconds"].values() for s in t.values())
    assert figures["speedup"]["mel"]["ours-fft vs librosa"] > 0
    # the FFT backend holds a window only; conv1d holds (2F, 1, n_fft) float32 kernels
    assert figures["kernel_bytes"]["ours-fft/stft"] == 256 * 4
    assert figures["kernel_bytes"]["ours-conv1d/stft"] == 256 * 4 + 2 * 129 * 256 * 4
    assert "fft x mel" in capsys.readouterr().out


def test_systems_run_in_their_own_processes(tmp_path):
    figures = spectrogram.run(_args(tmp_path, "--spec-systems", "ours-fft", "torch.stft"))
    assert set(figures["seconds"]["mel"]) == {"ours-fft", "torch.stft"}
    assert figures["speedup"]["stft"]["ours-fft vs torch.stft"] > 0
    assert figures["config"]["same_process"] is False
