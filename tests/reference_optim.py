"""Float64 references: optimizer steps, written from keras/src/optimizers/*.py
(Keras 3). Each function updates copies and returns the new (param, *state)."""
import numpy as np


def sgd(w, g, m=None, lr=0.01, momentum=0.0, nesterov=False):
    w = np.array(w, np.float64)
    g = np.asarray(g, np.float64)
    if momentum == 0:
        return w - g * lr, None
    m = np.array(m, np.float64)
    m = m * momentum - g * lr
    if nesterov:
        w = w + (m * momentum - g * lr)
    else:
        w = w + m
    return w, m


def adam(w, g, m, v, lr, beta1, beta2, eps, step, vhat=None):
    w, m, v = (np.array(a, np.float64) for a in (w, m, v))
    g = np.asarray(g, np.float64)
    alpha = lr * np.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    m = m + (g - m) * (1 - beta1)
    v = v + (g * g - v) * (1 - beta2)
    vv = v
    if vhat is not None:
        vhat = np.maximum(np.array(vhat, np.float64), v)
        vv = vhat
    w = w - (m * alpha) / (np.sqrt(vv) + eps)
    return w, m, v, vhat


def rmsprop(w, g, vel, avg=None, mb=None, lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    w, vel = np.array(w, np.float64), np.array(vel, np.float64)
    g = np.asarray(g, np.float64)
    vel = rho * vel + (1 - rho) * g * g
    if centered:
        avg = rho * np.asarray(avg, np.float64) + (1 - rho) * g
        den = vel - avg * avg + eps
    else:
        den = vel + eps
    inc = lr * g / np.sqrt(den)
    if momentum > 0:
        mb = momentum * np.asarray(mb, np.float64) + inc
        w = w - mb
    else:
        w = w - inc
    return w, vel, avg, mb


def adagrad(w, g, acc, lr=0.001, eps=1e-7):
    w = np.array(w, np.float64)
    g = np.asarray(g, np.float64)
    acc = np.asarray(acc, np.float64) + g * g
    return w - lr * g / np.sqrt(acc + eps), acc
