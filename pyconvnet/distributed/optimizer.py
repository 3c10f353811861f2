"""DistributedOptimizer: gradients packed into fused float32 buckets, each
reduced in place with one buffer-form Allreduce per step.

Layout (built once, on the first apply_gradients, rebuilt only if the
variable list changes): variables in REVERSE order (the order backward
produces their gradients) are packed into contiguous float32 buckets of about
`bucket_bytes` (25 MiB); a variable larger than that gets a bucket of its
own. Each variable owns a fixed slice of one bucket; the wrapped optimizer
receives `pyconvnet.Tensor` views of those slices (zero-copy), so nothing is
allocated per step. Before the first reduce the ranks compare a fingerprint of
the variable list (count, shapes, dtypes) and raise on a mismatch.
"""
import os

import numpy as np

from . import core
from .core import Average, Sum, Compression, collective, _state

DEFAULT_BUCKET_BYTES = 25 * 2 ** 20
_ALIGN = 16  # floats (64 bytes): every slice starts on a cache line
_FOLD_MIN = 1 << 16  # variables at least this large get the scale folded into their copy


def _tensor_mod():
    from .. import _C
    return _C


def _scale_(t_np, alpha):
    """In place x *= alpha (uses _C.scale_ when the elementwise kernels are built)."""
    _C = _tensor_mod()
    f = getattr(_C, "scale_", None)
    if f is not None:
        f(_C.from_numpy(t_np), float(alpha))
    else:
        np.multiply(t_np, np.float32(alpha), out=t_np)


def _add_(dst_np, src):
    """dst += src (axpy with _C.axpy_ when built)."""
    _C = _tensor_mod()
    f = getattr(_C, "axpy_", None)
    if f is not None and isinstance(src, _C.Tensor) and src.device == "cpu":
        f(_C.from_numpy(dst_np), src, 1.0)
    else:
        np.add(dst_np, _host(src).reshape(dst_np.shape), out=dst_np)


def _host(g):
    return g.numpy() if hasattr(g, "numpy") and not isinstance(g, np.ndarray) else np.asarray(g)


