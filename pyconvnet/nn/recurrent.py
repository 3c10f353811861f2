"""pyconvnet.nn: recurrent ops (to be filled in)."""
__all__ = []
