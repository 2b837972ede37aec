"""CPU side of the pipeline, run inside DataLoader workers: shard lists, tar reading, decode,
resample, trim/pad, datasets."""
from .errors import ErrorPolicy, SampleError, SampleWarning, SkipStats

__all__ = ["ErrorPolicy", "SampleError", "SampleWarning", "SkipStats"]
