"""Optimizer updates against the Keras 3 formulas in NumPy float64
(reference_optim.py) over several steps, and against torch.optim where the two
formulas coincide (epsilon = 0 removes the only difference in eps placement)."""
import numpy as np
import pytest

import pyconvnet as pcn
import reference_optim as ref
from tolerance import assert_close

C = pcn._C
T = pcn.tensor
A = np.asarray
TOL = dict(rtol=2e-5, atol=2e-6)
SHAPES = [(1,), (7,), (3, 5), (4, 3, 3, 8), (70001,)]


def rnd(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd(shape, momentum, nesterov):
    w0 = rnd(shape, 1)
    w, vel = T(w0), T(np.zeros(shape, np.float32))
    rw, rm = w0.astype(np.float64), np.zeros(shape)
    for step in range(5):
        g = rnd(shape, 10 + step)
        C.sgd_update_(w, T(g), vel if momentum else None, lr=0.05, momentum=momentum, nesterov=nesterov)
        rw, rm2 = ref.sgd(rw, g, rm, lr=0.05, momentum=momentum, nesterov=nesterov)
        rm = rm2 if rm2 is not None else rm
    assert_close(A(w), rw, **TOL)
    if momentum:
        assert_close(A(vel), rm, **TOL)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("eps", [1e-7, 1e-3])
def test_adam(shape, amsgrad, eps):
    w0 = rnd(shape, 2)
    w, m, v = T(w0), T(np.zeros(shape, np.float32)), T(np.zeros(shape, np.float32))
    vh = T(np.zeros(shape, np.float32)) if amsgrad else None
    rw, rm, rv, rvh = w0.astype(np.float64), np.zeros(shape), np.zeros(shape), (np.zeros(shape) if amsgrad else None)
    for step in range(1, 7):
        g = rnd(shape, 20 + step) * (0.1 if step % 2 else 1.0)  # shrinking grads exercise amsgrad's max
        C.adam_update_(w, T(g), m, v, lr=0.01, beta1=0.9, beta2=0.999, eps=eps, step=step, vhat=vh)
        rw, rm, rv, rvh = ref.adam(rw, g, rm, rv, 0.01, 0.9, 0.999, eps, step, rvh)
    assert_close(A(w), rw, **TOL)
    assert_close(A(m), rm, **TOL)
    assert_close(A(v), rv, **TOL)
    if amsgrad:
        assert_close(A(vh), rvh, **TOL)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop(shape, centered, momentum):
    w0 = rnd(shape, 3)
    w, vel = T(w0), T(np.zeros(shape, np.float32))
    avg = T(np.zeros(shape, np.float32)) if centered else None
    mb = T(np.zeros(shape, np.float32)) if momentum else None
    rw, rvel, ravg, rmb = w0.astype(np.float64), np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for step in range(5):
        g = rnd(shape, 30 + step)
        C.rmsprop_update_(w, T(g), vel, avg, mb, lr=0.01, rho=0.9, momentum=momentum, eps=1e-7, centered=centered)
        rw, rvel, ravg2, rmb2 = ref.rmsprop(rw, g, rvel, ravg, rmb, 0.01, 0.9, momentum, 1e-7, centered)
        ravg = ravg2 if centered else ravg
        rmb = rmb2 if momentum else rmb
    assert_close(A(w), rw, **TOL)
    assert_close(A(vel), rvel, **TOL)


def test_rmsprop_eps_inside_sqrt():
    # zero gradient on a zero state: Keras 3 computes lr*0/sqrt(0+eps) = 0; a large eps shows its placement
    w, vel = T(np.ones(3, np.float32)), T(np.zeros(3, np.float32))
    g = np.array([1.0, 2.0, 3.0], np.float32)
    C.rmsprop_update_(w, T(g), vel, None, None, lr=0.1, rho=0.9, momentum=0.0, eps=1.0, centered=False)
    expect = 1 - 0.1 * g / np.sqrt(0.1 * g * g + 1.0)
    assert_close(A(w), expect, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", SHAPES)
def test_adagrad(shape):
    w0 = rnd(shape, 4)
    w, acc = T(w0), T(np.full(shape, 0.1, np.float32))
    rw, racc = w0.astype(np.float64), np.full(shape, 0.1)
    for step in range(5):
        g = rnd(shape, 40 + step)
        C.adagrad_update_(w, T(g), acc, lr=0.05, eps=1e-7)
        rw, racc = ref.adagrad(rw, g, racc, 0.05, 1e-7)
    assert_close(A(w), rw, **TOL)
    assert_close(A(acc), racc, **TOL)


# ---------------------------------------------------------------- torch.optim second opinion
def _torch_run(make_opt, shape, steps, ours):
    torch = pytest.importorskip("torch")
    w0 = rnd(shape, 5)
    p = torch.nn.Parameter(torch.tensor(w0.astype(np.float64)))
    opt = make_opt(torch, [p])
    w = T(w0)
    for s in range(1, steps + 1):
        g = rnd(shape, 50 + s)
        p.grad = torch.tensor(g.astype(np.float64))
        opt.step()
        ours(w, g, s)
    assert_close(A(w), p.detach().numpy(), **TOL)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_vs_torch(momentum, nesterov):
    shape = (6, 5)
    vel = T(np.zeros(shape, np.float32))
    _torch_run(lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=momentum, nesterov=nesterov), shape, 6,
               lambda w, g, s: C.sgd_update_(w, T(g), vel if momentum else None, lr=0.05, momentum=momentum,
                                             nesterov=nesterov))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_vs_torch_eps0(amsgrad):
    shape = (6, 5)
    m, v = T(np.zeros(shape, np.float32)), T(np.zeros(shape, np.float32))
    vh = T(np.zeros(shape, np.float32)) if amsgrad else None
    _torch_run(lambda t, ps: t.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=0.0, amsgrad=amsgrad), shape, 6,
               lambda w, g, s: C.adam_update_(w, T(g), m, v, lr=0.01, beta1=0.9, beta2=0.999, eps=0.0, step=s,
                                              vhat=vh))


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (False, 0.9), (True, 0.5)])
def test_rmsprop_vs_torch_eps0(centered, momentum):
    shape = (6, 5)
    vel = T(np.zeros(shape, np.float32))
    avg = T(np.zeros(shape, np.float32)) if centered else None
    mb = T(np.zeros(shape, np.float32)) if momentum else None
    _torch_run(lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0, centered=centered, momentum=momentum),
               shape, 6,
               lambda w, g, s: C.rmsprop_update_(w, T(g), vel, avg, mb, lr=0.01, rho=0.9, momentum=momentum,
                                                 eps=0.0, centered=centered))


