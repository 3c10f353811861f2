"""pyconvnet.nn: conv ops (to be filled in)."""
__all__ = []
