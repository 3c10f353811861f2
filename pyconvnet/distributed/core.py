"""Process groups and collectives on mpi4py (horovod's API, buffer-form MPI only).

Every collective here uses the buffer (uppercase) mpi4py calls on contiguous
arrays; only ``broadcast_object`` pickles. Before a collective whose buffer
sizes must agree (broadcast, allgather), the ranks exchange a small fixed-size
header, so a mismatch raises the same clear ValueError on every rank instead
of hanging or truncating.

``import pyconvnet.distributed`` does not import MPI; ``init()`` does. Without
mpi4py (or its MPI library) ``init()`` still works as a single process
(size 1) and every collective is the identity.
"""
import atexit
import os
import sys
import threading
import time
import traceback
import zlib

import numpy as np

__all__ = ["init", "shutdown", "is_initialized", "rank", "size", "local_rank", "local_size",
           "cross_rank", "cross_size", "mpi_built", "mpi_enabled",
           "allreduce", "broadcast", "allgather", "broadcast_object", "allgather_object", "alltoall", "barrier",
           "grouped_allreduce", "reducescatter", "start_timeline", "stop_timeline",
           "Average", "Sum", "Min", "Max", "Product", "Adasum", "Compression",
           "DistributedError", "mpi_threads_supported"]


class _ReduceOp:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "hvd." + self.name


Average = _ReduceOp("Average")
Sum = _ReduceOp("Sum")
Min = _ReduceOp("Min")
Max = _ReduceOp("Max")
Product = _ReduceOp("Product")
Adasum = _ReduceOp("Adasum")  # declared for source compatibility; not implemented


class DistributedError(RuntimeError):
    """Ranks disagree (shapes, dtypes, collective order) or a collective stalled."""


class _NoCompression:
    """Compression.none: gradients travel as float32."""
    name = "none"
    wire_dtype = np.float32


class _FP16Compression:
    """Compression.fp16: float32 buckets are cast to float16 for the collective and back."""
    name = "fp16"
    wire_dtype = np.float16


class Compression:
    """Gradient compression for DistributedOptimizer / allreduce (horovod names)."""
    none = _NoCompression
    fp16 = _FP16Compression


# --------------------------------------------------------------------------- state
class _SerialComm:
    """Stands in for a 1-process communicator when mpi4py/MPI is unavailable."""
    rank = 0
    size = 1

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def Allreduce(self, sendbuf, recvbuf, op=None):
        if not _is_in_place(sendbuf):
            np.copyto(np.asarray(recvbuf), np.asarray(sendbuf))

    def Iallreduce(self, sendbuf, recvbuf, op=None):
        self.Allreduce(sendbuf, recvbuf, op)
        return _DoneRequest()

    def Bcast(self, buf, root=0):
        pass

    def Allgather(self, sendbuf, recvbuf):
        np.copyto(np.asarray(recvbuf).reshape(-1), np.asarray(sendbuf).reshape(-1))

    def Allgatherv(self, sendbuf, recvbuf):
        r = recvbuf[0] if isinstance(recvbuf, (list, tuple)) else recvbuf
        np.copyto(np.asarray(r).reshape(-1), np.asarray(sendbuf).reshape(-1))

    def bcast(self, obj, root=0):
        return obj

    def Barrier(self):
        pass

    def Free(self):
        pass


class _DoneRequest:
    def Wait(self):
        pass

    def Test(self):
        return True


def _is_in_place(buf):
    return buf is None or type(buf).__name__ == "InPlace"


class _State:
    MPI = None          # the mpi4py.MPI module, or None when serial
    IN_PLACE = None
    comm = None         # our private duplicate of the user's communicator
    local_comm = None
    rank = 0
    size = 1
    local_rank = 0
    local_size = 1
    cross_rank = 0
    cross_size = 1
    cross_comm = None
    initialized = False
    owns_comm = False
    prev_excepthook = None
    prev_thread_hook = None
    prev_exit = None
    seq = 0             # collectives issued on `comm` by this rank
    op = None           # (name, nbytes, t_start) of the collective in flight, or None
    last_progress = 0.0
    debug = False
    watchdog = None
    atexit_registered = False


_state = _State()
_lock = threading.Lock()


