"""Convolution ops with tf.nn names and semantics (NHWC images, HWIO filters).

All arithmetic runs in the extension (`_C.conv2d_*`); this module only turns
TensorFlow-style arguments (4-value strides, nested explicit padding, groups
inferred from the filter) into the kernels' form.
"""
import numpy as np

from .. import _C
from .. import autograd as _ag
from ..ops import like_input
from ._eager import as_tensor
from ._eager import UnsupportedError

__all__ = ["conv2d", "conv1d", "convolution", "atrous_conv2d", "depthwise_conv2d", "separable_conv2d",
           "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose", "conv1d_transpose"]


def _hw(v, what, op, default=1):
    """TF-style int / [h, w] / [1, h, w, 1] (NHWC) -> [h, w]."""
    if v is None:
        return [default, default]
    if isinstance(v, (int, np.integer)):
        return [int(v), int(v)]
    try:
        vals = [int(t) for t in np.asarray(v).reshape(-1)]
    except (TypeError, ValueError):
        raise ValueError("%s: %s must be an int or a list of 1, 2 or 4 ints, got %r" % (op, what, v)) from None
    if len(vals) == 1:
        return [vals[0], vals[0]]
    if len(vals) == 2:
        return vals
    if len(vals) == 4:
        if vals[0] != 1 or vals[3] != 1:
            raise ValueError("%s: %s over NHWC must be [1, h, w, 1] (no batch/channel stride), got %r"
                             % (op, what, v))
        return vals[1:3]
    raise ValueError("%s: %s must be an int or a list of 1, 2 or 4 ints, got %r" % (op, what, v))


def _padding(padding, op):
    """'VALID'/'SAME' (any case), [[0,0],[t,b],[l,r],[0,0]] or [t,b,l,r] -> kernel form."""
    if isinstance(padding, str):
        if padding.lower() not in ("valid", "same"):
            raise ValueError("%s: padding must be 'VALID', 'SAME' or explicit, got %r" % (op, padding))
        return padding.lower()
    try:
        a = np.asarray(padding)
        if a.dtype.kind not in "iu":
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError("%s: explicit padding must be integers, got %r" % (op, padding)) from None
    if a.shape == (4, 2):
        if a[0].any() or a[3].any():
            raise ValueError("%s: explicit padding over NHWC must not pad batch or channels, got %r"
                             % (op, padding))
        return [int(a[1, 0]), int(a[1, 1]), int(a[2, 0]), int(a[2, 1])]
    if a.shape == (4,):
        return [int(t) for t in a]
    raise ValueError("%s: explicit padding must be [[0,0],[t,b],[l,r],[0,0]] or [t,b,l,r], got %r"
                     % (op, padding))


def _nhwc(data_format, op, ok=(None, "NHWC")):
    if data_format in ok:
        return
    if data_format in ("NCHW", "NCW", "NCDHW", "NCHW_VECT_C", "channels_first"):
        # (TensorFlow's own CPU conv kernels are NHWC-only as well)
        raise UnsupportedError("%s: data_format=%r is not supported: pyconvnet convolves channels-last "
                                  "(NHWC / NWC) tensors only" % (op, data_format))
    raise ValueError("%s: data_format must be %s, got %r" % (op, " or ".join(repr(f) for f in ok if f), data_format))


def _groups(C, cin, op):
    if cin <= 0 or C % cin != 0:
        raise ValueError("%s: input channels %d not divisible by the filter's input channels %d"
                         % (op, C, cin))
    return C // cin


def _rank4(t, op, arg):
    if len(t.shape) != 4:
        raise ValueError("%s: %s must be 4-D, got shape %s" % (op, arg, tuple(t.shape)))


@_ag.routes_eager(_ag.tfnn_conv2d)  # EagerTensors (Keras layers, Lambda) go on the tape
def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """tf.nn.conv2d. input (N,H,W,C); filters (KH,KW,C/groups,K) -> (N,OH,OW,K).

    strides/dilations: int, [h, w] or [1, h, w, 1]. padding: 'VALID', 'SAME'
    or explicit [[0,0],[t,b],[l,r],[0,0]] / [t,b,l,r]. Grouped convolution is
    inferred as C // filters.shape[2] (as TF does).
    """
    op = "conv2d"
    _nhwc(data_format, op)
    x, was_np = as_tensor(input, op, "input")
    w, _ = as_tensor(filters, op, "filters")
    _rank4(x, op, "input")
    _rank4(w, op, "filters")
    g = _groups(x.shape[3], w.shape[2], op)
    y = _C.conv2d_forward(x, w, None, _hw(strides, "strides", op), _padding(padding, op),
                          _hw(dilations, "dilations", op), g, "none")
    return like_input(y, was_np)