class _Bucket:
    __slots__ = ("buf", "wire", "tensor", "slots", "nbytes", "req", "unscaled")

    def __init__(self, nfloats, fp16):
        raw = np.zeros(nfloats + _ALIGN, np.float32)
        off = (-(raw.ctypes.data // 4)) % _ALIGN if raw.ctypes.data % 4 == 0 else 0
        self.buf = raw[off:off + nfloats]  # 64-byte aligned start
        self.wire = np.zeros(nfloats, np.float16) if fp16 else None
        self.tensor = _tensor_mod().from_numpy(self.buf)
        self.slots = []   # variable indices (in the caller's order) packed into this bucket
        self.nbytes = self.buf.nbytes
        self.req = None
        self.unscaled = []


class _Layout:
    """Bucket assignment for one list of variable shapes."""

    def __init__(self, shapes, bucket_bytes, fp16, names):
        _C = _tensor_mod()
        self.shapes = shapes
        self.names = names
        cap = max(1, int(bucket_bytes) // 4)
        order = list(range(len(shapes)))[::-1]   # backward order
        plan, cur, used = [], [], 0
        for i in order:
            n = int(np.prod(shapes[i], dtype=np.int64))
            need = -(-n // _ALIGN) * _ALIGN
            if cur and used + need > cap:
                plan.append((cur, used))
                cur, used = [], 0
            cur.append((i, used, n))
            used += need
        if cur:
            plan.append((cur, used))
        self.buckets = []
        self.np_views = [None] * len(shapes)
        self.t_views = [None] * len(shapes)
        self.bucket_of = [0] * len(shapes)
        for bi, (items, used) in enumerate(plan):
            b = _Bucket(used, fp16)
            for i, off, n in items:
                v = b.buf[off:off + n].reshape(shapes[i])
                self.np_views[i] = v
                self.t_views[i] = _C.from_numpy(v)
                self.bucket_of[i] = bi
                b.slots.append(i)
            self.buckets.append(b)
        self.total_bytes = sum(b.nbytes for b in self.buckets)
        self.ptrs = [t.data_ptr() for t in self.t_views]
        self.sizes = [int(np.prod(sh, dtype=np.int64)) for sh in shapes]
        self.vars_ref = []
        self.dev_views = {}


class DistributedOptimizerMixin:
    """Methods mixed into the wrapped optimizer's class (see DistributedOptimizer)."""

    def _dist_setup(self, compression, op, backward_passes_per_step, overlap, bucket_bytes,
                    average_aggregated_gradients, gradients_prescaled=False):
        if op is core.Adasum:
            raise NotImplementedError("DistributedOptimizer: op=hvd.Adasum is not implemented; use hvd.Average or "
                                      "hvd.Sum")
        if op is not Average and op is not Sum:
            raise ValueError("DistributedOptimizer: op must be hvd.Average or hvd.Sum, got %r" % (op,))
        if compression not in (Compression.none, Compression.fp16):
            raise ValueError("DistributedOptimizer: compression must be Compression.none or Compression.fp16")
        k = int(backward_passes_per_step)
        if k < 1:
            raise ValueError("DistributedOptimizer: backward_passes_per_step must be >= 1, got %r"
                             % (backward_passes_per_step,))
        if overlap not in ("auto", True, False):
            raise ValueError("DistributedOptimizer: overlap must be 'auto', True or False, got %r" % (overlap,))
        d = {
            "compression": compression, "op": op, "k": k, "overlap_opt": overlap,
            "bucket_bytes": int(bucket_bytes), "avg_agg": bool(average_aggregated_gradients),
            "prescaled": bool(gradients_prescaled),
            "layout": None, "key": None, "count": 0, "opt_synced": False, "steps": 0,
        }
        object.__setattr__(self, "_dist", d)

    # ---- public knobs / introspection
    @property
    def backward_passes_per_step(self):
        return self._dist["k"]

    @property
    def loss_scale(self):
        """What a training loop built with gradients_prescaled=True multiplies its
        loss gradient by (1/size for op=Average, else 1): the gradients then
        arrive already averaged and the post-reduce scaling pass is skipped."""
        if self._dist["op"] is Average and core.is_initialized():
            return 1.0 / _state.size
        return 1.0

    @property
    def gradient_seed_scale(self):
        """What Model.fit()'s train step multiplies its loss-gradient seed by: loss_scale
        when this optimizer was built with gradients_prescaled=True (the reduce then skips
        its scaling pass), else 1.0."""
        return self.loss_scale if self._dist["prescaled"] else 1.0

    def dist_buckets(self):
        """[(nbytes, [variable indices])] of the current layout (empty before the first step)."""
        lay = self._dist["layout"]
        return [] if lay is None else [(b.nbytes, list(b.slots)) for b in lay.buckets]

    @property
    def gradient_accumulate(self):
        """For a loop writing into gradient_buffers(): False when the next backward
        pass must overwrite the buffers (first pass of a step), True when it must
        add into them (later passes with backward_passes_per_step > 1)."""
        return self._dist["count"] > 0

    def gradient_buffers(self, variables):
        """Zero-copy gradient buffers: one pyconvnet.Tensor per variable, slices of
        the fused buckets (the same objects every step). A backward pass that
        writes its gradients into these (`out=`, with `accumulate=` set to
        `gradient_accumulate`) and passes them to apply_gradients skips the
        packing copy. Collective on the first call (variable check): call it on
        every rank."""
        lay = self._dist_layout(variables, [None] * len(variables))
        return list(lay.t_views)

    def _overlap(self):
        o = self._dist["overlap_opt"]
        if o == "auto":
            cores = os.cpu_count() or 1
            return _state.size > 1 and _state.local_size < cores
        return bool(o) and _state.size > 1

    def _dist_layout(self, variables, grads):
        d = self._dist
        lay = d["layout"]
        # the layout is keyed on the identity of the variable objects (kept
        # alive by the layout, so ids cannot be reused): a cheap check per step
        if lay is not None and len(lay.vars_ref) == len(variables) and \
                all(a is b for a, b in zip(lay.vars_ref, variables)):
            return lay
        shapes = [tuple(int(s) for s in _shape(v)) for v in variables]
        names = [getattr(v, "name", None) or getattr(v, "path", None) for v in variables]
        specs = [(s, np.float32) for s in shapes]
        if core.is_initialized():
            core._check_fingerprint("DistributedOptimizer", core._fingerprint(specs), specs, names)
        lay = _Layout(shapes, d["bucket_bytes"], d["compression"] is Compression.fp16, names)
        lay.vars_ref = list(variables)
        d["layout"] = lay
        d["count"] = 0
        return lay

    # ---- the hot path
    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        pairs = list(grads_and_vars)
        if not core.is_initialized() or _state.size == 1 and self._dist["k"] == 1:
            return super().apply_gradients(pairs, *args, **kwargs) if not _is_proxy(self) \
                else self._dist_inner.apply_gradients(pairs, *args, **kwargs)
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        reduced = self._dist_reduce(grads, variables)
        if reduced is None:  # accumulating: no update this call (horovod semantics)
            _count_iteration(self._dist_inner if _is_proxy(self) else self)
            return None
        out = list(zip(reduced, variables))
        if _is_proxy(self):
            res = self._dist_inner.apply_gradients(out, *args, **kwargs)
        else:
            res = super().apply_gradients(out, *args, **kwargs)
        if not self._dist["opt_synced"]:
            # optimizer slots are often created by the first step: make rank 0's
            # authoritative once, and prove the ranks agree
            self._dist["opt_synced"] = True
            from . import _fit
            _fit.broadcast_and_verify(_opt_variables(self), "DistributedOptimizer (optimizer.variables after "
                                                            "the first step)")
        return res

    def _dist_reduce(self, grads, variables):
        d = self._dist
        for i, g in enumerate(grads):
            if g is None:
                raise ValueError("DistributedOptimizer: gradient #%d (%s) is None; every variable passed to "
                                 "apply_gradients needs a gradient" % (i, getattr(variables[i], "name", "?")))
        lay = self._dist_layout(variables, grads)
        first = d["count"] == 0
        d["count"] += 1
        final = d["count"] == d["k"]
        Tensor = _tensor_mod().Tensor
        comm, size, MPI = _state.comm, _state.size, _state.MPI
        overlap = final and self._overlap()
        fp16 = d["compression"] is Compression.fp16
        scale = 1.0
        if d["op"] is Average and not d["prescaled"]:
            scale /= size
        if d["avg_agg"] and d["k"] > 1:
            scale /= d["k"]
        # a single-pass step (k == 1) folds the scaling into the packing copy
        # of large variables (saves a pass over memory); small ones are
        # memcpy'd (Tensor.copy_, cheaper per call) and scaled per bucket
        fold = scale != 1.0 and first and final
        fscale = np.float32(scale)
        g0 = grads[0] if grads else None
        any_device = g0.device if isinstance(g0, Tensor) and g0.device != "cpu" else None
        t_views, np_views, shapes = lay.t_views, lay.np_views, lay.shapes
        for b in lay.buckets:
            unscaled = []
            for i in b.slots:
                g = grads[i]
                if g is t_views[i]:   # the gradient_buffers() tensor itself: nothing to pack
                    unscaled.append(i)
                    continue
                if isinstance(g, Tensor):
                    if any_device is not None:
                        if first:
                            t_views[i].copy_(g)   # device -> host staging
                        else:
                            _add_(np_views[i], g.numpy())
                        unscaled.append(i)
                    elif not first:
                        _add_(np_views[i], g)
                    elif fold and lay.sizes[i] >= _FOLD_MIN and g.data_ptr() != lay.ptrs[i]:
                        if tuple(g.shape) != shapes[i]:
                            _bad_shape(i, variables[i], g.shape, shapes[i])
                        np.multiply(g.numpy(), fscale, out=np_views[i])
                    else:
                        try:
                            t_views[i].copy_(g)   # memcpy, GIL released; checks shape and dtype
                        except ValueError:
                            _bad_shape(i, variables[i], g.shape, shapes[i])
                        unscaled.append(i)
                else:
                    a = np.asarray(g)
                    if a.shape != shapes[i]:
                        _bad_shape(i, variables[i], a.shape, shapes[i])
                    if not first:
                        np.add(np_views[i], a, out=np_views[i])
                    elif fold:
                        np.multiply(a, fscale, out=np_views[i], casting="same_kind")
                    else:
                        np.copyto(np_views[i], a, casting="same_kind")
                        unscaled.append(i)
            if not fold:
                unscaled = b.slots
            b.unscaled = unscaled
            if overlap:
                self._dist_start(b, fp16, comm, MPI, nonblocking=True)
        if not final:
            return None
        d["count"] = 0
        if size > 1:
            for b in lay.buckets:
                if overlap:
                    with collective("bucket_allreduce", b.wire.nbytes if fp16 else b.nbytes):
                        b.req.Wait()
                    b.req = None
                    if fp16:
                        np.copyto(b.buf, b.wire)
                else:
                    self._dist_start(b, fp16, comm, MPI, nonblocking=False)
        if scale != 1.0:
            for b in lay.buckets:
                if len(b.unscaled) == len(b.slots):
                    _scale_(b.buf, scale)   # one call for the whole bucket
                else:
                    for i in b.unscaled:
                        _scale_(lay.np_views[i], scale)
        d["steps"] += 1
        if any_device is not None:
            return self._dist_to_device(lay, grads)
        if isinstance(grads[0], Tensor):
            return list(lay.t_views)
        return list(lay.np_views)

    def _dist_start(self, b, fp16, comm, MPI, nonblocking):
        buf = b.buf
        if fp16:
            np.copyto(b.wire, b.buf, casting="same_kind")
            buf = b.wire
        if _state.size == 1:
            return
        if nonblocking:
            # debug fingerprints and sequence numbers are issued in the same
            # order on every rank because buckets complete in the same order
            with collective("bucket_allreduce", buf.nbytes):
                b.req = comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        else:
            with collective("bucket_allreduce", buf.nbytes):
                comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            if fp16:
                np.copyto(b.buf, b.wire)

    def _dist_to_device(self, lay, grads):
        # gradients on a GPU: staged through the host buckets; device copies of
        # the reduced slices are allocated once per variable and reused
        _C = _tensor_mod()
        out = []
        for i, g in enumerate(grads):
            dev = g.device if isinstance(g, _C.Tensor) else "cpu"
            if dev == "cpu":
                out.append(lay.t_views[i])
                continue
            t = lay.dev_views.get(i)
            if t is None or t.device != dev:
                t = _C.empty(*lay.shapes[i], device=dev)
                lay.dev_views[i] = t
            t.copy_(lay.t_views[i])
            out.append(t)
        return out


def _count_iteration(opt):
    """horovod increments optimizer.iterations on the backward passes it does not apply."""
    it = getattr(opt, "iterations", None)
    if it is None:
        return
    if hasattr(it, "assign_add"):
        it.assign_add(1)
    elif isinstance(it, (int, np.integer)):
        opt.iterations = it + 1


def _opt_variables(opt):
    vs = getattr(opt, "variables", None)
    if callable(vs):
        try:
            vs = vs()
        except TypeError:
            vs = None
    return [v for v in (vs or []) if hasattr(v, "assign") and hasattr(v, "numpy")]


def _bad_shape(i, v, got, want):
    raise ValueError("DistributedOptimizer: gradient #%d (%s) has shape %s but its variable has shape %s"
                     % (i, getattr(v, "name", "?"), tuple(got), tuple(want)))


def _shape(v):
    s = getattr(v, "shape", None)
    if s is None:
        s = np.shape(v.numpy())
    return tuple(s)


def _is_proxy(obj):
    return isinstance(obj, _Proxy)


class _Proxy(DistributedOptimizerMixin):
    """Fallback wrapper for optimizer classes that cannot be subclassed
    dynamically: delegates every other attribute to the wrapped optimizer."""

    def __init__(self, inner):
        object.__setattr__(self, "_dist_inner", inner)

    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "_dist_inner"), name)

    def __setattr__(self, name, value):
        if name.startswith("_dist"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._dist_inner, name, value)


def DistributedOptimizer(optimizer, name=None, compression=Compression.none, op=Average,
                         backward_passes_per_step=1, overlap="auto", bucket_bytes=DEFAULT_BUCKET_BYTES,
                         average_aggregated_gradients=False, gradients_prescaled=False,
                         device_dense="", device_sparse="", sparse_as_dense=False, gradient_predivide_factor=1.0,
                         num_groups=0, groups=None, process_set=None, scale_local_gradients=True):
    """Wrap `optimizer` (anything with apply_gradients(list of (grad, variable)))
    so that gradients are averaged (op=Average) or summed (op=Sum) over all
    ranks before it applies them (horovod.keras.DistributedOptimizer).

    The result is an instance of a subclass of the optimizer's own class
    sharing its state (learning_rate, variables, iterations...), so
    isinstance checks and attribute assignment keep working.

    compression: Compression.none or Compression.fp16 (float16 on the wire).
    backward_passes_per_step: k > 1 sums gradients locally over k calls and
    reduces/applies on every k-th call only (calls in between return None and
    do not update); average_aggregated_gradients=True divides that sum by k.
    overlap: True starts each bucket's Iallreduce as soon as it is packed;
    "auto" does so only when this host runs fewer ranks than it has cores.
    bucket_bytes: fused bucket size (default 25 MiB).
    device_dense, device_sparse, sparse_as_dense: accepted for source
    compatibility with horovod.keras; they change nothing here (every
    gradient is dense already; buffers live on the variables' device).
    gradient_predivide_factor (op=Average only, as horovod): horovod scales by
    1/f before the sum and f/size after it; the average is the same, so here
    the factor is validated and the single 1/size scaling is kept.
    num_groups / groups: horovod's fusion grouping (performance only, same
    values): accepted; gradients go in pyconvnet's own buckets.
    process_set: only the global set (None) is supported.
    The wrapped optimizer's `iterations` advances on every call, also on the
    accumulation calls of backward_passes_per_step > 1 (horovod does the same).
    gradients_prescaled: the caller already multiplied its loss gradient by
    `loss_scale` (1/size), so op=Average needs no scaling after the reduce.
    The averaging scale is otherwise folded into the packing copy (one pass);
    gradients written straight into gradient_buffers() need no copy at all.
    """
    if isinstance(optimizer, DistributedOptimizerMixin):
        raise ValueError("DistributedOptimizer: the optimizer is already distributed")
    try:
        gpf = float(gradient_predivide_factor)
    except (TypeError, ValueError):
        raise TypeError("DistributedOptimizer: gradient_predivide_factor must be a float, got %r"
                        % (gradient_predivide_factor,)) from None
    if gpf != 1.0 and op is not Average:
        raise ValueError("DistributedOptimizer: gradient_predivide_factor not supported with op != Average")
    if not gpf > 0:
        raise ValueError("DistributedOptimizer: gradient_predivide_factor must be > 0, got %r" % (gpf,))
    if process_set is not None:
        raise NotImplementedError("DistributedOptimizer: process_set is not supported (only the global set)")
    if groups is not None and not isinstance(groups, (int, list, tuple)):
        raise ValueError("DistributedOptimizer: groups must be None, an int or a list of variable lists, got %r"
                         % (groups,))
    if not callable(getattr(optimizer, "apply_gradients", None)):
        raise TypeError("DistributedOptimizer: expected an optimizer with apply_gradients(grads_and_vars), got %s"
                        % type(optimizer).__name__)
    cls = type(optimizer)
    try:
        # the wrapped class's own name (horovod does the same), so model.save() records
        # "SGD" and the file loads without pyconvnet.distributed
        dcls = type(cls.__name__, (DistributedOptimizerMixin, cls),
                    {"__module__": cls.__module__, "__qualname__": getattr(cls, "__qualname__", cls.__name__)})
        new = object.__new__(dcls)
        new.__dict__ = optimizer.__dict__  # share every attribute: the same variables and hyperparameters
    except (TypeError, AttributeError):
        new = _Proxy(optimizer)
    new._dist_setup(compression, op, backward_passes_per_step, overlap, bucket_bytes,
                    average_aggregated_gradients, gradients_prescaled)
    return new


def load_model(filepath, custom_optimizers=None, custom_objects=None, compression=Compression.none):
    """horovod.keras.load_model: load a model saved by model.save() and wrap its
    optimizer in DistributedOptimizer (compression as given), so training resumes
    distributed. custom_optimizers: optimizer classes the file may name (added to
    custom_objects by class name); custom_objects as keras.models.load_model.
    """
    from .. import models
    objs = dict(custom_objects or {})
    for cls in custom_optimizers or ():
        objs.setdefault(cls.__name__, cls)
    model = models.load_model(filepath, custom_objects=objs or None)
    opt = getattr(model, "optimizer", None)
    if opt is not None and not isinstance(opt, DistributedOptimizerMixin):
        model.optimizer = DistributedOptimizer(opt, compression=compression)
    return model
