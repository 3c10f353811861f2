"""The seam between fit()/evaluate()/predict() and pyconvnet.distributed._fit
(written elsewhere). Without that module, or when it is not active, training
is single-process and this process is the chief."""
try:
    from .distributed import _fit as _dist
except ImportError:  # distributed package absent or mpi4py missing
    _dist = None


def get():
    """The distributed fit module when active, else None."""
    if _dist is not None and _dist.active():
        return _dist
    return None


def is_chief():
    d = get()
    return True if d is None else bool(d.is_chief())
