"""Batched on-device augmentation: sample parameters from a torch.Generator, then apply."""

__all__: list = []
