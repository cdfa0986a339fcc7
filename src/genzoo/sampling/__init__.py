"""Samplers shared by several model families (the cached autoregressive sampler)."""

from genzoo.sampling.cached import ReceptiveField, sample_windowed, window

__all__ = ["ReceptiveField", "sample_windowed", "window"]
