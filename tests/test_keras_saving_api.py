"""keras.saving registry honoured by pyconvnet's loader, and keras.utils data helpers
(pad_sequences, to_categorical, normalize, timeseries_dataset_from_array, Progbar)
with Keras 3.15 semantics -- in CI, without keras."""
import io
import json
import os
import sys

import numpy as np
import pytest

import pyconvnet as keras
import pyconvnet.saving as saving
from pyconvnet import saving_api
from tolerance import assert_close

utils = keras.utils


@pytest.fixture(autouse=True)
def _clean_registry():
    before = dict(saving_api.GLOBAL_CUSTOM_OBJECTS), dict(saving_api.GLOBAL_CUSTOM_NAMES)
    yield
    saving_api.GLOBAL_CUSTOM_OBJECTS.clear()
    saving_api.GLOBAL_CUSTOM_OBJECTS.update(before[0])
    saving_api.GLOBAL_CUSTOM_NAMES.clear()
    saving_api.GLOBAL_CUSTOM_NAMES.update(before[1])


def _residual_unit_class(package):
    @saving.register_keras_serializable(package=package)
    class ResidualUnit(keras.layers.Layer):
        def __init__(self, filters, strides=1, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.filters, self.strides = filters, strides
            self.activation = keras.activations.get(activation)
            self.main_layers = [keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False),
                                keras.layers.BatchNormalization(), self.activation,
                                keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
                                keras.layers.BatchNormalization()]
            self.skip_layers = []
            if strides > 1:
                self.skip_layers = [keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False),
                                    keras.layers.BatchNormalization()]

        def call(self, inputs):
            z = inputs
            for layer in self.main_layers:
                z = layer(z)
            s = inputs
            for layer in self.skip_layers:
                s = layer(s)
            return self.activation(z + s)

        def get_config(self):
            cfg = super().get_config()
            cfg.update(filters=self.filters, strides=self.strides,
                       activation=keras.activations.serialize(self.activation))
            return cfg
    return ResidualUnit


def test_registered_residual_unit_round_trips_without_custom_objects(tmp_path):
    ResidualUnit = _residual_unit_class("MyResNet")
    assert saving.get_registered_name(ResidualUnit) == "MyResNet>ResidualUnit"
    assert saving.get_registered_object("MyResNet>ResidualUnit") is ResidualUnit
    assert keras.utils.get_custom_objects()["MyResNet>ResidualUnit"] is ResidualUnit
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = ResidualUnit(4)(x)
    x = ResidualUnit(8, strides=2)(x)
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, out)
    model.compile("adam", "mse")
    xb = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype(np.float32)
    model.fit(xb, np.zeros((4, 2), np.float32), epochs=1, verbose=0)
    path = str(tmp_path / "resnet.keras")
    model.save(path)
    with open(os.devnull, "w"):
        pass
    loaded = keras.models.load_model(path)  # no custom_objects
    units = [l for l in loaded.layers if type(l).__name__ == "ResidualUnit"]
    assert len(units) == 2 and all(type(u) is ResidualUnit for u in units)
    assert_close(loaded.predict(xb, verbose=0), model.predict(xb, verbose=0), rtol=1e-5, atol=1e-6)
    cfg = json.loads(saving.model_to_json(model))
    regs = [l.get("registered_name") for l in cfg["config"]["layers"]]
    assert regs.count("MyResNet>ResidualUnit") == 2


def test_same_class_name_in_two_packages_loads_the_right_one(tmp_path):
    @saving.register_keras_serializable(package="A")
    class Scale(keras.layers.Layer):
        def __init__(self, k=2.0, **kw):
            super().__init__(**kw)
            self.k = k

        def call(self, x):
            return x * self.k

        def get_config(self):
            c = super().get_config()
            c["k"] = self.k
            return c
    ScaleA = Scale

    @saving.register_keras_serializable(package="B")
    class Scale(ScaleA):  # noqa: F811 - same __name__, different behaviour
        def call(self, x):
            return x + self.k
    ScaleB = Scale
    for cls, want in ((ScaleA, 6.0), (ScaleB, 5.0)):
        m = keras.Sequential([keras.Input((2,)), cls(3.0)])
        p = str(tmp_path / ("m_%s.keras" % saving.get_registered_name(cls).split(">")[0]))
        m.save(p)
        m2 = saving.load_model(p)
        assert type(m2.layers[-1]) is cls
        assert_close(m2.predict(np.full((1, 2), 2.0, np.float32), verbose=0), np.full((1, 2), want))


