"""monitor: follow one story across the world's press."""

__version__ = "0.1.0"
