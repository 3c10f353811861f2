"""keras.saving's registry and object (de)serialization, Keras 3.15 semantics.

`register_keras_serializable(package="Custom", name=None)` files a class or
function under "package>name"; `get_custom_objects()` is that global dict (users
may add plain names to it); `custom_object_scope({...})` makes a dict visible for
the duration of a `with`. pyconvnet's loader (saving.load_model /
deserialize_layer) consults, in order: the `custom_objects` argument, the active
scope, the registry (by registered name, then by class name), then built-ins.

These names are re-exported by pyconvnet.saving (so `keras.saving.X` works) and
pyconvnet.utils (`keras.utils.X`), as in Keras.
"""
import inspect

import numpy as np

__all__ = ["register_keras_serializable", "get_registered_name", "get_registered_object", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope", "serialize_keras_object", "deserialize_keras_object"]

GLOBAL_CUSTOM_OBJECTS = {}
GLOBAL_CUSTOM_NAMES = {}
_SCOPE = [{}]  # the active custom_object_scope dict (the last entry)


class CustomObjectScope:
    """`with custom_object_scope({"MyLayer": MyLayer}): load_model(...)` -- inside,
    the given objects resolve by name (the scope replaces an outer one, as in Keras)."""

    def __init__(self, custom_objects):
        self.custom_objects = custom_objects or {}
        self.backup = None

    def __enter__(self):
        _SCOPE.append(dict(self.custom_objects))
        return self

    def __exit__(self, *args, **kwargs):
        if len(_SCOPE) > 1:
            _SCOPE.pop()


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The global registry dict ("package>name" -> object; plain names may be added)."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class (which must have get_config) or a function
    under "package>name" (name defaults to its __name__)."""
    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = "%s>%s" % (package, class_name)
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg
    return decorator


def get_registered_name(obj):
    """"package>name" for a registered object, else its __name__."""
    try:
        if obj in GLOBAL_CUSTOM_NAMES:
            return GLOBAL_CUSTOM_NAMES[obj]
    except TypeError:
        pass
    return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object filed under `name` in the active scope, the registry,
    custom_objects or module_objects (that order, as in Keras), else None."""
    scope = _SCOPE[-1]
    if name in scope:
        return scope[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def effective_custom_objects(custom_objects=None):
    """One dict for pyconvnet's loaders: registered objects under their registered
    name and their class name, then the active scope, then `custom_objects`
    (later entries win)."""
    out = {}
    for reg, obj in GLOBAL_CUSTOM_OBJECTS.items():
        out.setdefault(getattr(obj, "__name__", reg), obj)
    out.update(GLOBAL_CUSTOM_OBJECTS)
    out.update(_SCOPE[-1])
    out.update(custom_objects or {})
    return out


def resolve(class_name, registered_name=None, custom_objects=None, scan=True):
    """The class/function for a saved (class_name, registered_name), or None:
    custom_objects, then scope, then registry -- by registered name first; with
    `scan`, finally a registered object whose __name__ is class_name."""
    names = [n for n in (registered_name, class_name) if n]
    for src in (custom_objects or {}, _SCOPE[-1], GLOBAL_CUSTOM_OBJECTS):
        for n in names:
            if n in src:
                return src[n]
    if not scan:
        return None
    # a registered object saved before its registered name was recorded
    for obj in GLOBAL_CUSTOM_OBJECTS.values():
        if getattr(obj, "__name__", None) == class_name:
            return obj
    return None


# ----------------------------------------------------------------- objects
def _builtin(class_name, module=""):
    from . import layers, optimizers, losses, metrics, initializers, regularizers, activations, models
    mods = [layers, optimizers, losses, metrics, initializers, regularizers, activations, models]
    m = module or ""
    order = sorted(mods, key=lambda mod: 0 if mod.__name__.rsplit(".", 1)[-1] in m else 1)
    for mod in order:
        c = getattr(mod, class_name, None)
        if c is not None and (inspect.isclass(c) or callable(c)):
            return c
    return None


_PUBLIC = ("layers", "losses", "metrics", "optimizers", "initializers", "regularizers", "activations", "models",
           "callbacks", "constraints")


def _is_builtin(obj):
    return (getattr(obj, "__module__", "") or "").startswith("pyconvnet.")


def _keras_module(cls):
    """"keras.layers" for pyconvnet.layers.core.Dense, "keras.optimizers" for pyconvnet.optimizers.Adam ..."""
    parts = cls.__module__.split(".")
    for p in parts[1:]:
        if p in _PUBLIC:
            return "keras." + p
    return cls.__module__


def serialize_keras_object(obj):
    """A JSON-able dict describing obj, in Keras's format:
    {"module", "class_name", "config", "registered_name"} for objects with
    get_config; {"class_name": "function", "config": name, ...} for functions;
    {"class_name": "__numpy__", ...} for arrays; plain values as they are."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.ndarray) or (hasattr(obj, "numpy") and hasattr(obj, "shape")):
        a = np.asarray(obj)
        return {"class_name": "__numpy__", "config": {"value": a.tolist(), "dtype": a.dtype.name}}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        if obj in GLOBAL_CUSTOM_NAMES or not _is_builtin(obj):
            return {"module": obj.__module__, "class_name": "function", "config": obj.__name__,
                    "registered_name": get_registered_name(obj)}
        # a pyconvnet built-in (relu, mean_squared_error ...): Keras writes these exactly so
        return {"module": "builtins", "class_name": "function", "config": obj.__name__, "registered_name": "function"}
    if hasattr(obj, "get_config"):
        from .layers.base import Layer
        if isinstance(obj, Layer):
            from .saving import serialize_layer
            cfg = serialize_layer(obj)
        else:
            cfg = {"module": type(obj).__module__, "class_name": type(obj).__name__, "config": obj.get_config()}
        if type(obj) in GLOBAL_CUSTOM_NAMES or not _is_builtin(type(obj)):
            cfg["registered_name"] = get_registered_name(type(obj))
        else:  # a built-in class: Keras's public module and no registered name, so Keras can read it too
            cfg["module"] = _keras_module(type(obj))
            cfg["registered_name"] = None
        return cfg
    raise TypeError("serialize_keras_object: cannot serialize %r of type %s (it has no get_config())"
                    % (obj, type(obj).__name__))


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """Rebuild what serialize_keras_object produced (or a name string): classes by
    registered name / class name through custom_objects, the scope, the registry
    and pyconvnet's built-ins, then `cls.from_config(config)`."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(c, custom_objects, safe_mode) for c in config]
    if isinstance(config, str):
        obj = resolve(config, None, custom_objects) or _builtin(config, kwargs.get("module_objects", "") or "")
        return obj if obj is not None else config
    if not isinstance(config, dict):
        raise TypeError("deserialize_keras_object: could not parse config %r" % (config,))
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode) for k, v in config.items()}
    cn, inner, reg = config["class_name"], config["config"], config.get("registered_name")
    if cn == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if cn == "function":
        fn = resolve(inner, reg, custom_objects) or _builtin(inner, config.get("module", ""))
        if fn is None:
            raise ValueError("Could not locate function '%s'. Make sure custom classes and functions are decorated "
                             "with `@keras.saving.register_keras_serializable()`. Full object config: %s"
                             % (inner, config))
        return fn
    cls = resolve(cn, reg, custom_objects) or _builtin(cn, config.get("module", ""))
    if cls is None and cn in ("Functional", "Sequential", "Model"):
        from . import models
        cls = models.Model if cn != "Sequential" else models.Sequential
    if cls is None:
        raise TypeError("Could not locate class '%s'. Make sure custom classes are decorated with "
                        "`@keras.saving.register_keras_serializable()`. Full object config: %s" % (cn, config))
    from .layers.base import Layer
    if inspect.isclass(cls) and issubclass(cls, Layer):
        from .saving import deserialize_layer, _SAFE, _UNSAFE
        _SAFE.append(bool(safe_mode) and not _UNSAFE[0])
        try:
            return deserialize_layer(config, effective_custom_objects(custom_objects))
        finally:
            _SAFE.pop()
    if not hasattr(cls, "from_config"):  # Keras's base from_config: the constructor on the config
        return cls(**inner)
    return cls.from_config(inner)
