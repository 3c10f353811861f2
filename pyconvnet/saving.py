"""Weights and whole-model files, without pickle.

Weights file (`save_weights`, any extension, e.g. `.weights.h5` or `.npz`): an
uncompressed NumPy .npz holding `w00000`, `w00001`, ... (float32, model.weights
order) and `__header__`, a uint8 array of UTF-8 JSON:
  {"format": "pyconvnet.weights", "version": 1, "model": name,
   "weights": [{"path": "dense/kernel", "shape": [784, 128]}, ...]}
It is read with np.load(allow_pickle=False).

Model file (`model.save`, e.g. `.keras`): a zip with `config.json`
(architecture, compile config), `metadata.json` and `model.weights.npz` (the
weights file above).

Every write goes to a temporary file in the target directory, is fsynced, then
os.replace()d over the target. Every load validates the whole file (format,
count, every shape) before assigning anything, so a bad file leaves the model
as it was.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from . import saving_api
from .saving_api import (CustomObjectScope, custom_object_scope, deserialize_keras_object, get_custom_objects,
                         get_registered_name, get_registered_object, register_keras_serializable,
                         serialize_keras_object)

__all__ = ["save_weights", "load_weights", "save_model", "load_model", "serialize_layer", "deserialize_layer",
           "model_to_json", "model_from_json", "enable_unsafe_deserialization"] + saving_api.__all__

_FORMAT = "pyconvnet.weights"
_SAFE = [True]
_UNSAFE = [False]  # keras.config.enable_unsafe_deserialization()


def enable_unsafe_deserialization():
    """keras.config.enable_unsafe_deserialization: load_model may run Lambda bytecode
    from then on, whatever safe_mode says (as Keras)."""
    _UNSAFE[0] = True


def atomic_write(path, write_fn):
    """Call write_fn(fileobj) on a temp file next to `path`, fsync, os.replace."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _weights_bytes(model):
    ws = model.weights
    header = {"format": _FORMAT, "version": 1, "model": model.name,
              "weights": [{"path": v.path, "shape": list(v.shape)} for v in ws]}
    arrays = {"w%05d" % i: np.require(v.numpy(), np.float32, "C") for i, v in enumerate(ws)}
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _check_built(model, what):
    # a built model without weights (Rescaling, Activation, a custom weightless layer) saves fine, as in Keras
    if not model.built or (not model.weights and any(not getattr(l, "built", True) for l in model.layers)):
        raise ValueError("Model '%s' has not been built yet, so it has no weights to %s. Call the model on a batch "
                         "or give the first layer an input_shape first." % (model.name, what))


def save_weights(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError("save_weights: %s exists and overwrite=False" % filepath)
    _check_built(model, "save")
    data = _weights_bytes(model)
    atomic_write(filepath, lambda f: f.write(data))


def _read_weights(src, name):
    """Parse and validate a weights file -> (header, [arrays]). Raises ValueError."""
    try:
        with np.load(src, allow_pickle=False) as z:
            if "__header__" not in z.files:
                raise ValueError("no __header__ entry")
            header = json.loads(bytes(z["__header__"]).decode("utf-8"))
            if header.get("format") != _FORMAT:
                raise ValueError("format is %r, expected %r" % (header.get("format"), _FORMAT))
            entries = header["weights"]
            arrays = []
            for i, e in enumerate(entries):
                a = z["w%05d" % i]
                if list(a.shape) != list(e["shape"]):
                    raise ValueError("entry %d (%s) has shape %s but its header says %s" % (i, e["path"], a.shape,
                                                                                           e["shape"]))
                if a.dtype.kind not in "f":
                    raise ValueError("entry %d (%s) has dtype %s, expected float32" % (i, e["path"], a.dtype))
                arrays.append(np.require(a, np.float32, "C"))
    except ValueError as e:
        raise ValueError("%s is not a valid pyconvnet weights file: %s" % (name, e)) from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, TypeError, AttributeError) as e:
        raise ValueError("%s is not a valid pyconvnet weights file (corrupt or truncated): %s: %s"
                         % (name, type(e).__name__, e)) from None
    return header, arrays