def test_custom_object_scope_and_plain_names(tmp_path):
    class Offset(keras.layers.Layer):
        def __init__(self, b=1.0, **kw):
            super().__init__(**kw)
            self.b = b

        def call(self, x):
            return x + self.b

        def get_config(self):
            c = super().get_config()
            c["b"] = self.b
            return c
    Offset1 = Offset

    class Offset(Offset1):  # noqa: F811 - unregistered twin: only a scope/custom_objects can pick it
        def call(self, x):
            return x - self.b
    Offset2 = Offset
    m = keras.Sequential([keras.Input((1,)), Offset2(1.0)])
    p = str(tmp_path / "o.keras")
    m.save(p)
    x = np.zeros((1, 1), np.float32)
    with keras.utils.custom_object_scope({"Offset": Offset2}):
        assert saving.get_registered_object("Offset") is Offset2
        assert saving.load_model(p).predict(x, verbose=0)[0, 0] == -1.0
    assert saving.get_registered_object("Offset") is None
    assert saving.load_model(p, custom_objects={"Offset": Offset2}).predict(x, verbose=0)[0, 0] == -1.0
    keras.utils.get_custom_objects()["Offset"] = Offset2  # Keras users also fill the dict by hand
    assert saving.load_model(p).predict(x, verbose=0)[0, 0] == -1.0
    with saving.CustomObjectScope({"Offset": Offset1}):  # the scope wins over the global dict (Keras order)
        assert saving.load_model(p).predict(x, verbose=0)[0, 0] == 1.0


def test_register_rejects_class_without_get_config_and_registers_functions(tmp_path):
    class NoConfig:
        pass
    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(NoConfig)

    @keras.utils.register_keras_serializable(package="losses", name="halfmse")
    def half_mse(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) * 0.5
    assert saving.get_registered_name(half_mse) == "losses>halfmse"
    s = saving.serialize_keras_object(half_mse)
    assert s["class_name"] == "function" and s["registered_name"] == "losses>halfmse"
    assert saving.deserialize_keras_object(s) is half_mse
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile("sgd", half_mse)
    p = str(tmp_path / "f.keras")
    m.save(p)
    m2 = saving.load_model(p)  # the compiled loss resolves through the registry
    x = np.ones((4, 2), np.float32)
    assert m2.evaluate(x, np.zeros((4, 1), np.float32), verbose=0) == pytest.approx(
        m.evaluate(x, np.zeros((4, 1), np.float32), verbose=0), rel=1e-5)


def test_serialize_deserialize_keras_object():
    d = keras.layers.Dense(3, activation="relu", name="d")
    s = saving.serialize_keras_object(d)
    assert s["class_name"] == "Dense" and s["config"]["units"] == 3 and "registered_name" in s
    d2 = saving.deserialize_keras_object(s)
    assert isinstance(d2, keras.layers.Dense) and d2.units == 3
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(saving.deserialize_keras_object(saving.serialize_keras_object(a)), a)
    opt = saving.deserialize_keras_object(saving.serialize_keras_object(keras.optimizers.Adam(0.01)))
    assert isinstance(opt, keras.optimizers.Adam)
    assert saving.serialize_keras_object([1, "a", None]) == [1, "a", None]
    with pytest.raises(TypeError, match="Could not locate class"):
        saving.deserialize_keras_object({"class_name": "NoSuchThing", "config": {}})


def test_model_json_round_trip_and_save_model_arguments(tmp_path):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    j = saving.model_to_json(m)
    m2 = saving.model_from_json(j)
    assert [type(l).__name__ for l in m2.layers] == ["Dense", "Dense"]
    assert [w.shape for w in m2.weights] == [w.shape for w in m.weights]
    with pytest.raises(ValueError, match="not supported"):
        saving.save_model(m, str(tmp_path / "x.keras"), bogus=1)
    saving.save_model(m, str(tmp_path / "x.keras"), include_optimizer=False)
    with pytest.raises(NotImplementedError, match="zipped"):
        saving.save_model(m, str(tmp_path / "y"), zipped=False)