@_ag.routes_eager(_ag.tfnn_depthwise_conv2d)
def depthwise_conv2d(input, filter, strides, padding, data_format="NHWC", dilations=None, name=None):
    """tf.nn.depthwise_conv2d. input (N,H,W,C); filter (KH,KW,C,M) -> (N,OH,OW,C*M).

    Output channel c*M + m is input channel c convolved with filter[..., c, m].
    """
    op = "depthwise_conv2d"
    _nhwc(data_format, op)
    x, was_np = as_tensor(input, op, "input")
    w, _ = as_tensor(filter, op, "filter")
    _rank4(x, op, "input")
    _rank4(w, op, "filter")
    KH, KW, C, M = w.shape
    if C != x.shape[3]:
        raise ValueError("depthwise_conv2d: filter has %d input channels, input has %d" % (C, x.shape[3]))
    w = w.reshape([KH, KW, 1, C * M])
    y = _C.conv2d_forward(x, w, None, _hw(strides, "strides", op), _padding(padding, op),
                          _hw(dilations, "dilations", op), C, "none")
    return like_input(y, was_np)


def _kind_reshape(x, shape):
    """Reshape keeping the caller's kind (EagerTensor on the tape, Tensor, NumPy)."""
    if isinstance(x, _ag.EagerTensor):
        return _ag.reshape(x, shape)
    if isinstance(x, _C.Tensor):
        return (x if x.is_contiguous() else x.contiguous()).reshape(list(shape))
    return np.reshape(np.asarray(x, dtype=np.float32), shape)


def _shape_of(x, op, arg):
    if isinstance(x, (_C.Tensor, _ag.EagerTensor)):
        return tuple(x.shape)
    return tuple(as_tensor(x, op, arg)[0].shape)


def _w1d(v, what, op):
    """tf.nn.conv1d stride / dilations: int, [s] or [1, s, 1] -> [1, s]."""
    if v is None:
        return [1, 1]
    if isinstance(v, (int, np.integer)):
        return [1, int(v)]
    try:
        vals = [int(t) for t in np.asarray(v).reshape(-1)]
    except (TypeError, ValueError):
        raise ValueError("%s: %s must be an int or a list of 1 or 3 ints, got %r" % (op, what, v)) from None
    if len(vals) == 1:
        return [1, vals[0]]
    if len(vals) == 3:
        if vals[0] != 1 or vals[2] != 1:
            raise ValueError("%s: %s over NWC must be [1, s, 1], got %r" % (op, what, v))
        return [1, vals[1]]
    raise ValueError("%s: %s must be an int or a list of 1 or 3 ints, got %r" % (op, what, v))


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """tf.nn.conv1d. input (N,W,C); filters (KW,C/groups,K) -> (N,OW,K).

    stride/dilations: int, [s] or [1, s, 1]; padding 'VALID' / 'SAME' or
    explicit [[0,0],[l,r],[0,0]]. Runs conv2d on (N,1,W,C). EagerTensors go on the tape.
    """
    op = "conv1d"
    _nhwc(data_format, op, (None, "NWC"))
    xs = _shape_of(input, op, "input")
    ws = _shape_of(filters, op, "filters")
    if len(xs) != 3:
        raise ValueError("%s: input must be 3-D (N, W, C), got shape %s" % (op, xs))
    if len(ws) != 3:
        raise ValueError("%s: filters must be 3-D (KW, C, K), got shape %s" % (op, ws))
    if not isinstance(padding, str):
        p = np.asarray(padding)
        if p.shape != (3, 2) or p[0].any() or p[2].any():
            raise ValueError("%s: explicit padding must be [[0,0],[left,right],[0,0]], got %r" % (op, padding))
        padding = [[0, 0], [0, 0], [int(p[1, 0]), int(p[1, 1])], [0, 0]]
    x4 = _kind_reshape(input, [xs[0], 1, xs[1], xs[2]])
    w4 = _kind_reshape(filters, [1] + list(ws))
    y = conv2d(x4, w4, _w1d(stride, "stride", op), padding, "NHWC", _w1d(dilations, "dilations", op))
    return _kind_reshape(y, [y.shape[0], y.shape[2], y.shape[3]])


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, data_format=None,
                     dilations=None, name=None):
    """tf.nn.separable_conv2d: depthwise_conv2d then a 1x1 conv2d.

    input (N,H,W,C); depthwise_filter (KH,KW,C,M); pointwise_filter (1,1,C*M,K)
    -> (N,OH,OW,K). strides [1,s,s,1] (or int / [s,s]) and dilations apply to the
    depthwise step. EagerTensors go on the tape.
    """
    op = "separable_conv2d"
    _nhwc(data_format, op)
    ds = _shape_of(depthwise_filter, op, "depthwise_filter")
    ps = _shape_of(pointwise_filter, op, "pointwise_filter")
    if len(ds) != 4 or len(ps) != 4:
        raise ValueError("%s: depthwise_filter and pointwise_filter must be 4-D, got shapes %s and %s"
                         % (op, ds, ps))
    if ps[0] != 1 or ps[1] != 1 or ps[2] != ds[2] * ds[3]:
        raise ValueError("%s: pointwise_filter must be (1, 1, %d, K) for a depthwise filter %s, got %s"
                         % (op, ds[2] * ds[3], ds, ps))
    st, dl = _hw(strides, "strides", op), _hw(dilations, "dilations", op)
    if max(dl) > 1 and max(st) > 1:
        raise ValueError("%s: strides > 1 are not supported together with dilations > 1 (got strides %r, "
                         "dilations %r)" % (op, strides, dilations))
    y = depthwise_conv2d(input, depthwise_filter, st, padding, "NHWC", dl)
    return conv2d(y, pointwise_filter, 1, "VALID", "NHWC")


