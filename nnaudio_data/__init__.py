"""nnaudio_data: audio feature extraction on the accelerator, inside the data pipeline.

Data flows down the tree::

    shards (tar, local/http/pipe:) -> decode + resample + mono -> trim / pad / crop   [DataLoader workers, CPU]
      -> collate to (B, C, T) + lengths + keys + labels                              [worker or main]
      -> pinned host memory -> device (non_blocking, side stream)                    [main process]
      -> spectrogram kernel (conv1d, trainable) -> augmentation -> model             [device]

Modules, one line each:

- ``data/``        the read path, CPU side, inside DataLoader workers: shard lists, tar reading, decode,
  crop, datasets; ``data/_wds_stage.py`` :func:`prepare_stage`, our clip preparation as a webdataset stage
- ``authoring/``   the write path: :func:`write_shards` (``nnaudio-data shard``), folders / manifests -> shards
- ``_stack.py``    samples -> :class:`AudioBatch` (:func:`collate_audio`): padded (B, C, T), lengths, rate
- ``_collate.py``  :class:`GPUSpectrogramCollate`: stack, then the device stage (augment, kernel)
- ``_sharedmem.py`` zero-padded batches in shared memory inside workers: the allocator, writes by descriptor
- ``_batch.py``    :class:`AudioBatch`: waveform (B, C, T), lengths (B,), keys, labels, spec
- ``_loader.py``   :class:`DeviceLoader`: H2D copy + device stage on a side stream, overlapping training
- ``_sync.py``     a trainable kernel under torch.distributed: its own DDP, gradients averaged over ranks
- ``_checkpoint.py`` :class:`Checkpoint`: one snapshot of every rank at one step; resume refuses a mix
- ``_gather.py``   one object from every rank, the backend's tensors held until released: a clean exit
- ``functional/``  stateless maths: windows, Fourier / mel / CQT kernel builders
- ``features/``    nn.Modules owning kernels (buffers, or Parameters when trainable): STFT, Mel, MFCC, CQT ...
- ``Spectrogram.py`` nnAudio's legacy path: ``from nnaudio_data.Spectrogram import *`` = the features
- ``augment/``     batched on-device augmentation: sample parameters, then apply
- ``_seed.py``     one seeding function for every random stream: (seed, epoch, rank, worker, stream)
- ``_tokens.py``   one registry for objects that cross processes by token: collates, stats inboxes
- ``_exit.py``     a clean exit: one bounded wait for late threads (workers' feeders, a gather's)
- ``_compat.py``   private torch / soundfile calls of the hot path, each probed, with a public fallback
- ``_checks.py``   argument checks whose errors name the argument, the rule and the value found
- ``_repr.py``     one repr: the class and the constructor arguments that differ from their defaults
- ``cli.py``       the ``nnaudio-data`` command (demo, bench, shard, gpu-check)
- ``tools/``       what the command runs, not part of the API: ``bench/`` (every figure of the docs),
  ``gpu_check.py`` (every GPU claim in one run), ``demo.py`` and its synthetic clips ``synth.py``

Shape legend used in every docstring: B batch, C channels, T samples, F frequency bins,
N frames.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

__version__ = "0.1.0"

# the pipeline's nouns; the data helpers (decode_audio, resample, trim_pad, shuffle_buffer,
# open_shard, ...) are in nnaudio_data.data
__all__ = [
    "AudioBatch", "Checkpoint", "DeviceLoader", "EmptyEpochError", "ErrorPolicy", "GPUSpectrogramCollate", "LabelMap",
    "LoaderStats", "Retry", "SampleError", "SampleWarning", "ShardSummary", "ShardedAudioDataset",
    "SkipStats", "WrappedDataset", "WrappedIterableDataset", "augment", "authoring", "collate_audio", "data",
    "features", "functional", "prepare_stage", "wrap", "write_index", "write_shards",
]

# Lazy top level (PEP 562): `import nnaudio_data` imports neither torch nor a submodule; each public
# name is imported from its module on first access (then cached here). Public name -> module path;
# a name whose path is its own (".data") is the subpackage itself.
_LAZY = {
    "augment": ".augment", "authoring": ".authoring", "data": ".data", "features": ".features",
    "functional": ".functional", "ShardSummary": ".authoring", "write_shards": ".authoring",
    "AudioBatch": "._batch", "Checkpoint": "._checkpoint",
    "GPUSpectrogramCollate": "._collate", "collate_audio": "._collate",
    "DeviceLoader": "._loader",
    "prepare_stage": ".data._wds_stage",
    **{name: ".data" for name in (
        "EmptyEpochError", "ErrorPolicy", "LabelMap", "LoaderStats", "Retry", "SampleError",
        "SampleWarning", "ShardedAudioDataset", "SkipStats", "WrappedDataset",
        "WrappedIterableDataset", "wrap", "write_index")},
}


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # type checkers see the names themselves, and no __getattr__: a misspelt name is an error
    from . import augment, authoring, data, features, functional
    from .authoring import ShardSummary, write_shards
    from ._batch import AudioBatch
    from ._checkpoint import Checkpoint
    from ._collate import GPUSpectrogramCollate, collate_audio
    from .data import (EmptyEpochError, ErrorPolicy, LabelMap, LoaderStats, Retry, SampleError,
                       SampleWarning, ShardedAudioDataset, SkipStats, WrappedDataset,
                       WrappedIterableDataset, wrap, write_index)
    from .data._wds_stage import prepare_stage
    from ._loader import DeviceLoader
else:
    def __getattr__(name: str) -> Any:
        path = _LAZY.get(name)
        if path is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        module = importlib.import_module(path, __name__)
        value = module if path == f".{name}" else getattr(module, name)
        globals()[name] = value  # later accesses skip this function
        return value