# ----------------------------------------------------------------- keras.utils
def test_pad_sequences_keras_semantics():
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    out = utils.pad_sequences(seqs)
    assert out.dtype == np.int32 and out.shape == (4, 5)
    assert out.tolist() == [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4], [0] * 5, [5, 6, 7, 8, 9]]
    assert utils.pad_sequences(seqs, maxlen=2).tolist() == [[2, 3], [0, 4], [0, 0], [8, 9]]
    assert utils.pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[1, 2], [0, 4], [0, 0], [5, 6]]
    assert utils.pad_sequences(seqs, maxlen=4, padding="post", value=-1).tolist() == \
        [[1, 2, 3, -1], [4, -1, -1, -1], [-1] * 4, [6, 7, 8, 9]]
    f = utils.pad_sequences([[0.5], [1.5, 2.5]], dtype="float32", value=0.25)
    assert f.dtype == np.float32 and f.tolist() == [[0.25, 0.5], [1.5, 2.5]]
    assert utils.pad_sequences([[0.7, 1.9]]).tolist() == [[0, 1]]  # int32 default truncates floats, as Keras
    v = utils.pad_sequences([np.ones((2, 3)), np.ones((1, 3))], maxlen=3)
    assert v.shape == (2, 3, 3) and v[1, :2].sum() == 0
    with pytest.raises(ValueError, match="Padding type"):
        utils.pad_sequences(seqs, padding="mid")
    with pytest.raises(ValueError, match="Truncating type"):
        utils.pad_sequences(seqs, maxlen=1, truncating="mid")
    with pytest.raises(ValueError, match="Shape of sample"):
        utils.pad_sequences([np.ones((2, 3)), np.ones((1, 2))])
    with pytest.raises(ValueError, match="non-iterable"):
        utils.pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="dtype"):
        utils.pad_sequences([["a"]], value="x")


def test_to_categorical_keeps_label_shape_and_utils_normalize():
    assert utils.to_categorical([1, 2], 4).shape == (2, 4)
    assert utils.to_categorical(np.array([[1], [2]]), 3).shape == (2, 3)  # trailing 1 dropped
    y = utils.to_categorical(np.array([[1, 0], [2, 1]]), 3)
    assert y.shape == (2, 2, 3) and y[1, 0].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="to_categorical"):
        utils.to_categorical([3], 3)
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    assert_close(utils.normalize(x), [[0.6, 0.8], [0, 0]])
    assert_close(utils.normalize(np.array([3.0, 4.0]), axis=0), [[0.6, 0.8]])
    assert_close(utils.normalize(x, order=1), [[3 / 7, 4 / 7], [0, 0]])
    t = utils.normalize(keras.ops.convert_to_tensor(x.astype(np.float32)))
    assert_close(np.asarray(t), [[0.6, 0.8], [0, 0]])


def _windows_ref(data, targets, L, stride, rate, start, end):
    start = start or 0
    end = len(data) if end is None else end
    n = end - start - (L - 1) * rate
    if targets is not None:
        n = min(n, len(targets))
    xs, ys = [], []
    for p in range(0, n, stride):
        xs.append([data[start + p + k * rate] for k in range(L)])
        if targets is not None:
            ys.append(targets[start + p])
    return np.array(xs), (np.array(ys) if targets is not None else None)


@pytest.mark.parametrize("L,stride,rate,bs,start,end", [
    (4, 1, 1, 5, None, None), (4, 2, 2, 3, 1, None), (3, 3, 1, 128, 2, 17), (5, 1, 3, 2, None, 15),
    (2, 1, 1, None, None, None)])
