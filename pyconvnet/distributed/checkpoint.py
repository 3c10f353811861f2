"""Atomic, pickle-free training checkpoints.

Format: a .npz (zip, stored uncompressed) with entries
  weights/00000 ...    model.get_weights() in order
  optimizer/00000 ...  optimizer variables in order
  rng/numpy_keys       NumPy's global MT19937 key array
  __meta__             uint8 JSON: format, epoch, step, sampler state, RNG
                       scalars, shapes/dtypes/names, user extras
load uses np.load(allow_pickle=False): a checkpoint cannot run code.

Writing is atomic: a temporary file in the same directory, flush, os.fsync,
os.replace over the target, fsync of the directory. A writer killed at any
moment leaves either the previous checkpoint or the new one, never a torn
file. Only rank 0 writes (by default).
"""
import json
import os
import random
import tempfile
import zipfile

import numpy as np

from . import core

__all__ = ["save_checkpoint", "load_checkpoint", "restore_checkpoint", "latest_checkpoint", "Checkpoint"]

FORMAT = "pyconvnet-checkpoint"
VERSION = 1


def _arrays_of(vs):
    out = []
    for v in vs:
        a = v.numpy() if hasattr(v, "numpy") else v
        out.append(np.ascontiguousarray(np.asarray(a)))
    return out


def _opt_vars(optimizer):
    if optimizer is None:
        return []
    vs = getattr(optimizer, "variables", None)
    if callable(vs):
        vs = vs()
    return list(vs or [])


def _write_array(zf, name, arr):
    """One .npy entry (kept as a function so tests can interrupt a save here)."""
    with zf.open(name + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)


def _rng_state():
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"numpy": {"name": name, "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]]}, keys


def _fsync_dir(d):
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path, model=None, optimizer=None, epoch=0, step=0, sampler=None, rng=True, extra=None,
                    weights=None, all_ranks=False):
    """Write a checkpoint atomically; returns the path (None on ranks that do not write).

    model: anything with get_weights() (list of arrays); or pass `weights`.
    optimizer: defaults to model.optimizer; its `variables` (objects with
    .numpy() or arrays) are saved in order. sampler: a DistributedSampler (or
    anything with state_dict() returning JSON-able data). rng=True saves
    NumPy's and Python's global RNG states. extra: a JSON-able dict.
    Only rank 0 writes unless all_ranks=True.
    """
    if core.is_initialized() and core.rank() != 0 and not all_ranks:
        return None
    if weights is None:
        weights = model.get_weights() if model is not None else []
    if optimizer is None and model is not None:
        optimizer = getattr(model, "optimizer", None)
    w = [np.ascontiguousarray(np.asarray(a)) for a in weights]
    ovs = _opt_vars(optimizer)
    o = _arrays_of(ovs)
    meta = {
        "format": FORMAT, "version": VERSION, "epoch": int(epoch), "step": int(step),
        "weights": [{"shape": list(a.shape), "dtype": a.dtype.name} for a in w],
        "optimizer": [{"shape": list(a.shape), "dtype": a.dtype.name,
                       "name": str(getattr(v, "name", None) or getattr(v, "path", "") or "")}
                      for a, v in zip(o, ovs)],
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        # the step counter (Adam's bias correction, learning-rate schedules) when it is a plain int
        "optimizer_iterations": (int(optimizer.iterations) if isinstance(getattr(optimizer, "iterations", None),
                                                                         (int, np.integer)) else None),
        "sampler": sampler.state_dict() if sampler is not None else None,
        "world_size": core.size() if core.is_initialized() else 1,
        "extra": extra if extra is not None else {},
    }
    keys = None
    if rng:
        meta["rng"], keys = _rng_state()
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), np.uint8)

    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                _write_array(zf, "__meta__", blob)
                for i, a in enumerate(w):
                    _write_array(zf, "weights/%05d" % i, a)
                for i, a in enumerate(o):
                    _write_array(zf, "optimizer/%05d" % i, a)
                if keys is not None:
                    _write_array(zf, "rng/numpy_keys", keys)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(d)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


class Checkpoint(dict):
    """What load_checkpoint returns: a dict with keys weights (list of arrays),
    optimizer (list of arrays), epoch, step, sampler (dict or None), rng,
    extra, meta (the whole JSON record)."""