def _assign_checked(model, header, arrays, name, skip_mismatch=False):
    ws = model.weights
    if len(arrays) != len(ws):
        raise ValueError("Weights file %s holds %d weights but model '%s' has %d (file: %s; model: %s)"
                         % (name, len(arrays), model.name, len(ws),
                            [e["path"] for e in header["weights"]], [v.path for v in ws]))
    entries = header["weights"]
    fpaths, mpaths = [e["path"] for e in entries], [v.path for v in ws]
    if fpaths != mpaths and len(set(fpaths)) == len(fpaths) and set(fpaths) == set(mpaths):
        # same weights in another order (files written before model.layers followed Keras's
        # depth order for branched graphs): match them by path
        at = {p: i for i, p in enumerate(fpaths)}
        arrays = [arrays[at[p]] for p in mpaths]
        entries = [entries[at[p]] for p in mpaths]
    keep = []
    for v, a, e in zip(ws, arrays, entries):
        if tuple(a.shape) != v.shape:
            if skip_mismatch:
                continue
            layer = v.path.rsplit("/", 1)[0]
            raise ValueError("Weights file %s: layer '%s' weight '%s' expects shape %s, but the file has shape %s "
                             "(saved as '%s')" % (name, layer, v.name, v.shape, tuple(a.shape), e["path"]))
        keep.append((v, a))
    for v, a in keep:  # all validated: now assign
        v.assign(a)


def load_weights(model, filepath, skip_mismatch=False):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError("load_weights: no such file: %s" % filepath)
    _check_built(model, "load")
    if zipfile.is_zipfile(filepath):
        with zipfile.ZipFile(filepath) as zf:
            if "model.weights.npz" in zf.namelist():  # a whole-model file
                data = zf.read("model.weights.npz")
                header, arrays = _read_weights(io.BytesIO(data), filepath)
                return _assign_checked(model, header, arrays, filepath, skip_mismatch)
    header, arrays = _read_weights(filepath, filepath)
    _assign_checked(model, header, arrays, filepath, skip_mismatch)


# ----------------------------------------------------------------- configs
def serialize_layer(layer):
    from .models import Sequential, Model
    cls = type(layer).__name__
    if isinstance(layer, Model) and getattr(layer, "_pcn_functional", False) and type(layer) is Model:
        cls = "Functional"
    out = {"module": type(layer).__module__, "class_name": cls, "config": layer.get_config()}
    if type(layer) in saving_api.GLOBAL_CUSTOM_NAMES:  # @register_keras_serializable: "package>name"
        out["registered_name"] = saving_api.GLOBAL_CUSTOM_NAMES[type(layer)]
    return out


def _lookup(class_name, custom_objects, registered_name=None):
    from . import layers as L
    from .models import Sequential, Model
    from .layers.base import Layer
    c = saving_api.resolve(class_name, registered_name, custom_objects, scan=False)
    if c is not None:  # custom_objects, custom_object_scope, register_keras_serializable (exact names)
        return c
    builtin = {"Sequential": Sequential, "Functional": Model, "Model": Model}
    if class_name in builtin:
        return builtin[class_name]
    c = getattr(L, class_name, None)
    if isinstance(c, type) and issubclass(c, Layer):
        return c
    c = saving_api.resolve(class_name, None, None, scan=True)  # registered, saved before it was
    if c is not None:
        return c
    c = Layer._pcn_registered.get(class_name)
    if c is not None:
        return c
    raise ValueError("Unknown layer: '%s'. Please ensure you are using a `keras.utils.custom_object_scope` or "
                     "pass it in custom_objects={'%s': %s} to load_model()" % (class_name, class_name, class_name))