def test_timeseries_dataset_matches_sliding_windows(L, stride, rate, bs, start, end):
    data = np.arange(20 * 2).reshape(20, 2)
    targets = np.arange(20) * 10
    ds = utils.timeseries_dataset_from_array(data, targets, sequence_length=L, sequence_stride=stride,
                                             sampling_rate=rate, batch_size=bs, start_index=start, end_index=end)
    assert isinstance(ds, utils.PyDataset)
    xr, yr = _windows_ref(data, targets, L, stride, rate, start, end)
    if bs is None:
        got = list(ds)
        assert len(got) == len(xr)
        xs, ys = np.stack([g[0] for g in got]), np.stack([g[1] for g in got])
    else:
        assert len(ds) == -(-len(xr) // bs)
        xs = np.concatenate([b[0] for b in ds])
        ys = np.concatenate([b[1] for b in ds])
        assert all(len(ds[i][0]) == bs for i in range(len(ds) - 1))
    assert np.array_equal(xs, xr) and np.array_equal(ys, yr)


def test_timeseries_without_targets_shuffle_and_errors():
    data = np.arange(30, dtype=np.float32)
    ds = utils.timeseries_dataset_from_array(data, None, sequence_length=5, batch_size=4)
    b0 = ds[0]
    assert isinstance(b0, np.ndarray) and b0.shape == (4, 5) and b0[1].tolist() == [1, 2, 3, 4, 5]
    s1 = utils.timeseries_dataset_from_array(data, data * 2, sequence_length=5, batch_size=4, shuffle=True, seed=3)
    s2 = utils.timeseries_dataset_from_array(data, data * 2, sequence_length=5, batch_size=4, shuffle=True, seed=3)
    x1 = np.concatenate([b[0] for b in s1])
    assert np.array_equal(x1, np.concatenate([b[0] for b in s2]))  # same seed, same order
    assert sorted(x1[:, 0].tolist()) == list(range(26)) and x1[:, 0].tolist() != list(range(26))
    assert all(np.array_equal(b[1], b[0][:, 0] * 2) for b in s1)  # targets follow their windows
    first = list(s1.take(1))
    assert len(first) == 1 and np.array_equal(first[0][0], s1[0][0])
    assert len(s1.take(-1)) == len(s1)
    s1.on_epoch_end()  # a new order each epoch, same windows
    x1b = np.concatenate([b[0] for b in s1])
    assert sorted(x1b[:, 0].tolist()) == list(range(26))
    for kw, msg in [(dict(start_index=-1), "start_index"), (dict(end_index=30), "end_index"),
                    (dict(sampling_rate=0), "sampling_rate"), (dict(sequence_stride=0), "sequence_stride"),
                    (dict(start_index=5, end_index=3), "end_index"), (dict(format="np"), "format")]:
        with pytest.raises(ValueError, match=msg):
            utils.timeseries_dataset_from_array(data, None, sequence_length=3, **kw)


def test_timeseries_dataset_trains_with_fit():
    t = np.arange(300, dtype=np.float32)
    series = np.sin(t * 0.1)[:, None].astype(np.float32)
    L = 8
    ds = utils.timeseries_dataset_from_array(series[:-L], series[L:, 0], sequence_length=L, batch_size=32)
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((L, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    m.compile(keras.optimizers.Adam(0.01), "mse")
    h = m.fit(ds, epochs=6, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0] * 0.5
    assert m.predict(ds, verbose=0).shape == (len(series) - 2 * L + 1, 1)
    assert np.isfinite(m.evaluate(ds, verbose=0))


def test_progbar_and_plot_model(capsys):
    p = utils.Progbar(4, verbose=1, interval=0)
    for i in range(4):
        p.update(i + 1, values=[("loss", float(i))])
    out = capsys.readouterr().out
    assert "4/4" in out and "loss: 1.5000" in out  # the average of 0, 1, 2, 3
    p2 = utils.Progbar(None, verbose=2, stateful_metrics=["acc"])
    p2.add(2, values=[("acc", 0.1)])
    p2.add(3, values=[("acc", 0.9)])
    p2.update(5, finalize=True)
    assert "acc: 0.9000" in capsys.readouterr().out
    try:
        import pydot  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pydot"):
            utils.plot_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))


def test_pack_unpack_and_utils_reexports():
    assert utils.pack_x_y_sample_weight(1) == 1
    assert utils.pack_x_y_sample_weight(1, 2) == (1, 2)
    assert utils.unpack_x_y_sample_weight((1,)) == (1, None, None)
    assert utils.unpack_x_y_sample_weight([1, 2, 3]) == (1, 2, 3)
    assert utils.is_keras_tensor(keras.Input((2,)))
    assert utils.standardize_dtype("float32") == "float32"
    for n in ("register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
              "get_registered_name", "get_registered_object", "serialize_keras_object", "deserialize_keras_object"):
        assert getattr(utils, n) is getattr(saving, n)
    keras.utils.set_random_seed(5)
    assert utils.get_random_seed() == 5
    keras.backend.clear_session()  # as Keras: the global seed state goes with the session
    assert utils.get_random_seed() is None


def test_enable_unsafe_deserialization_lets_lambda_load(tmp_path):
    m = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 3.0)])
    p = str(tmp_path / "lam.keras")
    m.save(p)
    with pytest.raises(ValueError):
        saving.load_model(p)  # safe_mode=True refuses Lambda bytecode
    saving.enable_unsafe_deserialization()
    try:
        m2 = saving.load_model(p)
        assert_close(m2.predict(np.ones((1, 2), np.float32), verbose=0), np.full((1, 2), 3.0))
    finally:
        saving._UNSAFE[0] = False