def load_checkpoint(path):
    """Read a checkpoint written by save_checkpoint (no pickle: allow_pickle=False)."""
    path = os.fspath(path)
    with np.load(path, allow_pickle=False) as z:
        if "__meta__" not in z.files:
            raise ValueError("load_checkpoint: %s is not a pyconvnet checkpoint (no __meta__ entry)" % path)
        meta = json.loads(bytes(z["__meta__"]).decode("utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError("load_checkpoint: %s has format %r, expected %r" % (path, meta.get("format"), FORMAT))
        if int(meta.get("version", 0)) > VERSION:
            raise ValueError("load_checkpoint: %s is format version %s; this pyconvnet reads <= %d"
                             % (path, meta.get("version"), VERSION))
        w = [z["weights/%05d" % i] for i in range(len(meta["weights"]))]
        o = [z["optimizer/%05d" % i] for i in range(len(meta["optimizer"]))]
        keys = z["rng/numpy_keys"] if "rng/numpy_keys" in z.files else None
    rng = meta.get("rng")
    if rng is not None and keys is not None:
        rng = dict(rng, numpy_keys=keys)
    return Checkpoint(weights=w, optimizer=o, epoch=meta["epoch"], step=meta["step"], sampler=meta.get("sampler"),
                      rng=rng, extra=meta.get("extra", {}), meta=meta)


def _set_rng(rng):
    n = rng["numpy"]
    np.random.set_state((n["name"], np.asarray(rng["numpy_keys"], np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = rng["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def restore_checkpoint(path, model=None, optimizer=None, sampler=None, restore_rng=True, broadcast=True):
    """Resume: load `path` into model/optimizer/sampler; returns the Checkpoint
    (epoch, step, extra ...) or None when `path` does not exist.

    With several ranks and broadcast=True only rank 0 reads the file; weights,
    optimizer variables and metadata are broadcast from it (so the file need
    only exist on rank 0's file system). If the optimizer has no variables yet
    and has build(), it is built with model.trainable_weights first.
    """
    dist = broadcast and core.is_initialized() and core.size() > 1
    ck = None
    if not dist or core.rank() == 0:
        ck = load_checkpoint(path) if os.path.exists(path) else None
    if dist:
        meta = core.broadcast_object(None if ck is None else ck["meta"], 0)
        if meta is None:
            return None
        if core.rank() != 0:
            ck = Checkpoint(weights=[np.empty(m["shape"], m["dtype"]) for m in meta["weights"]],
                            optimizer=[np.empty(m["shape"], m["dtype"]) for m in meta["optimizer"]],
                            epoch=meta["epoch"], step=meta["step"], sampler=meta.get("sampler"),
                            rng=None, extra=meta.get("extra", {}), meta=meta)
        core.broadcast_(ck["weights"] + ck["optimizer"], 0, "restore_checkpoint")
    if ck is None:
        return None
    if model is not None:
        model.set_weights(ck["weights"])
        if optimizer is None:
            optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and ck["optimizer"]:
        ovs = _opt_vars(optimizer)
        if not ovs and hasattr(optimizer, "build") and model is not None:
            optimizer.build(list(getattr(model, "trainable_weights", [])))
            ovs = _opt_vars(optimizer)
        if len(ovs) != len(ck["optimizer"]):
            raise ValueError("restore_checkpoint: checkpoint has %d optimizer variables, the optimizer has %d"
                             % (len(ck["optimizer"]), len(ovs)))
        for i, (v, a) in enumerate(zip(ovs, ck["optimizer"])):
            if tuple(np.shape(v.numpy())) != a.shape:
                raise ValueError("restore_checkpoint: optimizer variable #%d has shape %s, checkpoint has %s"
                                 % (i, tuple(np.shape(v.numpy())), a.shape))
            v.assign(a)
    it = (ck.get("meta") or {}).get("optimizer_iterations")
    if optimizer is not None and it is not None and isinstance(getattr(optimizer, "iterations", None),
                                                               (int, np.integer)):
        optimizer.iterations = int(it)
    if sampler is not None and ck["sampler"] is not None:
        sampler.load_state_dict(ck["sampler"])
    if restore_rng and ck.get("rng") is not None:
        _set_rng(ck["rng"])
    return ck


def latest_checkpoint(directory, prefix="ckpt-", suffix=".npz"):
    """Path of the checkpoint in `directory` with the highest number after `prefix`, or None."""
    best, best_n = None, -1
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return None
    for f in names:
        if f.startswith(prefix) and f.endswith(suffix):
            try:
                n = int(f[len(prefix):-len(suffix)])
            except ValueError:
                continue
            if n > best_n:
                best, best_n = os.path.join(directory, f), n
    return best