def deserialize_layer(cfg, custom_objects=None):
    from .layers.core import Lambda
    from .models import Model, Sequential
    cls = _lookup(cfg["class_name"], custom_objects, cfg.get("registered_name"))
    conf = dict(cfg.get("config", {}))
    if cls is Lambda or (isinstance(cls, type) and issubclass(cls, Lambda)):
        return cls.from_config(conf, safe_mode=_SAFE[-1],
                               custom_objects=saving_api.effective_custom_objects(custom_objects))
    if cfg["class_name"] == "Functional":
        return functional_from_config(conf, custom_objects)
    if cls is Sequential:
        return Sequential.from_config(conf, custom_objects)
    import inspect
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(conf, custom_objects=custom_objects)
    try:
        return cls.from_config(conf)
    except TypeError as e:
        raise TypeError("Could not rebuild layer '%s' of class %s from its config: %s. A custom layer must define "
                        "get_config() returning its constructor arguments." % (conf.get("name"), cfg["class_name"],
                                                                               e)) from None


def _ref(kt, node_ids, input_ids):
    if id(kt) in input_ids:
        return ["input", input_ids[id(kt)]]
    layer, ni, ti = kt._keras_history
    node = layer._inbound_nodes[ni]
    return ["node", node_ids[id(node)], ti]


def _struct(x, fn):
    from .layers.base import KerasTensor
    if isinstance(x, KerasTensor):
        return {"__t__": fn(x)}
    if isinstance(x, (list, tuple)):
        return [_struct(i, fn) for i in x]
    if isinstance(x, dict):
        return {k: _struct(v, fn) for k, v in x.items()}
    return x


def _unstruct(x, fn):
    if isinstance(x, dict) and "__t__" in x:
        return fn(x["__t__"])
    if isinstance(x, list):
        return [_unstruct(i, fn) for i in x]
    if isinstance(x, dict):
        return {k: _unstruct(v, fn) for k, v in x.items()}
    return x


def functional_config(model):
    input_ids = {id(t): i for i, t in enumerate(model._pcn_inputs)}
    node_ids = {id(n): i for i, n in enumerate(model._pcn_nodes)}
    layers = [l for l in model._pcn_layers]
    lidx = {id(l): i for i, l in enumerate(layers)}
    nodes = []
    for n in model._pcn_nodes:
        kw = {k: _struct(v, lambda t: _ref(t, node_ids, input_ids)) for k, v in n.kwargs.items() if k != "_args"}
        nodes.append({"layer": lidx[id(n.layer)],
                      "args": _struct(n.inputs, lambda t: _ref(t, node_ids, input_ids)),
                      "extra": list(n.kwargs.get("_args", ())), "kwargs": kw})
    return {"name": model.name, "trainable": model.trainable,
            "layers": [serialize_layer(l) for l in layers],
            "input_layers": [lidx[id(t._keras_history[0])] for t in model._pcn_inputs],
            "nodes": nodes,
            "outputs": _struct(model._pcn_out_struct, lambda t: _ref(t, node_ids, input_ids)),
            "inputs_struct": _struct(model._pcn_in_struct, lambda t: ["input", input_ids[id(t)]])}


def functional_from_config(cfg, custom_objects=None):
    from .models import Model
    layers = [deserialize_layer(lc, custom_objects) for lc in cfg["layers"]]
    inputs = [layers[i]._inbound_nodes[0].outputs for i in cfg["input_layers"]]
    outs = []

    def resolve(r):
        if r[0] == "input":
            return inputs[r[1]]
        o = outs[r[1]]
        return o if not isinstance(o, (list, tuple)) else o[r[2]]
    for nd in cfg["nodes"]:
        args = _unstruct(nd["args"], resolve)
        kw = {k: _unstruct(v, resolve) for k, v in nd.get("kwargs", {}).items()}
        outs.append(layers[nd["layer"]](args, *nd.get("extra", []), **kw))
    outputs = _unstruct(cfg["outputs"], resolve)
    ins = _unstruct(cfg["inputs_struct"], resolve)
    return Model(ins, outputs, name=cfg.get("name"), trainable=cfg.get("trainable", True))


