"""The tools behind the ``nnaudio-data`` command, kept out of the library's API (nothing here is
re-exported; run them through the command).

- ``bench/``       ``nnaudio-data bench [--report]``: every figure of the docs, each system in fresh
  processes against its peers
- ``gpu_check.py`` ``nnaudio-data gpu-check [--dry]``: every GPU claim measured in one run, a verdict table
- ``demo.py``      ``nnaudio-data demo``: synthetic shards -> ``GPUSpectrogramCollate("mel")`` -> a tiny
  classifier, end to end
- ``synth.py``     synthetic music-like clips (tones, chords, noise) for the demo and the bench
"""
