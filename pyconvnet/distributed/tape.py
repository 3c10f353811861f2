"""horovod.tensorflow names for custom training loops on pyconvnet.distributed.

    with tf.GradientTape() as tape:            # pyconvnet.GradientTape
        loss = ...
    tape = hvd.DistributedGradientTape(tape)
    grads = tape.gradient(loss, model.trainable_variables)   # averaged over the ranks
    opt.apply_gradients(zip(grads, model.trainable_variables))
    if first_batch:
        hvd.broadcast_variables(model.variables, root_rank=0)
        hvd.broadcast_variables(opt.variables, root_rank=0)

Also the build queries horovod offers (gloo_built, nccl_built, ...): they
describe this MPI-only implementation truthfully.
"""
import numpy as np

from . import core
from .core import Average, Sum, Adasum, Compression, collective, _state

__all__ = ["DistributedGradientTape", "broadcast_variables", "gloo_enabled", "gloo_built", "nccl_built",
           "ddl_built", "ccl_built", "cuda_built", "rocm_built"]


def broadcast_variables(variables, root_rank, process_set=None, inplace=False):
    """horovod.tensorflow.broadcast_variables: assign root_rank's value of each
    variable (objects with .numpy()/.assign(), e.g. model.variables) on every rank.
    Every rank must pass the same list (shapes and dtypes checked)."""
    core._require("broadcast_variables")
    if process_set is not None:
        raise NotImplementedError("pyconvnet.distributed.broadcast_variables: process_set is not supported")
    core._check_root(root_rank, "broadcast_variables")
    from . import _fit
    _fit.broadcast_variables(list(variables), int(root_rank), "broadcast_variables")


class DistributedGradientTape:
    """horovod.tensorflow.DistributedGradientTape around a pyconvnet GradientTape:
    gradient() returns the gradients reduced (op=Average: averaged) over all ranks,
    in one fused Allreduce. A None gradient stays None (every rank must agree
    which are None: checked with the shapes). compression=Compression.fp16 sends
    float16. gradient_predivide_factor (Average only) gives the same average.
    device_dense/device_sparse/sparse_as_dense/num_groups/groups change nothing
    here (dense gradients, one bucket)."""

    def __init__(self, gradtape, device_dense="", device_sparse="", compression=Compression.none,
                 sparse_as_dense=False, op=Average, gradient_predivide_factor=1.0, num_groups=0, groups=None,
                 process_set=None, scale_local_gradients=True):
        if op is Adasum:
            raise NotImplementedError("DistributedGradientTape: op=hvd.Adasum is not implemented; use hvd.Average "
                                      "or hvd.Sum")
        if op is not Average and op is not Sum:
            raise ValueError("DistributedGradientTape: op must be hvd.Average or hvd.Sum, got %r" % (op,))
        if compression not in (Compression.none, Compression.fp16):
            raise ValueError("DistributedGradientTape: compression must be Compression.none or Compression.fp16")
        if float(gradient_predivide_factor) != 1.0 and op is not Average:
            raise ValueError("DistributedGradientTape: gradient_predivide_factor not supported with op != Average")
        if process_set is not None:
            raise NotImplementedError("DistributedGradientTape: process_set is not supported (only the global set)")
        if not callable(getattr(gradtape, "gradient", None)):
            raise TypeError("DistributedGradientTape: expected a GradientTape, got %s" % type(gradtape).__name__)
        object.__setattr__(self, "_tape", gradtape)
        object.__setattr__(self, "_op", op)
        object.__setattr__(self, "_compression", compression)

    def __getattr__(self, name):
        return getattr(self._tape, name)

    def __enter__(self):
        self._tape.__enter__()
        return self

    def __exit__(self, *exc):
        return self._tape.__exit__(*exc)

    def gradient(self, target, sources, output_gradients=None, **kwargs):
        grads = self._tape.gradient(target, sources, output_gradients, **kwargs)
        if not core.is_initialized() or _state.size == 1:
            return grads
        single = not isinstance(grads, (list, tuple))
        gl = [grads] if single else list(grads)
        out = _allreduce_list(gl, self._op, self._compression, "DistributedGradientTape.gradient")
        return out[0] if single else out


def _allreduce_list(grads, op, compression, what):
    """Reduce a list of tensors (None kept) in one float32 buffer; returns the caller's kinds."""
    from .. import _C
    arrs, kinds = [], []
    for g in grads:
        if g is None:
            arrs.append(None)
            kinds.append(None)
            continue
        if isinstance(g, _C.Tensor):
            kinds.append(g.device)
            a = g.numpy() if g.device == "cpu" else g.to("cpu").numpy()
        else:
            kinds.append("numpy")
            a = np.asarray(g.numpy() if hasattr(g, "numpy") else g)
        arrs.append(np.ascontiguousarray(a, np.float32))
    specs = [((0,), None) if a is None else (a.shape, np.float32) for a in arrs]
    names = ["gradient #%d" % i for i in range(len(arrs))]
    core._check_fingerprint(what, core._fingerprint(specs), specs, names)
    total = sum(a.size for a in arrs if a is not None)
    buf = np.empty(total, np.float16 if compression is Compression.fp16 else np.float32)
    o = 0
    for a in arrs:
        if a is not None:
            buf[o:o + a.size] = a.reshape(-1)
            o += a.size
    if total:
        with collective("allreduce", buf.nbytes):
            _state.comm.Allreduce(_state.IN_PLACE, buf, op=_state.MPI.SUM)
    red = buf.astype(np.float32)
    if op is Average:
        red /= _state.size
    out, o = [], 0
    for a, k in zip(arrs, kinds):
        if a is None:
            out.append(None)
            continue
        r = red[o:o + a.size].reshape(a.shape).copy()
        o += a.size
        if k == "numpy":
            out.append(r)
        else:
            t = _C.from_numpy(r)
            out.append(t if k == "cpu" else t.to(k))
    return out


def gloo_enabled():
    """False: pyconvnet.distributed runs on MPI only."""
    return False


def gloo_built():
    """False: pyconvnet.distributed runs on MPI only."""
    return False


def nccl_built():
    """0 (horovod returns the NCCL version it was built with): collectives go through MPI."""
    return 0


def ddl_built():
    return False


def ccl_built():
    return False


def cuda_built():
    """False: no CUDA-aware collective path (device buffers go through host memory)."""
    return False


def rocm_built():
    return False
