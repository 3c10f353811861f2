"""pyconvnet.nn: normalization ops (to be filled in)."""
__all__ = []
