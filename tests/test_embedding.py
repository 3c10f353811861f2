"""The embedding kernels: a row gather (forward) and a deterministic scatter-add (backward),
against float64 NumPy; the Embedding layer's gradient through them equals the one_hot @ table
formulation it replaced."""
import numpy as np
import pytest

import pyconvnet as pcn
from pyconvnet import _C
from pyconvnet import autograd as ag
from gradcheck import numeric_grad
from tolerance import assert_close


def ref_backward(dy, ids, vocab):
    dw = np.zeros((vocab, dy.shape[-1]), np.float64)
    np.add.at(dw, ids.reshape(-1), dy.reshape(-1, dy.shape[-1]).astype(np.float64))
    return dw


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("shape,vocab,dim", [((7,), 5, 3), ((2, 9), 11, 1), ((3, 4, 5), 4, 37), ((1,), 1, 16),
                                             ((64, 50), 200, 33)])
def test_forward_and_backward_match_numpy(dtype, shape, vocab, dim):
    rng = np.random.default_rng(sum(shape) * 31 + vocab)
    ids = rng.integers(0, min(vocab, 255), shape).astype(dtype)
    table = rng.normal(size=(vocab, dim)).astype(np.float32)
    y = _C.embedding_lookup(_C.from_numpy(ids), _C.from_numpy(table)).numpy()
    np.testing.assert_array_equal(y, table[ids])
    dy = rng.normal(size=shape + (dim,)).astype(np.float32)
    dw = _C.embedding_backward(_C.from_numpy(dy), _C.from_numpy(ids), vocab).numpy()
    assert_close(dw, ref_backward(dy, ids, vocab), rtol=1e-5, atol=1e-5)
    acc = _C.from_numpy(np.ones((vocab, dim), np.float32))
    _C.embedding_backward(_C.from_numpy(dy), _C.from_numpy(ids), vocab, out=acc, accumulate=True)
    assert_close(acc.numpy(), ref_backward(dy, ids, vocab) + 1.0, rtol=1e-5, atol=1e-5)


def test_backward_is_deterministic_across_thread_counts():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 7, (4096,)).astype(np.int64)  # many repeats of few rows
    dy = rng.normal(size=(4096, 64)).astype(np.float32)
    old = pcn.get_num_threads()
    try:
        outs = []
        for t in (1, 2):
            pcn.set_num_threads(t)
            outs.append(_C.embedding_backward(_C.from_numpy(dy), _C.from_numpy(ids), 7).numpy())
    finally:
        pcn.set_num_threads(old)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_layer_gradient_equals_one_hot_matmul_and_finite_differences():
    rng = np.random.default_rng(5)
    ids = np.array([[1, 2, 2, 0], [3, 1, 1, 1]])
    table = rng.normal(size=(4, 3)).astype(np.float32)
    w = rng.normal(size=(2, 4, 3)).astype(np.float32)
    v = ag.Variable(_C.from_numpy(table.copy()))
    with ag.GradientTape() as tape:
        loss = ag.reduce("sum", ag.multiply(ag.embedding(ids, v), ag.as_eager(w)))
    g = tape.gradient(loss, [v])[0].numpy()
    ref = np.einsum("ntk,ntv->vk", w.astype(np.float64), np.eye(4)[ids])  # (one_hot)^T @ w
    assert_close(g, ref, rtol=1e-6, atol=1e-6)
    num = numeric_grad(lambda t: t[ids], table.astype(np.float64), w.astype(np.float64))
    assert_close(g, num, rtol=1e-4, atol=1e-4)
    layer = pcn.layers.Embedding(4, 3)
    layer.build((None, 4))
    layer.set_weights([table])
    np.testing.assert_array_equal(layer(ids), table[ids])


def test_bad_inputs_name_the_op():
    t = _C.from_numpy(np.zeros((5, 2), np.float32))
    with pytest.raises(TypeError, match="embedding_lookup: ids must be an integer"):
        _C.embedding_lookup(_C.from_numpy(np.zeros(3, np.float32)), t)
    with pytest.raises(ValueError, match=r"embedding_lookup: id 5 \(at flat index 1\) is outside \[0, 5\)"):
        _C.embedding_lookup(_C.from_numpy(np.array([0, 5], np.int64)), t)
    with pytest.raises(ValueError, match="embedding_lookup: id -1"):
        _C.embedding_lookup(_C.from_numpy(np.array([-1], np.int32)), t)
    with pytest.raises(ValueError, match="embedding_lookup: table must be 2-D"):
        _C.embedding_lookup(_C.from_numpy(np.array([0], np.int64)), _C.from_numpy(np.zeros(5, np.float32)))
    with pytest.raises(ValueError, match="embedding_backward: dy must have shape"):
        _C.embedding_backward(_C.from_numpy(np.zeros((3, 2), np.float32)), _C.from_numpy(np.zeros(2, np.int64)), 5)
    with pytest.raises(ValueError, match="embedding_backward: accumulate=True needs an out"):
        _C.embedding_backward(_C.from_numpy(np.zeros((2, 2), np.float32)), _C.from_numpy(np.zeros(2, np.int64)), 5,
                              accumulate=True)
    with pytest.raises(ValueError, match="embedding_backward: out has shape"):
        _C.embedding_backward(_C.from_numpy(np.zeros((2, 2), np.float32)), _C.from_numpy(np.zeros(2, np.int64)), 5,
                              out=_C.from_numpy(np.zeros((4, 2), np.float32)))
    with pytest.raises(ValueError, match="embedding_backward: id 9"):
        _C.embedding_backward(_C.from_numpy(np.zeros((1, 2), np.float32)), _C.from_numpy(np.array([9])), 5)
    e = _C.embedding_lookup(_C.from_numpy(np.zeros((0, 3), np.int64)), t)
    assert e.shape == (0, 3, 2)