def test_adagrad_vs_torch_eps0():
    shape = (6, 5)
    acc = T(np.full(shape, 0.1, np.float32))
    _torch_run(lambda t, ps: t.optim.Adagrad(ps, lr=0.05, initial_accumulator_value=0.1, eps=0.0), shape, 6,
               lambda w, g, s: C.adagrad_update_(w, T(g), acc, lr=0.05, eps=0.0))


# ---------------------------------------------------------------- bad inputs
def test_shape_mismatch_names_optimizer():
    w = T(np.zeros((3, 4), np.float32))
    bad = T(np.zeros((4, 3), np.float32))
    ok = T(np.zeros((3, 4), np.float32))
    cases = [
        ("sgd_update_", lambda: C.sgd_update_(w, bad, None, lr=0.1)),
        ("sgd_update_", lambda: C.sgd_update_(w, ok, bad, lr=0.1, momentum=0.9)),
        ("sgd_update_", lambda: C.sgd_update_(w, ok, None, lr=0.1, momentum=0.9)),
        ("adam_update_", lambda: C.adam_update_(w, ok, ok, bad, step=1)),
        ("adam_update_", lambda: C.adam_update_(w, ok, ok, T(np.zeros((3, 4), np.float32)), step=0)),
        ("adam_update_", lambda: C.adam_update_(w, ok, ok, T(np.zeros((3, 4), np.float32)), step=1, vhat=bad)),
        ("rmsprop_update_", lambda: C.rmsprop_update_(w, bad, ok)),
        ("rmsprop_update_", lambda: C.rmsprop_update_(w, ok, ok, centered=True)),
        ("rmsprop_update_", lambda: C.rmsprop_update_(w, ok, ok, momentum=0.9)),
        ("adagrad_update_", lambda: C.adagrad_update_(w, ok, bad)),
        ("adagrad_update_", lambda: C.adagrad_update_(w, ok, ok, lr=float("nan"))),
    ]
    for name, f in cases:
        with pytest.raises(ValueError, match=name):
            f()
    with pytest.raises(TypeError, match="adagrad_update_"):
        C.adagrad_update_(w, ok, T(np.zeros((3, 4), np.int32)))
    with pytest.raises(TypeError, match="sgd_update_"):
        C.sgd_update_(T(np.zeros(3, np.int64)), T(np.zeros(3, np.int64)), None, lr=0.1)


def test_state_must_be_contiguous_and_grad_may_be_strided():
    w = T(np.zeros((3, 4), np.float32))
    g = np.arange(24, dtype=np.float32).reshape(3, 8)[:, ::2]
    C.sgd_update_(w, pcn.from_numpy(g), None, lr=1.0)
    np.testing.assert_array_equal(A(w), -g)
    strided = pcn.from_numpy(np.zeros((3, 8), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="adagrad_update_"):
        C.adagrad_update_(w, T(g), strided)


def test_random_bad_optim_calls_survive():
    rng = np.random.default_rng(6)
    shapes = [(), (0,), (3,), (3, 4), (4, 3)]
    dts = [np.float32, np.float32, np.int32]
    errs = 0
    for i in range(200):
        ts = [T(np.zeros(shapes[rng.integers(5)], dts[rng.integers(3)])) for _ in range(4)]
        try:
            k = i % 4
            if k == 0:
                C.sgd_update_(ts[0], ts[1], ts[2], lr=0.1, momentum=float(rng.choice([0.0, 0.9, 2.0])))
            elif k == 1:
                C.adam_update_(ts[0], ts[1], ts[2], ts[3], step=int(rng.integers(-1, 3)))
            elif k == 2:
                C.rmsprop_update_(ts[0], ts[1], ts[2], ts[3], None, centered=bool(i % 3), momentum=0.0)
            else:
                C.adagrad_update_(ts[0], ts[1], ts[2])
        except (ValueError, TypeError) as e:
            assert str(e)
            errs += 1
    assert errs > 50
