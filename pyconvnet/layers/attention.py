"""Attention (Luong dot-product / concat scores), AdditiveAttention (Bahdanau)
and MultiHeadAttention, as Keras 3, for RNN encoder-decoder and Transformer code:

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
from .. import initializers
from .base import Layer, KerasTensor
from .conv1d import _lname, init_ser, no_constraints, reg_get, reg_ser

__all__ = ["Attention", "AdditiveAttention", "MultiHeadAttention"]


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


class _Projection(Layer):
    """MultiHeadAttention's EinsumDense "abc,cde->abde" (or "abcd,cde->abe" for
    the output): kernel (d, heads, dim) / (heads, dim, out), bias (heads, dim) / (out,)."""

    def __init__(self, kernel_shape, bias_shape, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, **kwargs):
        super().__init__(**kwargs)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=kernel_initializer,
                                      regularizer=kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=bias_shape, initializer=bias_initializer,
                                    regularizer=bias_regularizer) if bias_shape is not None else None
        self.built = True

    def project(self, x, n_in):
        """x (..., n_in) -> (..., prod(out dims)) as one GEMM."""
        k = ag.reshape(self.kernel, [n_in, -1])
        b = ag.reshape(self.bias, [-1]) if self.bias is not None else None
        return ag.dense(x, k, b)


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al.), Keras 3 layout:
    query/key/value projections kernel (dim, num_heads, key_dim|value_dim) and
    bias (num_heads, key_dim|value_dim), attention_output kernel (num_heads,
    value_dim, out) and bias (out,). Call: mha(query (B, T, dq), value (B, S, dv),
    key=None, value_mask=, key_mask=, attention_mask (B, T, S), use_causal_mask,
    return_attention_scores (scores (B, heads, T, S)), training (dropout on the
    attention weights). As Keras 3.15, the query mask is the query's implicit
    mask (a Masking layer's), not the query_mask argument. Masked scores are set
    to -1e9 before the softmax. 3-D inputs, attention over axis 1 only."""
    _pcn_int_input = False

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        for what, v in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError("%s: invalid value for argument `%s`, expected a positive integer, received "
                                 "%s=%r" % (_lname(self), what, what, v))
        if value_dim is not None and (isinstance(value_dim, bool) or not isinstance(value_dim, (int, np.integer))
                                      or value_dim <= 0):
            raise ValueError("%s: invalid value for argument `value_dim`, expected a positive integer or None, "
                             "received value_dim=%r" % (_lname(self), value_dim))
        if not 0 <= float(dropout) <= 1:
            raise ValueError("%s: dropout must be in [0, 1], got %r" % (_lname(self), dropout))
        if attention_axes not in (None, 1, (1,), [1]):
            raise NotImplementedError("%s: attention_axes=%r is not supported (attention over axis 1 of 3-D "
                                      "inputs only)" % (_lname(self), attention_axes))
        for what, v in (("sliding_window", sliding_window), ("use_gate", use_gate or None),
                        ("activity_regularizer", activity_regularizer)):
            if v is not None:
                raise NotImplementedError("%s: %s=%r is not supported" % (_lname(self), what, v))
        if flash_attention:
            raise NotImplementedError("%s: flash_attention=True is not supported" % _lname(self))
        no_constraints(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if output_shape:
            output_shape = (int(output_shape),) if isinstance(output_shape, (int, np.integer)) \
                else tuple(int(d) for d in output_shape)
            if len(output_shape) != 1:
                raise NotImplementedError("%s: output_shape must be one size (the last axis), got %r"
                                          % (_lname(self), output_shape))
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim is not None else self.key_dim
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        self.output_shape_arg = output_shape or None
        self.attention_axes = None if attention_axes is None else (1,)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = reg_get(kernel_regularizer)
        self.bias_regularizer = reg_get(bias_regularizer)
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None
        self.supports_masking = True

    @staticmethod
    def _shape_of(t):
        if t is None:
            return None
        if isinstance(t, (KerasTensor, ag.EagerTensor, _C.Tensor)):
            return tuple(t.shape)
        return tuple(np.shape(t))

    def __call__(self, *args, **kwargs):
        # the projections need the query, value and key shapes (Layer.__call__ builds from the first input only)
        if not self.built and args:
            q = args[0]
            v = args[1] if len(args) > 1 else kwargs.get("value")
            k = args[2] if len(args) > 2 else kwargs.get("key")
            if v is None:
                raise ValueError("%s: missing the `value` input: call it as mha(query, value)" % _lname(self))
            self._build_all(self._shape_of(q), self._shape_of(v), self._shape_of(k if k is not None else v))
        # value/key travel as keywords: a functional model records (and saves) tensors in keywords,
        # not in extra positional arguments
        args = list(args)
        if len(args) > 1:
            kwargs["value"] = args[1]
        if len(args) > 2:
            kwargs["key"] = args[2]
        if len(args) > 3:
            raise TypeError("%s: call it as mha(query, value, key=None, ...)" % _lname(self))
        # for compute_output_shape on symbolic inputs (it only sees the query's shape)
        self._pcn_sym = (bool(kwargs.get("return_attention_scores", False)), self._shape_of(kwargs.get("value")))
        return super().__call__(*args[:1], **kwargs)

    def _build_all(self, qs, vs, ks):
        for what, s in (("query", qs), ("value", vs), ("key", ks)):
            if len(s) != 3 or s[-1] is None:
                raise NotImplementedError("%s: %s must be 3-D (batch, steps, features) with known features, got "
                                          "shape %s" % (_lname(self), what, s))
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self.output_shape_arg[0] if self.output_shape_arg else qs[-1]
        common = (self.kernel_initializer, self.bias_initializer, self.kernel_regularizer, self.bias_regularizer)
        self._query_dense = _Projection((qs[-1], h, kd), (h, kd) if self.use_bias else None, *common, name="query")
        self._key_dense = _Projection((ks[-1], h, kd), (h, kd) if self.use_bias else None, *common, name="key")
        self._value_dense = _Projection((vs[-1], h, vd), (h, vd) if self.use_bias else None, *common, name="value")
        self._output_dense = _Projection((h, vd, out), (out,) if self.use_bias else None, *common,
                                         name="attention_output")
        self._pcn_dims = (qs[-1], vs[-1], ks[-1], out)
        if self.attention_axes is None:
            self.attention_axes = (1,)
        self.built = True

    def build(self, input_shape):
        if not hasattr(self, "_query_dense"):
            raise ValueError("%s: call the layer as mha(query, value[, key]) to build it" % _lname(self))
        self.built = True

    def _heads(self, x, dim):
        """(B, L, heads*dim) -> (B*heads, L, dim)."""
        b, n = x.shape[0], x.shape[1]
        x = ag.transpose(ag.reshape(x, [b, n, self.num_heads, dim]), [0, 2, 1, 3])
        return ag.reshape(x, [b * self.num_heads, n, dim])

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        implicit_q = getattr(query, "_keras_mask", None)
        q = ag.as_eager(query)
        v = ag.as_eager(value, q)
        k = v if key is None else ag.as_eager(key, q)
        b, t, _ = q.shape
        s_len = v.shape[1]
        if k.shape[1] != s_len or v.shape[0] != b or k.shape[0] != b:
            raise ValueError("%s: incompatible shapes query %s, value %s, key %s" % (_lname(self), q.shape, v.shape,
                                                                                  k.shape))
        dq, dv, dk, _ = self._pcn_dims
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        # Keras 3.15: the query mask is the query's implicit mask (the query_mask argument is not used)
        mask = None
        if implicit_q is not None:
            mask = _bool(implicit_q, (b, t), "the query's mask", self)[:, :, None]
        for what, m in (("value_mask", value_mask), ("key_mask", key_mask)):
            if m is not None:
                mm = _bool(m, (b, s_len), what, self)[:, None, :]
                mask = mm if mask is None else (mask & mm)
        if use_causal_mask:
            c = np.tril(np.ones((t, s_len), bool))[None]
            mask = c if mask is None else (mask & c)
        if attention_mask is not None:
            am = attention_mask.numpy() if isinstance(attention_mask, (ag.EagerTensor, _C.Tensor)) \
                else np.asarray(attention_mask)
            am = am > 0.5 if am.dtype != bool else am
            if am.ndim == 2:
                am = am[None]
            am = np.broadcast_to(am, (b, t, s_len))
            mask = am if mask is None else (am & mask)
        qh = self._heads(self._query_dense.project(q, dq), kd)
        kh = self._heads(self._key_dense.project(k, dk), kd)
        vh = self._heads(self._value_dense.project(v, dv), vd)
        qh = ag.multiply(qh, float(1.0 / np.sqrt(kd)))
        scores = ag.matmul(qh, ag.transpose(kh, [0, 2, 1]))                     # (B*H, T, S)
        if mask is not None:  # Keras's masked softmax: masked scores become -1e9 (exact select)
            m = np.broadcast_to(mask, (b, t, s_len)).astype(np.float32)
            m = np.ascontiguousarray(np.repeat(m[:, None], h, 1).reshape(b * h, t, s_len))
            keep = ag.EagerTensor(_C.tensor(m, device=q.device))
            fill = ag.EagerTensor(_C.tensor(np.ascontiguousarray((1.0 - m) * np.float32(-1e9)), device=q.device))
            scores = ag.add(ag.multiply(scores, keep), fill)
        probs = ag.softmax(scores, -1)
        weights = probs
        if training and self.dropout > 0:
            if self.dropout >= 1:
                weights = ag.multiply(probs, 0.0)
            else:
                seed = int(self._pcn_rng.integers(0, 2 ** 31 - 1)) if self._pcn_rng is not None \
                    else utils.next_seed()
                weights = ag.dropout(probs, self.dropout, seed)
        o = ag.matmul(weights, vh)                                               # (B*H, T, vd)
        o = ag.reshape(ag.transpose(ag.reshape(o, [b, h, t, vd]), [0, 2, 1, 3]), [b, t, h * vd])
        out = self._output_dense.project(o, h * vd)
        if implicit_q is not None:
            from .extra import with_mask
            out = with_mask(out, _bool(implicit_q, (b, t), "the query's mask", self))
        if return_attention_scores:
            return out, ag.reshape(probs, [b, h, t, s_len])
        return out

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        out = self.output_shape_arg[0] if self.output_shape_arg else query_shape[-1]
        y = tuple(query_shape[:-1]) + (out,)
        scores, vs = getattr(self, "_pcn_sym", (False, None))
        if scores and vs is not None:  # a symbolic call with return_attention_scores=True
            return [y, (query_shape[0], self.num_heads, query_shape[1], vs[1])]
        return y

    def get_config(self):
        c = super().get_config()
        c.update(num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim, dropout=self.dropout,
                 use_bias=self.use_bias, use_gate=False, output_shape=self.output_shape_arg,
                 attention_axes=self.attention_axes, sliding_window=None,
                 kernel_initializer=init_ser(self.kernel_initializer),
                 bias_initializer=init_ser(self.bias_initializer),
                 kernel_regularizer=reg_ser(self.kernel_regularizer), bias_regularizer=reg_ser(self.bias_regularizer),
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, seed=self.seed)
        return c
