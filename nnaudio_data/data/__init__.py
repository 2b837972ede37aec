"""The read path, CPU side of the pipeline, run inside DataLoader workers: shard lists, tar
reading, decode, resample, trim/pad, datasets.

Modules, one line each: ``shards`` (URL lists, counting clips), ``index`` (the shard index file),
``tar`` (tar headers -> members, every size field bounded), ``grouping`` (which members make one
sample), ``tar_samples`` (members -> samples, each error named), ``memberview`` (a local member
read where it lies), ``windows`` (many windows per recording: the index field, the plan's unit), ``window_stream``
(members -> one sample per owned window, decoded alone), ``assign`` (the epoch plan: who reads
what over ranks / workers), ``plan`` (its identity, checked against a state and across ranks),
``batches`` (the plan's batches by duration), ``passes`` (one worker's pass: an epoch, or endless),
``stream`` (one worker's stream for a pass), ``formats`` (which extensions are audio), ``item``
(what an audio item is: waveform, key, label, rate), ``samples`` (decode -> item), ``decode`` /
``wav`` (soundfile, window reads), ``resample``, ``trim``, ``reorder`` (shuffle buffer, length
buckets, equal-count cut / top-up), ``errors`` (the error policy, named skips), ``progress``
(provenance tags, stats and the dataset's stats inbox), ``resume`` (consumed record, ``track``),
``dataset`` (:class:`ShardedAudioDataset`), ``labels`` (class names <-> ids, multi-hot), ``open`` /
``remote`` / ``objstore`` (local, http, pipe:, s3:// and other object stores), ``wrap`` (existing
datasets), ``wds_stage`` (our clip preparation as a webdataset stage). Writing shards is the write
path, :mod:`nnaudio_data.authoring`.
"""
from .._exit import install as _install_worker_exit
from ._dataset import ShardedAudioDataset
from ._decode import decode_audio
from ._formats import AUDIO_EXTENSIONS
from ._errors import EmptyEpochError, ErrorPolicy, SampleError, SampleWarning, SkipStats
from ._progress import LoaderStats, Provenance
from ._reorder import bucket_by_length, shuffle_buffer
from ._resample import resample, to_mono
from ._index import write_index
from ._shards import count_shards, expand_urls
from ._trim import trim_pad
# remote shards, wrapping datasets, writing shards
from ._remote import Retry
from ._open import open_shard
from ._wrap import WrappedDataset, WrappedIterableDataset, wrap
from ._labels import LabelMap

__all__ = ["AUDIO_EXTENSIONS", "EmptyEpochError", "ErrorPolicy", "LoaderStats", "Provenance", "SampleError",
           "SampleWarning",
           "ShardedAudioDataset", "SkipStats", "bucket_by_length", "count_shards", "decode_audio",
           "expand_urls", "resample", "shuffle_buffer", "to_mono", "trim_pad", "write_index",
           # remote shards, wrapping datasets, writing shards
           "LabelMap", "Retry", "WrappedDataset", "WrappedIterableDataset", "open_shard", "wrap"]

_install_worker_exit()  # a spawned worker starts by importing this package: its clean exit