def _sizes(v, op, what):
    try:
        s = [int(t) for t in np.asarray(v if not isinstance(v, _C.Tensor) else v.numpy()).reshape(-1)]
    except (TypeError, ValueError):
        raise ValueError("%s: %s must be 4 ints, got %r" % (op, what, v)) from None
    if len(s) != 4:
        raise ValueError("%s: %s must be 4 ints, got %r" % (op, what, v))
    return s


def conv2d_backprop_input(input_sizes, filters, out_backprop, strides, padding, dilations=None,
                          data_format="NHWC", name=None):
    """Gradient of conv2d w.r.t. its input. input_sizes (N,H,W,C); filters
    (KH,KW,C/groups,K); out_backprop (N,OH,OW,K) -> (N,H,W,C)."""
    op = "conv2d_backprop_input"
    _nhwc(data_format, op)
    sizes = _sizes(input_sizes, op, "input_sizes")
    w, _ = as_tensor(filters, op, "filters")
    dy, was_np = as_tensor(out_backprop, op, "out_backprop")
    _rank4(w, op, "filters")
    g = _groups(sizes[3], w.shape[2], op)
    dx = _C.conv2d_backward_input(dy, w, sizes, _hw(strides, "strides", op), _padding(padding, op),
                                  _hw(dilations, "dilations", op), g)
    return like_input(dx, was_np)


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, dilations=None,
                           data_format="NHWC", name=None):
    """Gradient of conv2d w.r.t. its filter. input (N,H,W,C); filter_sizes
    (KH,KW,C/groups,K); out_backprop (N,OH,OW,K) -> filter_sizes."""
    op = "conv2d_backprop_filter"
    _nhwc(data_format, op)
    x, was_np = as_tensor(input, op, "input")
    sizes = _sizes(filter_sizes, op, "filter_sizes")
    dy, _ = as_tensor(out_backprop, op, "out_backprop")
    _rank4(x, op, "input")
    g = _groups(x.shape[3], sizes[2], op)
    dw = _C.conv2d_backward_filter(dy, x, sizes, _hw(strides, "strides", op), _padding(padding, op),
                                   _hw(dilations, "dilations", op), g)
    return like_input(dw, was_np)


def _transpose_on_tape(input, filters, sizes, strides, padding, dilations, op):
    """conv2d_transpose as a tape node: d/dinput = conv2d(g, filters); d/dfilters =
    conv2d_backward_filter(dy=input, x=g) (the adjoint of the forward conv)."""
    x = input if isinstance(input, _ag.EagerTensor) else _ag.EagerTensor(as_tensor(input, op, "input")[0])
    w = filters if isinstance(filters, _ag.EagerTensor) else _ag.EagerTensor(as_tensor(filters, op, "filters")[0])
    _rank4(w.value, op, "filters")
    _rank4(x.value, op, "input")
    g = _groups(sizes[3], w.shape[2], op)
    st, pad, dl = _hw(strides, "strides", op), _padding(padding, op), _hw(dilations, "dilations", op)
    xv, wv = x.value, w.value
    y = _ag.EagerTensor(_C.conv2d_backward_input(xv, wv, sizes, st, pad, dl, g))
    if _ag.recording():
        def bw(gy, needs):
            dx = _C.conv2d_forward(gy, wv, None, st, pad, dl, g, "none") if needs[0] else None
            dw = _C.conv2d_backward_filter(xv, gy, list(wv.shape), st, pad, dl, g) if needs[1] else None
            return dx, dw
        _ag._record([x, w], [y], bw)
    return y


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",
                     dilations=None, name=None):
    """tf.nn.conv2d_transpose. input (N,H,W,K); filters (KH,KW,C,K) (the forward
    conv's filter); output_shape (N,OH,OW,C). The gradient of conv2d w.r.t. its input."""
    op = "conv2d_transpose"
    _nhwc(data_format, op)
    sizes = _sizes(output_shape, op, "output_shape")
    if isinstance(input, _ag.EagerTensor) or isinstance(filters, _ag.EagerTensor):
        return _transpose_on_tape(input, filters, sizes, strides, padding, dilations, op)
    w, _ = as_tensor(filters, op, "filters")
    dy, was_np = as_tensor(input, op, "input")
    _rank4(w, op, "filters")
    _rank4(dy, op, "input")
    g = _groups(sizes[3], w.shape[2], op)
    dx = _C.conv2d_backward_input(dy, w, sizes, _hw(strides, "strides", op), _padding(padding, op),
                                  _hw(dilations, "dilations", op), g)
    return like_input(dx, was_np)


