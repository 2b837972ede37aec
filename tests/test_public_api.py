"""The public API, listed once: a change to it is a deliberate edit of this file (and of the docs).

Top level: the pipeline's nouns (dataset, collate, batch, loader, the webdataset stage, the
errors and stats a user meets); ``nnaudio_data.data``: those plus the CPU side's helpers
(decode, resample, trim/pad, shuffle buffer, shard lists); ``features``: the
transform classes (nnAudio's names) and the kind registry; ``augment``: the augmentations and the
helper for writing one; ``functional``: the kernel builders
(the framing ops stay importable from their modules, outside the surface). The command's tools (bench, gpu-check,
demo) live in ``nnaudio_data.tools``, outside the API.
"""
import importlib
import inspect

import pytest

TOP_LEVEL = [
    "AudioBatch", "Checkpoint", "DeviceLoader", "EmptyEpochError", "ErrorPolicy", "GPUSpectrogramCollate", "LabelMap",
    "LoaderStats", "Retry", "SampleError", "SampleWarning", "ShardSummary", "ShardedAudioDataset",
    "SkipStats", "WrappedDataset", "WrappedIterableDataset", "augment", "authoring", "collate_audio", "data",
    "features", "functional", "prepare_stage", "wrap", "write_index", "write_shards",
]

# the read path's helpers, one level down (nnaudio_data.data), as well as the nouns above
DATA = [
    "AUDIO_EXTENSIONS", "EmptyEpochError", "ErrorPolicy", "LabelMap", "LoaderStats", "Provenance", "Retry",
    "SampleError", "SampleWarning", "ShardedAudioDataset", "SkipStats", "WrappedDataset",
    "WrappedIterableDataset", "bucket_by_length", "count_shards", "decode_audio", "expand_urls",
    "open_shard", "resample", "shuffle_buffer", "to_mono", "trim_pad", "wrap", "write_index",
]

# the write path (nnaudio_data.authoring)
AUTHORING = ["ShardSummary", "write_shards"]

FEATURES = [
    "AmplitudeToDB", "CFP", "CQT", "CQT1992", "CQT1992v2", "CQT2010", "CQT2010v2",
    "Combined_Frequency_Periodicity", "Gammatonegram", "Griffin_Lim", "KINDS", "LogSpectrogram",
    "MFCC", "MelSpectrogram", "PowerToDB", "STFT", "STFTBase", "VQT", "iSTFT", "make_transform",
]

# the kernel builders; the framing ops and filterbank application are the features' implementation
FUNCTIONAL = [
    "bin_frequencies", "dct_matrix", "fourier_kernels", "gammatone_filterbank", "get_window",
    "hz_to_mel", "mel_filterbank", "mel_to_hz", "pad_window", "power_to_db",
]
FUNCTIONAL_INTERNALS = {  # out of functional.__all__, importable from their module
    "nnaudio_data.functional._spectral": ["frames_irfft", "frames_matmul", "onesided_to_full",
                                         "overlap_add", "pad_signal", "spectrum_conv1d", "spectrum_fft"],
    "nnaudio_data.functional._filterbank": ["apply_filterbank", "band_blocks"],
}

# the augmentations, their base class and result, and the helper for writing one
AUGMENT = [
    "AddBackgroundNoise", "AddColoredNoise", "ApplyImpulseResponse", "Augmentation", "Augmented", "BandPass",
    "ClipSource", "Compose", "FrequencyMasking", "Gain", "HighPass", "LowPass", "Mixup", "OneOf", "PitchShift",
    "PolarityInversion", "RandomCrop", "SomeOf", "SpeedPerturb", "TimeMasking", "TimeShift", "TimeStretch",
    "per_example",
]

SURFACES = {"nnaudio_data": TOP_LEVEL, "nnaudio_data.augment": AUGMENT, "nnaudio_data.authoring": AUTHORING,
            "nnaudio_data.data": DATA, "nnaudio_data.features": FEATURES,
            "nnaudio_data.functional": FUNCTIONAL}


@pytest.mark.parametrize("module", sorted(SURFACES))
def test_all_is_the_listed_surface(module):
    mod = importlib.import_module(module)
    listed = SURFACES[module]
    assert len(set(mod.__all__)) == len(mod.__all__), f"{module}.__all__ names a name twice"
    added, removed = sorted(set(mod.__all__) - set(listed)), sorted(set(listed) - set(mod.__all__))
    assert not added and not removed, (f"{module}'s public API changed: added {added}, removed {removed}; "
                                       "if deliberate, update tests/test_public_api.py and the docs")


@pytest.mark.parametrize("module", sorted(SURFACES))
def test_every_public_name_resolves_and_star_import_gives_exactly_it(module):
    mod = importlib.import_module(module)
    for name in mod.__all__:
        obj = getattr(mod, name)  # AttributeError names the missing one
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), f"{module}.{name} has no docstring"
    namespace: dict = {}
    exec(f"from {module} import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(mod.__all__)


@pytest.mark.parametrize("module", sorted(FUNCTIONAL_INTERNALS))
def test_functional_internals_stay_importable_by_module_path(module):
    import nnaudio_data.functional as functional

    mod = importlib.import_module(module)
    for name in FUNCTIONAL_INTERNALS[module]:
        assert callable(getattr(mod, name)), f"{module}.{name}"
        assert name not in functional.__all__, f"{name} is an internal, not a builder"


# the command's tools: one subpackage behind `nnaudio-data`, none of it at the top level
TOOLS = {"demo": "nnaudio_data.tools.demo", "bench": "nnaudio_data.tools.bench",
         "gpu-check": "nnaudio_data.tools.gpu_check", "shard": "nnaudio_data.authoring._writer"}
FORMER_TOOL_MODULES = ["bench", "demo", "gpu_check", "synth"]  # top-level modules before tools/


def test_the_command_runs_the_tools_subpackage():
    from nnaudio_data.cli import COMMANDS

    assert {name: module for name, (module, _) in COMMANDS.items()} == TOOLS
    for module in TOOLS.values():
        mod = importlib.import_module(module)
        assert callable(mod.add_arguments) and callable(mod.run), module


def test_tools_are_not_top_level_modules():
    import pkgutil

    import nnaudio_data

    top = {m.name for m in pkgutil.iter_modules(nnaudio_data.__path__)}
    assert "tools" in top and sorted(top & set(FORMER_TOOL_MODULES)) == []
    assert "tools" not in nnaudio_data.__all__


# the module paths a user may import; every other module of the package is implementation and
# carries a leading underscore (the tools behind the command are outside the API as a whole)
PUBLIC_MODULES = {"nnaudio_data", "nnaudio_data.cli", "nnaudio_data.Spectrogram", "nnaudio_data.data", "nnaudio_data.authoring",
                  "nnaudio_data.features", "nnaudio_data.functional", "nnaudio_data.augment",
                  "nnaudio_data.tools"}


def test_implementation_modules_carry_an_underscore():
    import pathlib

    import nnaudio_data

    root = pathlib.Path(nnaudio_data.__file__).parent
    unmarked = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name.startswith("nnaudio_data.tools.") or name in PUBLIC_MODULES:
            continue
        if not any(p.startswith("_") for p in name.split(".")[1:]):
            unmarked.append(name)
    assert unmarked == [], f"implementation modules without a leading underscore: {sorted(unmarked)}"
    for name in PUBLIC_MODULES:
        importlib.import_module(name)
