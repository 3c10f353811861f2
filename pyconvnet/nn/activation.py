"""pyconvnet.nn: activation ops (to be filled in)."""
__all__ = []
