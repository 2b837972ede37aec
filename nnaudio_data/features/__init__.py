"""nn.Modules owning spectrogram kernels (buffers, or Parameters when trainable), with nnAudio 0.3's
class names, constructor parameters and defaults."""
from .registry import KINDS, make_transform

# constant-Q family
from .cqt import CQT, CQT1992v2, CQT2010v2
from .vqt import VQT
from .cfp import CFP

__all__ = ["KINDS", "make_transform"]
__all__ += ["CFP", "CQT", "CQT1992v2", "CQT2010v2", "VQT"]  # constant-Q family
