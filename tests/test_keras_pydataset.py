"""fit / evaluate / predict on keras.utils.PyDataset, Python generators and other iterables
(the Keras 3 data adapters' semantics: batches (x,), (x, y) or (x, y, sample_weight); a
PyDataset's batch order shuffled when shuffle=True, on_epoch_begin/end around each epoch;
a generator is one stream shared by all epochs)."""
import warnings

import numpy as np
import pytest

import pyconvnet as keras


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _model(seed=1):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.layers.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                          keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, bs, sw=None, **kw):
        super().__init__(**kw)
        self.x, self.y, self.bs, self.sw = x, y, bs, sw
        self.seen, self.begins, self.ends = [], 0, 0

    def __len__(self):
        return -(-len(self.x) // self.bs)

    def __getitem__(self, i):
        self.seen.append(i)
        s = slice(i * self.bs, (i + 1) * self.bs)
        if self.sw is not None:
            return self.x[s], self.y[s], self.sw[s]
        return self.x[s], self.y[s]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


def test_pydataset_trains_exactly_like_the_same_arrays():
    x, y = _data()
    a = _model()
    ha = a.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    b = _model()
    ds = Batches(x, y, 16)
    hb = b.fit(ds, epochs=3, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    assert (ds.begins, ds.ends) == (3, 3)
    assert ds.seen[-6:] == list(range(6))  # in order without shuffle


def test_pydataset_shuffle_permutes_batches_and_sees_each_once():
    x, y = _data()
    ds = Batches(x, y, 16)
    _model().fit(ds, epochs=2, verbose=0)  # shuffle=True is fit's default
    epochs = [ds.seen[-12:-6], ds.seen[-6:]]
    for e in epochs:
        assert sorted(e) == list(range(6))
    assert any(e != list(range(6)) for e in epochs)


def test_pydataset_sample_weights_and_steps_per_epoch():
    x, y = _data()
    sw = np.where(y == 1, 2.0, 0.5).astype(np.float32)
    a = _model()
    a.fit(x, y, sample_weight=sw, batch_size=32, epochs=2, shuffle=False, verbose=0)
    b = _model()
    b.fit(Batches(x, y, 32, sw), epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    ds = Batches(x, y, 16)
    h = _model().fit(ds, epochs=2, steps_per_epoch=2, shuffle=False, verbose=0)
    assert len(h.history["loss"]) == 2 and ds.seen == [0, 1, 0, 1]


def test_generator_is_one_stream_over_epochs():
    x, y = _data()

    def gen():
        for i in range(0, 96, 16):
            yield x[i:i + 16], y[i:i + 16]

    b = _model()
    b.fit(gen(), epochs=2, steps_per_epoch=3, verbose=0)  # the stream's 6 batches over two epochs
    c = _model()  # == one epoch over the arrays in order (plain SGD: epoch boundaries do not matter)
    c.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for wb, wc in zip(b.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wb, wc, rtol=1e-6, atol=1e-7)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        h = _model().fit(gen(), epochs=5, steps_per_epoch=4, verbose=0)
    assert len(h.history["loss"]) == 2  # 6 batches: 4 + 2, then the stream is dry
    assert any("ran out of data" in str(m.message) for m in w)


def test_evaluate_and_predict_on_datasets_match_arrays():
    x, y = _data()
    m = _model()
    m.fit(x, y, epochs=1, verbose=0)
    ref = m.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    got = m.evaluate(Batches(x, y, 16), verbose=0, return_dict=True)
    assert ref.keys() == got.keys()
    for k in ref:
        assert abs(ref[k] - got[k]) < 1e-6, k
    gen = ((x[i:i + 10],) for i in range(0, 96, 10))
    np.testing.assert_allclose(m.predict(gen, verbose=0), m.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    it = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)]  # a re-iterable (list of batches is data, so wrap)
    got = m.evaluate(iter(it), verbose=0, return_dict=True)
    assert abs(got["loss"] - ref["loss"]) < 1e-6
    h = m.fit(x, y, epochs=1, verbose=0, validation_data=Batches(x, y, 32))
    assert "val_loss" in h.history and "val_accuracy" in h.history


def test_dataset_input_errors_are_clear():
    x, y = _data()
    m = _model()
    with pytest.raises(ValueError, match="fit: `y` is not supported"):
        m.fit(Batches(x, y, 16), y, verbose=0)
    with pytest.raises(ValueError, match="no targets"):
        m.fit(iter([(x[:8],)]), verbose=0)
    with pytest.raises(ValueError, match=r"\(x,\), \(x, y\) or \(x, y, sample_weight\)"):
        m.fit(iter([(x[:8], y[:8], None, None)]), verbose=0)
    with pytest.raises(ValueError, match="yielded no batch"):
        m.fit(iter([]), verbose=0)


def test_evaluate_and_predict_bracket_the_pass_with_epoch_hooks():
    x, y = _data()
    m = _model()
    ds = Batches(x, y, 32)
    m.evaluate(ds, verbose=0)
    m.predict(ds, verbose=0)
    assert (ds.begins, ds.ends) == (2, 2) and ds.seen == [0, 1, 2, 0, 1, 2]
