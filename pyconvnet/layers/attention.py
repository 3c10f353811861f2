"""Attention (Luong dot-product / concat scores) and AdditiveAttention
(Bahdanau), as Keras 3, for RNN encoder-decoder code:

    context = Attention()([decoder_outputs, encoder_outputs])

inputs [query (N, Tq, d), value (N, Tv, dv)] or [query, value, key (N, Tv, d)];
scores (N, Tq, Tv) -> softmax over Tv (masked keys get -1e9) -> @ value.
mask=[query_mask (N, Tq), value_mask (N, Tv)] (either may be None),
use_causal_mask, return_attention_scores, dropout on the weights in training.
Composed from batched matmul, softmax and broadcasting ops of the tape.
"""
import numpy as np

from .. import _C
from .. import autograd as ag
from .. import utils
from .base import Layer
from .conv1d import _lname

__all__ = ["Attention", "AdditiveAttention"]


def _bool(m, shape, what, layer):
    a = m.numpy() if isinstance(m, (ag.EagerTensor, _C.Tensor)) else np.asarray(m)
    if a.shape != tuple(shape):
        raise ValueError("%s: %s must have shape %s, got %s" % (_lname(layer), what, tuple(shape), a.shape))
    return a != 0


class Attention(Layer):
    """Dot-product attention: scores = query @ key^T (times a learned scalar
    `scale` with use_scale), or with score_mode='concat'
    concat_score_weight * sum(tanh(scale * (q_i + k_j)))."""
    _pcn_int_input = False

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError("%s: invalid value for argument score_mode; expected one of {'dot', 'concat'}, "
                             "received score_mode=%r" % (_lname(self), score_mode))
        if not 0 <= float(dropout) <= 1:
            raise ValueError("%s: dropout must be in [0, 1], got %r" % (_lname(self), dropout))
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = float(dropout), seed
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None

    # ------------------------------------------------------------------
    def _validate(self, inputs, mask=None):
        if not isinstance(inputs, list):
            raise ValueError("%s: the layer must be called on a list of inputs, namely [query, value] or "
                             "[query, value, key], received %r" % (_lname(self), type(inputs).__name__))
        if not 2 <= len(inputs) <= 3:
            raise ValueError("%s: accepts an inputs list of length 2 or 3, namely [query, value] or [query, value, "
                             "key], received length %d" % (_lname(self), len(inputs)))
        if mask is not None and (not isinstance(mask, list) or not 2 <= len(mask) <= 3):
            raise ValueError("%s: mask must be a list [query_mask, value_mask], received %r" % (_lname(self), mask))

    def build(self, input_shape):
        self._validate(list(input_shape))
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones") if self.use_scale else None
        self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(), initializer="ones") \
            if self.score_mode == "concat" else None
        self.built = True

    def _scores(self, q, k):
        if self.score_mode == "dot":
            s = ag.matmul(q, ag.transpose(k, [0, 2, 1]))
            return ag.multiply(s, self.scale) if self.scale is not None else s
        n, tq, d = q.shape
        tv = k.shape[1]
        qk = ag.add(ag.reshape(q, [n, tq, 1, d]), ag.reshape(k, [n, 1, tv, d]))
        if self.scale is not None:
            qk = ag.multiply(qk, self.scale)
        return ag.multiply(ag.reduce("sum", ag.activation(qk, "tanh"), [3]), self.concat_score_weight)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs, mask)
        q = ag.as_eager(inputs[0])
        v = ag.as_eager(inputs[1])
        k = ag.as_eager(inputs[2]) if len(inputs) > 2 else v
        if q.ndim != 3 or v.ndim != 3 or k.ndim != 3:
            raise ValueError("%s: query, value and key must be 3-D (batch, steps, dim), got shapes %s, %s, %s"
                             % (_lname(self), q.shape, v.shape, k.shape))
        n, tq, _ = q.shape
        tv = k.shape[1]
        if v.shape[1] != tv or q.shape[2] != k.shape[2] or q.shape[0] != v.shape[0]:
            raise ValueError("%s: incompatible shapes query %s, value %s, key %s" % (_lname(self), q.shape, v.shape,
                                                                                  k.shape))
        scores = self._scores(q, k)                                   # (N, Tq, Tv)
        q_mask = v_mask = None
        if mask is not None:
            q_mask = None if mask[0] is None else _bool(mask[0], (n, tq), "query_mask", self)
            v_mask = None if mask[1] is None else _bool(mask[1], (n, tv), "value_mask", self)
        keep = None
        if v_mask is not None:
            keep = v_mask[:, None, :]
        if use_causal_mask:
            causal = np.tril(np.ones((tq, tv), bool))[None]
            keep = causal if keep is None else (keep & causal)
        if keep is not None:  # masked keys: scores - 1e9 (Keras)
            pen = np.where(np.broadcast_to(keep, (keep.shape[0], tq, tv)), 0.0, -1.0e9).astype(np.float32)
            scores = ag.add(scores, ag.EagerTensor(_C.tensor(np.ascontiguousarray(pen), device=q.device)))
        weights = ag.softmax(scores, -1)
        if training and self.dropout > 0:
            if self.dropout >= 1:
                weights = ag.multiply(weights, 0.0)
            else:
                seed = int(self._pcn_rng.integers(0, 2 ** 31 - 1)) if self._pcn_rng is not None \
                    else utils.next_seed()
                weights = ag.dropout(weights, self.dropout, seed)
        out = ag.matmul(weights, v)                                    # (N, Tq, dv)
        if q_mask is not None:
            qm = q_mask.astype(np.float32)[:, :, None]
            out = ag.multiply(out, ag.EagerTensor(_C.tensor(np.ascontiguousarray(qm), device=q.device)))
        if return_attention_scores:
            return out, weights
        return out

    def get_config(self):
        c = super().get_config()
        c.update(use_scale=self.use_scale, score_mode=self.score_mode, dropout=self.dropout, seed=self.seed)
        return c


class AdditiveAttention(Attention):
    """Bahdanau attention: scores = sum(scale * tanh(q_i + k_j)) over the
    feature axis, with a learned `scale` (dim,) (glorot_uniform) when use_scale."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate(list(input_shape))
        dim = input_shape[0][-1]
        self.scale = self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform") \
            if self.use_scale else None
        self.concat_score_weight = None
        self.built = True

    def _scores(self, q, k):
        n, tq, d = q.shape
        tv = k.shape[1]
        t = ag.activation(ag.add(ag.reshape(q, [n, tq, 1, d]), ag.reshape(k, [n, 1, tv, d])), "tanh")
        if self.scale is not None:
            t = ag.multiply(t, self.scale)
        return ag.reduce("sum", t, [3])

    def get_config(self):
        c = super().get_config()
        del c["score_mode"]
        return c
