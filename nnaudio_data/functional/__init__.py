"""Stateless maths, every input explicit: windows, Fourier / mel / CQT kernel builders."""
from .windows import get_window

__all__ = ["get_window"]