def _mpi_module():
    try:
        from mpi4py import MPI  # noqa: WPS433 - imported lazily on purpose
        return MPI
    except Exception:  # ImportError, or libmpi missing at import time
        return None


def mpi_threads_supported():
    """True when MPI runs with MPI_THREAD_MULTIPLE (needed by the debug watchdog)."""
    MPI = _state.MPI
    return bool(MPI is not None and MPI.Query_thread() >= MPI.THREAD_MULTIPLE)


def init(comm=None):
    """Initialize data parallelism (idempotent).

    comm: an mpi4py communicator (default ``MPI.COMM_WORLD``), duplicated so our
    collectives never interfere with the caller's; or any object with the
    mpi4py Comm methods (used as is, e.g. a counting wrapper in tests).
    Installs ``sys.excepthook``/``threading.excepthook`` that print the
    traceback and ``Abort`` the whole job when size > 1, so a rank that raises
    can never leave the others waiting in a collective.
    """
    with _lock:
        if _state.initialized:
            return
        MPI = _mpi_module()
        _state.MPI = MPI
        if MPI is None:
            if comm is not None:
                raise RuntimeError("pyconvnet.distributed.init: a communicator was given but mpi4py "
                                   "cannot be imported (pip install mpi4py mpich)")
            c = _SerialComm()
            _state.owns_comm = False
        else:
            _state.IN_PLACE = MPI.IN_PLACE
            base = MPI.COMM_WORLD if comm is None else comm
            if isinstance(base, MPI.Comm):
                c = base.Dup()
                _state.owns_comm = True
            else:
                c = base
                _state.owns_comm = False
        _state.comm = c
        _state.rank = int(c.Get_rank())
        _state.size = int(c.Get_size())
        _state.local_rank, _state.local_size = _state.rank, _state.size
        _state.cross_rank, _state.cross_size = 0, 1
        if MPI is not None and _state.size > 1:
            try:
                lc = c.Split_type(MPI.COMM_TYPE_SHARED, key=_state.rank)
                _state.local_comm = lc
                _state.local_rank, _state.local_size = lc.Get_rank(), lc.Get_size()
                xc = c.Split(color=_state.local_rank, key=_state.rank)   # one rank per host
                _state.cross_comm = xc
                _state.cross_rank, _state.cross_size = xc.Get_rank(), xc.Get_size()
            except Exception:  # wrapper comms without Split_type: treat as one host
                _state.local_comm = None
        _state.seq = 0
        _state.op = None
        _state.last_progress = time.monotonic()
        _state.debug = os.environ.get("PYCONVNET_DIST_DEBUG", "0") not in ("", "0", "false", "False")
        _install_hooks()
        _state.initialized = True
    if _state.debug and _state.size > 1:
        from . import debug as _debug
        _state.watchdog = _debug.start_watchdog(_state)
        if not _state.atexit_registered:
            # runs before mpi4py's MPI_Finalize (atexit is LIFO): no MPI call from
            # the watchdog thread may overlap Finalize
            atexit.register(_stop_watchdog_at_exit)
            _state.atexit_registered = True


def _stop_watchdog_at_exit():
    wd = _state.watchdog
    _state.watchdog = None
    if wd is not None:
        wd.stop(free=False)


def shutdown():
    """Stop the watchdog, free our communicators and restore the excepthooks.

    MPI itself is finalized by mpi4py at interpreter exit; init() may be called
    again afterwards.
    """
    with _lock:
        if not _state.initialized:
            return
        wd = _state.watchdog
        _state.watchdog = None
    if wd is not None:
        wd.stop()
    with _lock:
        for c in (_state.local_comm, _state.cross_comm, _state.comm if _state.owns_comm else None):
            if c is not None:
                try:
                    c.Free()
                except Exception:
                    pass
        _state.comm = _state.local_comm = _state.cross_comm = None
        _state.rank, _state.size, _state.local_rank, _state.local_size = 0, 1, 0, 1
        _state.cross_rank, _state.cross_size = 0, 1
        _remove_hooks()
        _state.initialized = False


def is_initialized():
    return _state.initialized


def _require(fn):
    if not _state.initialized:
        raise ValueError("pyconvnet.distributed.%s: call hvd.init() first" % fn)