def test_get_source_inputs():
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    c = keras.layers.Dense(2)(a)
    y = keras.layers.Concatenate()([c, keras.layers.Dense(2)(b), c])
    src = utils.get_source_inputs(y)
    assert len(src) == 2 and src[0] is a and src[1] is b
    assert utils.get_source_inputs(a) == [a]


def test_serialize_keras_object_uses_keras_names_for_builtins():
    """Built-ins are written as Keras writes them (module keras.<family>, registered_name None; functions
    as module 'builtins'), so Keras can read pyconvnet's dicts and pyconvnet reads Keras's."""
    s = saving.serialize_keras_object(keras.optimizers.Adam(0.01))
    assert s["module"] == "keras.optimizers" and s["registered_name"] is None
    assert saving.serialize_keras_object(keras.layers.Dense(2))["module"] == "keras.layers"
    f = saving.serialize_keras_object(keras.activations.relu)
    assert f == {"module": "builtins", "class_name": "function", "config": "relu", "registered_name": "function"}
    assert saving.deserialize_keras_object(f) is keras.activations.relu
    # what Keras 3.15 writes for its own objects
    assert isinstance(saving.deserialize_keras_object(
        {"module": "keras.losses", "class_name": "MeanSquaredError", "config": {"name": "mean_squared_error",
                                                                               "reduction": "sum_over_batch_size"},
         "registered_name": None}), keras.losses.MeanSquaredError)
    assert isinstance(saving.deserialize_keras_object(
        {"module": "keras.metrics", "class_name": "Mean", "config": {"name": "mean", "dtype": "float32"},
         "registered_name": None}), keras.metrics.Mean)  # Mean has no from_config: the constructor is used


def test_keras_config_module():
    import pyconvnet as keras
    assert keras.config.floatx() == "float32" and keras.config.image_data_format() == "channels_last"
    eps = keras.config.epsilon()
    keras.config.set_epsilon(1e-5)
    try:
        assert keras.config.epsilon() == 1e-5 and keras.backend.epsilon() == 1e-5
    finally:
        keras.config.set_epsilon(eps)
    with pytest.raises(NotImplementedError, match="float32"):
        keras.config.set_floatx("float16")
    with pytest.raises(NotImplementedError, match="float32"):
        keras.config.set_dtype_policy("mixed_float16")
    keras.config.set_dtype_policy("float32")
    keras.config.disable_interactive_logging()
    assert not keras.config.is_interactive_logging_enabled()
    keras.config.enable_interactive_logging()
    assert keras.config.is_interactive_logging_enabled()


def test_model_save_keeps_the_whole_compile_config(tmp_path):
    import pyconvnet as keras
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", loss_weights=0.5,
              metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
              weighted_metrics=["sparse_categorical_accuracy"])
    path = tmp_path / "m.keras"
    m.save(path)
    r = keras.models.load_model(path)
    assert r.get_compile_config()["loss_weights"] == 0.5
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    y = np.arange(8) % 3
    a, b = m.evaluate(x, y, verbose=0, return_dict=True), r.evaluate(x, y, verbose=0, return_dict=True)
    assert set(a) == set(b) and "top2" in b and "sparse_categorical_accuracy" in b
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6)

    def my_metric(y_true, y_pred):  # a plain function: not registered, so it cannot be rebuilt by name
        return keras.ops.mean(y_pred, axis=-1)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=[my_metric])
    m.save(path)
    with pytest.warns(UserWarning, match="compile config failed"):
        r = keras.models.load_model(path)
    assert r.compiled and r.optimizer.__class__.__name__ == "SGD"
    j = m.to_json()
    again = keras.models.model_from_json(j)
    assert [l.__class__.__name__ for l in again.layers] == ["Dense"]


def test_registered_activation_saves_and_loads(tmp_path):
    import pyconvnet as keras

    @keras.saving.register_keras_serializable(package="acts")
    def twice_relu(x):
        return keras.ops.relu(x) * 2.0
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation=twice_relu)])
    p = tmp_path / "m.keras"
    m.save(p)
    r = keras.models.load_model(p)
    assert r.layers[0].activation is twice_relu
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_array_equal(r.predict(x, verbose=0), m.predict(x, verbose=0))