def model_from_config(cfg, custom_objects=None):
    return deserialize_layer(cfg, custom_objects)


# ------------------------------------------------------------ whole model
def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """keras.saving.save_model: the whole model (config, compile config, weights)
    in one zip. include_optimizer/save_format are accepted as in Keras; any other
    keyword raises ValueError; zipped=False (a directory) is not supported."""
    from . import __version__, optimizers, losses
    kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", False)
    if save_format and not str(filepath).endswith((".h5", ".hdf5", ".keras")):
        raise ValueError("The `save_format` argument is deprecated in Keras 3. Please remove this argument and pass "
                         "a file path with either `.keras` or `.h5` extension.Received: save_format=%s" % save_format)
    if kwargs:
        raise ValueError("The following argument(s) are not supported: %s" % list(kwargs.keys()))
    if zipped is False:
        raise NotImplementedError("save_model: zipped=False (an unzipped directory) is not supported by pyconvnet; "
                                  "the model is always one zip file")
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError("save: %s exists and overwrite=False" % filepath)
    _check_built(model, "save")
    cfg = serialize_layer(model)
    if model.compiled:  # compile()'s arguments: loss_weights, weighted_metrics, Metric objects too
        cfg["compile_config"] = model.get_compile_config()
    text = json.dumps(cfg)
    meta = json.dumps({"pyconvnet_version": __version__, "format": "pyconvnet.model", "version": 1})
    wbytes = _weights_bytes(model)

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", meta)
            zf.writestr("config.json", text)
            zf.writestr("model.weights.npz", wbytes)
    atomic_write(filepath, write)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model saved by model.save(); raises (and returns nothing) if any
    part is invalid. Lambda layers need safe_mode=False (their bytecode runs)."""
    from . import optimizers, losses
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError("load_model: no such file: %s" % filepath)
    try:
        with zipfile.ZipFile(filepath) as zf:
            names = zf.namelist()
            for need in ("config.json", "model.weights.npz"):
                if need not in names:
                    raise ValueError("missing %s" % need)
            cfg = json.loads(zf.read("config.json").decode("utf-8"))
            wdata = zf.read("model.weights.npz")
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, UnicodeDecodeError, json.JSONDecodeError,
            ValueError) as e:
        raise ValueError("%s is not a valid pyconvnet model file (corrupt or truncated): %s: %s"
                         % (filepath, type(e).__name__, e)) from None
    header, arrays = _read_weights(io.BytesIO(wdata), filepath)
    _SAFE.append(bool(safe_mode) and not _UNSAFE[0])
    try:
        model = deserialize_layer(cfg, custom_objects)
    finally:
        _SAFE.pop()
    _check_built(model, "load")
    _assign_checked(model, header, arrays, filepath)
    comp = cfg.get("compile_config")
    if compile and comp:
        custom_objects = saving_api.effective_custom_objects(custom_objects)  # registered losses/optimizers too
        try:
            model.compile_from_config(comp, custom_objects)
        except (ValueError, TypeError, KeyError) as e:  # e.g. a custom metric function not registered
            import warnings
            warnings.warn("load_model: compiling the loaded model from its saved compile config failed (%s: %s); "
                          "it is compiled with the optimizer and loss only. Pass custom_objects or register the "
                          "metric to restore it." % (type(e).__name__, e), stacklevel=2)
            model.compile(optimizer=optimizers.deserialize(comp["optimizer"], custom_objects),
                          loss=losses.deserialize(comp["loss"], custom_objects) if isinstance(comp.get("loss"), dict)
                          else comp.get("loss"))
    return model


def model_to_json(model, **kwargs):
    """keras Model.to_json: the architecture (no weights) as a JSON string."""
    return json.dumps(serialize_keras_object(model), **kwargs)


def model_from_json(json_string, custom_objects=None):
    """keras.models.model_from_json: rebuild an (unbuilt-weights) model from model_to_json's string."""
    return deserialize_keras_object(json.loads(json_string), custom_objects=custom_objects)
