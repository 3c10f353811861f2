"""pyconvnet.nn: pooling ops (to be filled in)."""
__all__ = []
