"""pyconvnet.nn: losses ops (to be filled in)."""
__all__ = []