def rank():
    """This process's rank in the communicator given to init() (0 .. size-1)."""
    _require("rank")
    return _state.rank


def size():
    """Number of processes."""
    _require("size")
    return _state.size


def local_rank():
    """Rank among the processes on this host (use it to pick a GPU)."""
    _require("local_rank")
    return _state.local_rank


def local_size():
    """Number of processes on this host."""
    _require("local_size")
    return _state.local_size


def cross_rank():
    """Index of this host among the hosts (rank in the communicator of the ranks with this local_rank)."""
    _require("cross_rank")
    return _state.cross_rank


def cross_size():
    """Number of hosts (with the same number of ranks on each)."""
    _require("cross_size")
    return _state.cross_size


def mpi_built():
    """True when mpi4py and an MPI library can be loaded."""
    return _mpi_module() is not None


def mpi_enabled():
    """True when init() is running on MPI (not the single-process fallback)."""
    return _state.initialized and _state.MPI is not None


def comm():
    """The (duplicated) communicator pyconvnet's collectives use."""
    _require("comm")
    return _state.comm


# --------------------------------------------------------------------------- abort on failure
def _abort_job(code=1):
    MPI = _state.MPI
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    # give mpiexec's I/O forwarding a moment to pass our traceback on before
    # Abort tears the job down (otherwise the message is often lost)
    time.sleep(float(os.environ.get("PYCONVNET_DIST_ABORT_DELAY", "0.5")))
    if MPI is not None:
        MPI.COMM_WORLD.Abort(code)
    os._exit(code)


def _excepthook(etype, value, tb):
    prev = _state.prev_excepthook or sys.__excepthook__
    try:
        sys.stderr.write("[pyconvnet.distributed] rank %d/%d: uncaught %s; aborting the job\n"
                         % (_state.rank, _state.size, etype.__name__))
        prev(etype, value, tb)
    finally:
        if _state.size > 1:
            _abort_job(1)


def _thread_excepthook(args):
    if args.exc_type is SystemExit:
        return
    try:
        sys.stderr.write("[pyconvnet.distributed] rank %d/%d: uncaught %s in thread %s; aborting the job\n"
                         % (_state.rank, _state.size, args.exc_type.__name__,
                            getattr(args.thread, "name", "?")))
        traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback)
    finally:
        if _state.size > 1:
            _abort_job(1)


def _exit(status=None):
    """sys.exit while distributed: a non-zero status aborts the whole job at
    interpreter exit (mpi4py's abort status) instead of leaving the other
    ranks waiting in a collective while this one sits in MPI_Finalize."""
    if _state.size > 1 and status not in (None, 0, False):
        MPI = _state.MPI
        sys.stderr.write("[pyconvnet.distributed] rank %d/%d: sys.exit(%r); aborting the job\n"
                         % (_state.rank, _state.size, status))
        if MPI is not None and hasattr(MPI, "_set_abort_status"):
            MPI._set_abort_status(status if isinstance(status, int) else 1)
    (_state.prev_exit or _builtin_exit)(status)


_builtin_exit = sys.exit


def _install_hooks():
    if sys.exit is not _exit:
        _state.prev_exit = sys.exit
        sys.exit = _exit
    if sys.excepthook is not _excepthook:
        _state.prev_excepthook = sys.excepthook
        sys.excepthook = _excepthook
    if threading.excepthook is not _thread_excepthook:
        _state.prev_thread_hook = threading.excepthook
        threading.excepthook = _thread_excepthook


def _remove_hooks():
    if sys.exit is _exit:
        sys.exit = _state.prev_exit or _builtin_exit
    if sys.excepthook is _excepthook:
        sys.excepthook = _state.prev_excepthook or sys.__excepthook__
    if threading.excepthook is _thread_excepthook:
        threading.excepthook = _state.prev_thread_hook or threading.__excepthook__


# --------------------------------------------------------------------------- collective bookkeeping
_OPCODES = {"allreduce": 1, "broadcast": 2, "allgather": 3, "broadcast_object": 4, "barrier": 5,
            "bucket_allreduce": 6, "fingerprint": 7, "checksum": 8, "reduce_sums": 9, "allgather_object": 10,
            "alltoall": 11}


