"""CPU side of the pipeline, run inside DataLoader workers: shard lists, tar reading, decode,
resample, trim/pad, datasets."""
from .decode import AUDIO_EXTENSIONS, decode_audio
from .errors import ErrorPolicy, SampleError, SampleWarning, SkipStats
from .resample import resample, to_mono
from .trim import trim_pad
# remote shards, wrapping datasets, writing shards
from .remote import Retry
from .sources import open_shard
from .wrap import WrappedDataset, WrappedIterableDataset, wrap
from .writer import ShardSummary, write_shards

__all__ = ["AUDIO_EXTENSIONS", "ErrorPolicy", "SampleError", "SampleWarning", "SkipStats", "decode_audio",
           "resample", "to_mono", "trim_pad",
           # remote shards, wrapping datasets, writing shards
           "Retry", "ShardSummary", "WrappedDataset", "WrappedIterableDataset", "open_shard", "wrap", "write_shards"]
