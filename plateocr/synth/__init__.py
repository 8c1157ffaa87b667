"""Synthetic plates: the renderer, its degradation to crop quality, and the fonts it draws with."""