class _Collective:
    """Context manager around one collective: sequence number, watchdog state
    and (PYCONVNET_DIST_DEBUG=1) a cross-rank check that every rank is issuing
    the same collective with the same byte count."""
    __slots__ = ("name", "nbytes")

    def __init__(self, name, nbytes):
        self.name = name
        self.nbytes = int(nbytes)

    def __enter__(self):
        st = _state
        st.seq += 1
        if st.debug and st.size > 1:
            from . import debug as _debug
            st.op = ("fingerprint:" + self.name, 24, time.monotonic())
            _debug.check_collective(st, self.name, _OPCODES.get(self.name, 0), self.nbytes)
        st.op = (self.name, self.nbytes, time.monotonic())
        return self

    def __exit__(self, *exc):
        _state.op = None
        _state.last_progress = time.monotonic()
        return False


def collective(name, nbytes):
    return _Collective(name, nbytes)


# --------------------------------------------------------------------------- array helpers
_DTYPE_CODES = {np.dtype(t).str: i + 1 for i, t in enumerate(
    [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.int8, np.int16,
     np.uint16, np.uint32, np.uint64, np.bool_, np.complex64, np.complex128])}
_MAXDIM = 6
_HDR = 3 + _MAXDIM  # dtype code, ndim, hash of dims beyond _MAXDIM, dims...


def _header(a):
    h = np.zeros(_HDR, np.int64)
    h[0] = _DTYPE_CODES.get(a.dtype.str, 999)
    h[1] = a.ndim
    dims = list(a.shape)
    for i, d in enumerate(dims[:_MAXDIM]):
        h[3 + i] = d
    if len(dims) > _MAXDIM:
        h[2] = zlib.crc32(np.asarray(dims[_MAXDIM:], np.int64).tobytes())
    return h


def _hdr_str(h):
    inv = {v: k for k, v in _DTYPE_CODES.items()}
    dt = np.dtype(inv[int(h[0])]).name if int(h[0]) in inv else "?"
    nd = int(h[1])
    dims = [int(d) for d in h[3:3 + min(nd, _MAXDIM)]]
    s = "(" + ", ".join("N" if d == -1 else str(d) for d in dims) + ("," if nd == 1 else "")
    s += (", ...)" if nd > _MAXDIM else ")")
    return "%s %s" % (s, dt)


def _as_array(x, fn):
    """(contiguous NumPy array, 'tensor'|'numpy'|'scalar', device) for a collective."""
    try:
        from .. import _C
        Tensor = _C.Tensor
    except Exception:  # extension not built: NumPy only
        Tensor = ()
    if Tensor and isinstance(x, Tensor):
        dev = x.device
        a = x.numpy()  # zero-copy on CPU, host copy on device
        return np.ascontiguousarray(a), "tensor", dev
    if np.isscalar(x) or (isinstance(x, np.ndarray) and x.ndim == 0):
        return np.ascontiguousarray(np.asarray(x)).reshape(1), "scalar", "cpu"
    try:
        a = np.asarray(x)
    except Exception as e:
        raise TypeError("pyconvnet.distributed.%s: cannot convert %s to an array (%s)"
                        % (fn, type(x).__name__, e)) from None
    if a.dtype.kind not in "biufc":
        raise TypeError("pyconvnet.distributed.%s: expected a numeric array, got dtype %s" % (fn, a.dtype))
    return np.ascontiguousarray(a), "numpy", "cpu"


def _return_like(a, kind, dev, like=None):
    if kind == "scalar":
        return a.reshape(()).item() if like is None or np.isscalar(like) else a.reshape(())
    if kind == "tensor":
        from .. import _C
        if a.dtype.str not in (np.dtype(np.float32).str, np.dtype(np.int32).str,
                               np.dtype(np.int64).str, np.dtype(np.uint8).str):
            return a
        t = _C.from_numpy(a)
        return t if dev == "cpu" else t.to(dev)
    return a