def convolution(input, filters, strides=None, padding="VALID", data_format=None, dilations=None, name=None):
    """tf.nn.convolution for 1-D (N,W,C) and 2-D (N,H,W,C) inputs: conv1d / conv2d
    by the input's rank. strides/dilations: None (1) or one int per spatial axis."""
    op = "convolution"
    xs = _shape_of(input, op, "input")
    nsp = len(xs) - 2
    if nsp == 3:
        raise UnsupportedError("%s: 3-D convolution (a rank-5 input) is not supported" % op)
    if nsp not in (1, 2):
        raise ValueError("%s: input must be 3-D (N,W,C) or 4-D (N,H,W,C), got shape %s" % (op, xs))

    def per_axis(v, what):
        if v is None:
            return [1] * nsp
        vals = [int(t) for t in np.asarray(v).reshape(-1)]
        if len(vals) == 1:
            return vals * nsp
        if len(vals) != nsp:
            raise ValueError("%s: %s must have %d entries (one per spatial axis), got %r" % (op, what, nsp, v))
        return vals
    st, dl = per_axis(strides, "strides"), per_axis(dilations, "dilations")
    if max(st) > 1 and max(dl) > 1:
        raise ValueError("%s: strides > 1 not supported in conjunction with dilation_rate > 1" % op)
    if nsp == 1:
        return conv1d(input, filters, st[0], padding, None if data_format in (None, "NWC") else data_format,
                      dl[0])
    return conv2d(input, filters, st, padding, "NHWC" if data_format is None else data_format, dl)


def atrous_conv2d(value, filters, rate, padding, name=None):
    """tf.nn.atrous_conv2d: conv2d with dilations rate and stride 1.
    value (N,H,W,C); filters (KH,KW,C,K); padding 'VALID' or 'SAME'."""
    try:
        r = int(rate)
    except (TypeError, ValueError):
        raise TypeError("atrous_conv2d: rate must be an int, got %r" % (rate,)) from None
    if r < 1:
        raise ValueError("atrous_conv2d: rate must be >= 1, got %d" % r)
    if not isinstance(padding, str) or padding.upper() not in ("VALID", "SAME"):
        raise ValueError("atrous_conv2d: padding must be 'VALID' or 'SAME', got %r" % (padding,))
    return conv2d(value, filters, 1, padding, "NHWC", r)


def conv1d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NWC", dilations=None,
                     name=None):
    """tf.nn.conv1d_transpose. input (N,W,K); filters (KW,C,K); output_shape (N,OW,C)."""
    op = "conv1d_transpose"
    _nhwc(data_format, op, (None, "NWC"))
    xs = _shape_of(input, op, "input")
    ws = _shape_of(filters, op, "filters")
    if len(xs) != 3 or len(ws) != 3:
        raise ValueError("%s: input and filters must be 3-D, got shapes %s and %s" % (op, xs, ws))
    os_ = [int(t) for t in np.asarray(output_shape.numpy() if hasattr(output_shape, "numpy") else output_shape)
           .reshape(-1)]
    if len(os_) != 3:
        raise ValueError("%s: output_shape must be 3 ints (N, W, C), got %r" % (op, output_shape))
    y = conv2d_transpose(_kind_reshape(input, [xs[0], 1, xs[1], xs[2]]), _kind_reshape(filters, [1] + list(ws)),
                         [os_[0], 1, os_[1], os_[2]], _w1d(strides, "strides", op), padding, "NHWC",
                         _w1d(dilations, "dilations", op))
    return _kind_reshape(y, [y.shape[0], y.shape[2], y.shape[3]])
