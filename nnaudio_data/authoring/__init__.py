"""Shard authoring, the write path: a folder of audio files, a CSV / JSONL manifest or a published
corpus packed into tar shards with their index (``nnaudio-data shard``). Runs in the user's own
process, never in a DataLoader worker; what it writes, :mod:`nnaudio_data.data` reads.

Modules, one line each: ``writer`` (:func:`write_shards`, the command), ``manifest`` (folders,
CSV / JSONL manifests, file headers), ``layouts`` (published corpora's folder layouts), ``splits``
(train / valid / test draws, stratified and seeded), ``summary`` (:class:`ShardSummary`),
``packer`` (filling tar shards, clearing an output), ``window_cut`` (a recording's windows).
"""
from ._summary import ShardSummary
from ._writer import write_shards

__all__ = ["ShardSummary", "write_shards"]