def _check_agree(fn, h, what="array", ignore_cols=(), fmt=None):
    """Allgather a fixed-size header; raise the same DistributedError on every
    rank when any rank's header differs from rank 0's (columns in
    `ignore_cols` may differ). Returns the (size, len(h)) table."""
    st = _state
    h = np.ascontiguousarray(h, np.int64)
    if st.size == 1:
        return h.reshape(1, -1)
    table = np.empty((st.size, h.size), np.int64)
    with collective("fingerprint", h.nbytes):
        st.comm.Allgather(h, table)
    cmp = table.copy()
    cmp[:, list(ignore_cols)] = 0
    bad = np.nonzero((cmp != cmp[0]).any(axis=1))[0]
    if bad.size:
        r = int(bad[0])
        skip = 3 in ignore_cols
        if fmt is None and h.size < _HDR:
            raise DistributedError("pyconvnet.distributed.%s: rank %d passed %s %s but rank 0 passed %s (this "
                                   "rank is %d); every rank must pass the same value"
                                   % (fn, r, what, " ".join(map(str, table[r])), " ".join(map(str, table[0])),
                                      st.rank))
        raise DistributedError(
            "pyconvnet.distributed.%s: rank %d passed %s %s but rank 0 passed %s %s; every rank "
            "must pass the same %s (this rank is %d)"
            % (fn, r, what, _hdr_str(table[r]), what, _hdr_str(table[0]),
               "dtype and shape after the first dimension" if skip else "shape and dtype", st.rank))
    return table


def _mpi_op(op, fn):
    MPI = _state.MPI
    if op is Average or op is Sum:
        return MPI.SUM
    if op is Min:
        return MPI.MIN
    if op is Max:
        return MPI.MAX
    if op is Product:
        return MPI.PROD
    if op is Adasum:
        raise NotImplementedError("pyconvnet.distributed.%s: op=Adasum is not implemented; use Average or Sum" % fn)
    raise ValueError("pyconvnet.distributed.%s: op must be hvd.Average, hvd.Sum, hvd.Min, hvd.Max or "
                     "hvd.Product, got %r" % (fn, op))


# --------------------------------------------------------------------------- public collectives
def _resolve_op(op, average, fn):
    """horovod's handle_average_backwards_compatibility: op supersedes the deprecated `average`."""
    if op is not None:
        if average is not None:
            raise ValueError("pyconvnet.distributed.%s: the op parameter supersedes average; please provide only "
                             "one of them" % fn)
        return op
    if average is not None:
        import warnings
        warnings.warn("pyconvnet.distributed.%s: parameter `average` has been replaced with `op` (horovod)" % fn,
                      DeprecationWarning, stacklevel=3)
        return Average if average else Sum
    return Average


def allreduce(tensor, name=None, average=None, prescale_factor=1.0, postscale_factor=1.0, op=None,
              compression=Compression.none):
    """Reduce `tensor` (NumPy array, pyconvnet.Tensor or scalar) over all ranks.

    horovod.keras's signature: allreduce(value, name=None, average=None,
    prescale_factor=1.0, postscale_factor=1.0, op=None, compression=...).
    op defaults to Average; the deprecated average=True/False means
    Average/Sum (giving both raises ValueError, as horovod).
    Returns a new array of the caller's kind; op=Average divides by size()
    (integer arrays: floor division). Every rank must pass the same shape and
    dtype (checked: a mismatch raises DistributedError on every rank).
    compression=Compression.fp16 sends floating-point data as float16.
    `name` is used in debug messages.
    """
    _require("allreduce")
    if isinstance(name, _ReduceOp):  # the earlier (tensor, op) positional order
        raise TypeError("pyconvnet.distributed.allreduce: the second positional argument is `name` (horovod.keras);"
                        " pass the reduction as op=%r" % (name,))
    op = _resolve_op(op, average, "allreduce")
    a, kind, dev = _as_array(tensor, "allreduce")
    mop = _mpi_op(op, "allreduce") if _state.MPI is not None else None
    st = _state
    out = a.copy()
    if prescale_factor != 1.0:
        out *= prescale_factor
    if st.size > 1:
        _check_agree("allreduce" + (" '%s'" % name if name else ""), _header(a))
        if compression is Compression.fp16 and out.dtype.kind == "f":
            wire = out.astype(np.float16)
            _allreduce_inplace(wire, mop)
            out[...] = wire
        else:
            _allreduce_inplace(out, mop)
    if op is Average:
        if out.dtype.kind in "fc":
            out /= st.size
        else:
            out //= st.size
    if postscale_factor != 1.0:
        out *= postscale_factor
    return _return_like(out, kind, dev, like=tensor)


def grouped_allreduce(tensors, average=None, compression=Compression.none, op=None, prescale_factor=1.0,
                      postscale_factor=1.0, name=None):
    """horovod's grouped_allreduce: allreduce of each tensor in the list (same
    arguments as allreduce, applied to every tensor); returns a list in order."""
    _require("grouped_allreduce")
    if not isinstance(tensors, (list, tuple)):
        raise TypeError("pyconvnet.distributed.grouped_allreduce: expected a list of tensors, got %s"
                        % type(tensors).__name__)
    op = _resolve_op(op, average, "grouped_allreduce")
    return [allreduce(t, name=None if name is None else "%s_%d" % (name, i), op=op, compression=compression,
                      prescale_factor=prescale_factor, postscale_factor=postscale_factor)
            for i, t in enumerate(tensors)]


def reducescatter(tensor, op=Average, name=None):
    """horovod's reducescatter: reduce `tensor` over the ranks (op Average or Sum)
    and return this rank's block of the first dimension: rows are split as evenly
    as possible, the first (dim0 % size) ranks getting one extra row (horovod).
    Every rank passes the same shape. (One Allreduce, then the slice: correct,
    not bandwidth-optimal.)"""
    _require("reducescatter")
    if op is not Average and op is not Sum:
        raise ValueError("pyconvnet.distributed.reducescatter: op must be hvd.Average or hvd.Sum, got %r" % (op,))
    a, kind, dev = _as_array(tensor, "reducescatter")
    if a.ndim == 0 or kind == "scalar":
        raise ValueError("pyconvnet.distributed.reducescatter: tensor must have rank >= 1, got a scalar")
    red = allreduce(a, name=name, op=op)
    n, r = _state.size, _state.rank
    base, extra = divmod(a.shape[0], n)
    start = r * base + min(r, extra)
    stop = start + base + (1 if r < extra else 0)
    return _return_like(np.ascontiguousarray(red[start:stop]), kind, dev)


def start_timeline(file_path, mark_cycles=False):
    """horovod's timeline is not implemented (use PYCONVNET_DIST_DEBUG=1 for collective tracing)."""
    raise NotImplementedError("pyconvnet.distributed.start_timeline: the horovod timeline is not implemented; "
                              "set PYCONVNET_DIST_DEBUG=1 to trace collectives")


def stop_timeline():
    """See start_timeline."""
    raise NotImplementedError("pyconvnet.distributed.stop_timeline: the horovod timeline is not implemented")


def _allreduce_inplace(buf, mop, name="allreduce"):
    with collective(name, buf.nbytes):
        _state.comm.Allreduce(_state.IN_PLACE, buf, op=mop)


def broadcast(tensor, root_rank, name=None):
    """Return rank `root_rank`'s value of `tensor` on every rank (same shape and dtype required)."""
    _require("broadcast")
    a, kind, dev = _as_array(tensor, "broadcast")
    st = _state
    _check_root(root_rank, "broadcast")
    out = a.copy()
    if st.size > 1:
        _check_agree("broadcast" + (" '%s'" % name if name else ""), _header(a))
        with collective("broadcast", out.nbytes):
            st.comm.Bcast(out, root=root_rank)
    return _return_like(out, kind, dev, like=tensor)


def broadcast_(arrays, root_rank, name="broadcast"):
    """Broadcast a list of NumPy arrays in place (one header check for the whole list)."""
    _require("broadcast")
    st = _state
    _check_root(root_rank, name)
    if st.size == 1:
        return
    fp = _fingerprint([(a.shape, a.dtype) for a in arrays])
    _check_fingerprint(name, fp, [(a.shape, a.dtype) for a in arrays], None)
    for a in arrays:
        if not a.flags.c_contiguous:
            raise ValueError("%s: arrays must be C-contiguous" % name)
        with collective("broadcast", a.nbytes):
            st.comm.Bcast(a, root=root_rank)


def _check_root(root, fn):
    if not (0 <= int(root) < _state.size):
        raise ValueError("pyconvnet.distributed.%s: root_rank %r out of range [0, %d)" % (fn, root, _state.size))


def allgather(tensor, name=None):
    """Concatenate every rank's `tensor` along axis 0 (ranks may differ in the first dimension only)."""
    _require("allgather")
    a, kind, dev = _as_array(tensor, "allgather")
    st = _state
    if a.ndim == 0 or kind == "scalar":
        a = a.reshape(1)
        kind = "numpy"
    if st.size == 1:
        return _return_like(a.copy(), kind, dev)
    if a.ndim > _MAXDIM:
        raise ValueError("pyconvnet.distributed.allgather: at most %d dimensions, got %d" % (_MAXDIM, a.ndim))
    table = _check_agree("allgather" + (" '%s'" % name if name else ""), _header(a), "an array of shape",
                         ignore_cols=(3,))
    rows = table[:, 3]
    inner = int(np.prod(a.shape[1:], dtype=np.int64))
    counts = rows * inner
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.empty((int(rows.sum()),) + a.shape[1:], a.dtype)
    with collective("allgather", out.nbytes):
        st.comm.Allgatherv(a, [out, (counts, displs)])
    return _return_like(out, kind, dev)


def broadcast_object(obj, root_rank=0, session=None, name=None):
    """Broadcast any picklable object from `root_rank` (pickle: not for the hot path).
    `session` (TF1 graph sessions in horovod) must be None."""
    if session is not None:
        raise NotImplementedError("pyconvnet.distributed.broadcast_object: session= (TF1 graph mode) is not "
                                  "supported; leave it None")
    _require("broadcast_object")
    _check_root(root_rank, "broadcast_object")
    if _state.size == 1:
        return obj
    with collective("broadcast_object", 0):
        return _state.comm.bcast(obj, root=root_rank)


def allgather_object(obj, session=None, name=None):
    """horovod's allgather_object: a list of every rank's picklable `obj`, in rank order."""
    _require("allgather_object")
    if session is not None:
        raise NotImplementedError("pyconvnet.distributed.allgather_object: session= (TF1 graph mode) is not "
                                  "supported; leave it None")
    if _state.size == 1:
        return [obj]
    with collective("allgather_object", 0):
        return _state.comm.allgather(obj)


def alltoall(tensor, splits=None, name=None):
    """horovod's alltoall: rank r sends rows [sum(splits[:j]), sum(splits[:j+1])) of
    `tensor` to rank j and returns the rows it receives, concatenated in rank order
    along axis 0. splits: None (the first dimension divided evenly; it must be a
    multiple of size()) or size() ints summing to tensor.shape[0].
    Returns (received, received_splits) like horovod >= 0.21 when splits is given,
    else the received array only.
    """
    _require("alltoall")
    a, kind, dev = _as_array(tensor, "alltoall")
    st = _state
    if a.ndim == 0:
        raise ValueError("pyconvnet.distributed.alltoall: tensor must have rank >= 1, got a scalar")
    n = st.size
    if splits is None:
        if a.shape[0] % n:
            raise ValueError("pyconvnet.distributed.alltoall: the first dimension %d must be a multiple of size() "
                             "= %d when splits is None" % (a.shape[0], n))
        sp = np.full(n, a.shape[0] // n, np.int64)
    else:
        sp = np.asarray(splits.numpy() if hasattr(splits, "numpy") else splits).astype(np.int64).reshape(-1)
        if sp.size != n or (sp < 0).any() or int(sp.sum()) != a.shape[0]:
            raise ValueError("pyconvnet.distributed.alltoall: splits must be %d non-negative ints summing to the "
                             "first dimension %d, got %r" % (n, a.shape[0], splits))
    if n == 1:
        out, rs = a.copy(), sp.copy()
    else:
        _check_agree("alltoall" + (" '%s'" % name if name else ""), _header(a), "an array of shape",
                     ignore_cols=(3,))
        rs = np.empty(n, np.int64)
        with collective("alltoall", rs.nbytes):
            st.comm.Alltoall(sp, rs)
        inner = int(np.prod(a.shape[1:], dtype=np.int64))
        sc, rc = sp * inner, rs * inner
        sd = np.concatenate([[0], np.cumsum(sc)[:-1]])
        rd = np.concatenate([[0], np.cumsum(rc)[:-1]])
        out = np.empty((int(rs.sum()),) + a.shape[1:], a.dtype)
        with collective("alltoall", 0):  # (byte counts differ per rank by design)
            st.comm.Alltoallv([a, (sc, sd)], [out, (rc, rd)])
    res = _return_like(out, kind if kind != "scalar" else "numpy", dev)
    return (res, rs.astype(np.int32)) if splits is not None else res


def barrier():
    _require("barrier")
    if _state.size > 1:
        with collective("barrier", 0):
            _state.comm.Barrier()


# --------------------------------------------------------------------------- variable-list fingerprints
def _fingerprint(specs):
    """Fixed-size int64 summary of a list of (shape, dtype or None)."""
    h = zlib.crc32(b"")
    total = 0
    for shape, dt in specs:
        rec = np.asarray([len(shape)] + list(shape) + [_DTYPE_CODES.get(np.dtype(dt).str, 999) if dt is not None
                                                      else -1], np.int64)
        h = zlib.crc32(rec.tobytes(), h)
        total += int(np.prod(shape, dtype=np.int64)) if dt is not None else 0
    return np.array([len(specs), total, h], np.int64)


def _spec_rows(specs):
    rows = np.zeros((len(specs), _HDR), np.int64)
    for i, (shape, dt) in enumerate(specs):
        rows[i] = _header(_FakeArr(shape, dt))
    return rows


class _FakeArr:
    def __init__(self, shape, dt):
        self.shape = tuple(int(s) for s in shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(dt) if dt is not None else np.dtype("V1")


def _check_fingerprint(fn, fp, specs, names):
    """Raise the same DistributedError on every rank when the variable lists differ.

    One Allgather of 3 int64 when they agree; on a mismatch the ranks
    exchange rank 0's full shape table and each rank's first differing entry
    so the message can name the rank, the variable index/name and both shapes.
    """
    st = _state
    if st.size == 1:
        return
    table = np.empty((st.size, 3), np.int64)
    with collective("fingerprint", fp.nbytes):
        st.comm.Allgather(np.ascontiguousarray(fp, np.int64), table)
    if (table == table[0]).all():
        return
    n0 = int(table[0, 0])
    mine = _spec_rows(specs)
    ref = np.zeros((n0, _HDR), np.int64)
    if st.rank == 0:
        ref[...] = mine
    with collective("fingerprint", ref.nbytes):
        st.comm.Bcast(ref, root=0)
    # my first difference against rank 0: [index or -1, my header..., count]
    rec = np.full(2 + _HDR, -1, np.int64)
    rec[-1] = len(specs)
    for i in range(max(len(specs), n0)):
        if i >= len(specs) or i >= n0 or not (mine[i] == ref[i]).all():
            rec[0] = i
            if i < len(specs):
                rec[1:1 + _HDR] = mine[i]
            break
    recs = np.empty((st.size, rec.size), np.int64)
    with collective("fingerprint", rec.nbytes):
        st.comm.Allgather(rec, recs)
    bad = [r for r in range(st.size) if recs[r, 0] >= 0]
    r = bad[0] if bad else int(np.nonzero((table != table[0]).any(axis=1))[0][0])
    i = int(recs[r, 0])
    nm = ""
    if names is not None and 0 <= i < len(names) and names[i]:
        nm = " '%s'" % names[i]
    theirs = "missing" if i >= int(recs[r, -1]) else _hdr_str(recs[r, 1:1 + _HDR])
    ours = "missing" if i >= n0 else _hdr_str(ref[i])
    counts = ("rank %d has %d variables, rank 0 has %d; " % (r, int(recs[r, -1]), n0)
              if int(recs[r, -1]) != n0 else "")
    raise DistributedError(
        "%s: ranks disagree on the variables: %sfirst difference at variable #%d%s: rank %d has %s, "
        "rank 0 has %s (this rank is %d). Every rank must build the same model."
        % (fn, counts, i, nm, r, theirs, ours, st.rank))
