"""PNG pictures: conv filters, feature maps, classical filters on an image,
training curves.

matplotlib is optional (``pip install pyconvnet[plot]``) and imported only
inside these functions. Figures are built with ``matplotlib.figure.Figure`` and
rendered by the Agg canvas: no pyplot, no GUI backend, no global state, safe
on a headless server and in threads. Every function returns the Figure and,
when ``path`` is given, also writes it there as a PNG.
"""
import math
import os

import numpy as np

__all__ = ["plot_filters", "plot_feature_maps", "plot_filtered_images", "plot_history"]


def _mpl():
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("pyconvnet.plot needs matplotlib (%s): pip install pyconvnet[plot]" % e) from None
    del matplotlib
    return Figure, FigureCanvasAgg


def _figure(width, height):
    Figure, Canvas = _mpl()
    try:
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    except TypeError:  # matplotlib < 3.6
        fig = Figure(figsize=(width, height), dpi=100, constrained_layout=True)
    Canvas(fig)
    return fig


def _save(fig, path):
    if path is not None:
        path = os.fspath(path)
        fig.savefig(path, format="png", dpi=fig.dpi)
    return fig


def _array(x, what):
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError("%s: expected a real numeric array, got dtype %s" % (what, a.dtype))
    return a.astype(np.float64)


def _range(a):
    """(lo, hi) of the finite values of a, usable as imshow's vmin/vmax (hi > lo)."""
    f = a[np.isfinite(a)]
    if f.size == 0:
        return 0.0, 1.0
    lo, hi = float(f.min()), float(f.max())
    return lo, hi


def _grid(n, cols):
    cols = max(1, min(int(cols), n))
    return int(math.ceil(n / cols)), cols


def _hide_axes(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def _first_kernel(obj):
    """An HWIO array from an array, a Tensor, or anything with get_weights() (a
    layer or a model: the first 4-D weight, i.e. the first conv kernel)."""
    if hasattr(obj, "get_weights") and callable(obj.get_weights):
        for w in obj.get_weights():
            w = np.asarray(w)
            if w.ndim == 4:
                return _array(w, "plot_filters")
        raise ValueError("plot_filters: %s has no 4-D (kh, kw, in, out) conv kernel among its weights"
                         % type(obj).__name__)
    return _array(obj, "plot_filters")


def plot_filters(weights_or_layer, path=None, cols=8, max_filters=64, title=None):
    """The filters of a conv layer, each (kh, kw) slice as a grayscale image.

    weights_or_layer: HWIO kernel (kh, kw, in, out) — NumPy or Tensor — a (kh, kw)
      or (kh, kw, out) array, or an object with get_weights() (a Conv2D layer,
      or a model: its first 4-D weight is used).
    One panel per (output filter, input channel) slice, ordered by output
    filter, at most `max_filters` panels, `cols` per row. All panels share one
    symmetric gray scale (black = most negative, white = most positive, mid
    gray = 0) so their magnitudes compare.
    Returns the matplotlib Figure; writes a PNG to `path` when given.
    """
    w = _first_kernel(weights_or_layer)
    if w.ndim == 2:
        w = w[:, :, None, None]
    elif w.ndim == 3:
        w = w[:, :, None, :]
    if w.ndim != 4 or w.size == 0:
        raise ValueError("plot_filters: expected a (kh, kw, in, out) kernel, got shape %s" % (w.shape,))
    kh, kw, cin, cout = w.shape
    slices = [(o, i) for o in range(cout) for i in range(cin)]
    total = len(slices)
    slices = slices[:max_filters]
    rows, cols = _grid(len(slices), cols)
    m = _range(np.abs(w))[1] or 1.0
    fig = _figure(1.1 * cols + 0.4, 1.3 * rows + 0.7)
    for k, (o, i) in enumerate(slices):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(w[:, :, i, o], cmap="gray", vmin=-m, vmax=m, interpolation="nearest")
        ax.set_title("f%d" % o if cin == 1 else "f%d c%d" % (o, i), fontsize=8, pad=2)
        _hide_axes(ax)
    head = title or "Conv filters %dx%d, %d in -> %d out" % (kh, kw, cin, cout)
    if total > len(slices):
        head += " (first %d of %d slices)" % (len(slices), total)
    fig.suptitle(head + "\ngray scale [-%.3g, %.3g]" % (m, m), fontsize=9)
    return _save(fig, path)


def plot_feature_maps(maps, path=None, max_maps=32, cols=8, title=None):
    """Feature maps of one image: (H, W, C) or (1, H, W, C), NumPy or Tensor.

    One panel per channel (at most `max_maps`), each scaled to its own min..max
    (viridis); the panel title gives the channel and that range.
    Returns the matplotlib Figure; writes a PNG to `path` when given.
    """
    a = _array(maps, "plot_feature_maps")
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError("plot_feature_maps: a 4-D input must hold one image (1, H, W, C), got shape %s"
                             % (a.shape,))
        a = a[0]
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.size == 0:
        raise ValueError("plot_feature_maps: expected (H, W, C) or (1, H, W, C), got shape %s" % (np.shape(maps),))
    h, w, c = a.shape
    n = min(c, int(max_maps))
    rows, cols = _grid(n, cols)
    fig = _figure(1.5 * cols + 0.3, 1.85 * rows + 0.5)
    for k in range(n):
        ax = fig.add_subplot(rows, cols, k + 1)
        m = a[:, :, k]
        lo, hi = _range(m)
        ax.imshow(m, cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
        ax.set_title("ch %d\n[%.2g, %.2g]" % (k, lo, hi), fontsize=7, pad=2)
        _hide_axes(ax)
    head = title or "Feature maps %dx%d, %d channels" % (h, w, c)
    if c > n:
        head += " (first %d)" % n
    fig.suptitle(head, fontsize=10)
    return _save(fig, path)


def _gray(image):
    a = _array(image, "plot_filtered_images")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[:, :, :3] @ np.array([0.299, 0.587, 0.114])      # ITU-R 601 luma, as PIL's convert("L")
    if a.ndim != 2 or a.size == 0:
        raise ValueError("plot_filtered_images: expected an image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                         "got shape %s" % (np.shape(image),))
    return a


def plot_filtered_images(image, kernels=None, path=None, cols=4, title=None):
    """An image and the same image through each classical filter, one grid.

    image: (H, W) grayscale, or (H, W, 3|4) color (converted to gray luma).
    kernels: None (all of pyconvnet.filters.KERNELS), a list of names, or a
      dict name -> 2-D kernel. Filtering runs pyconvnet.filters.apply (our conv).
    Each panel is scaled to its own min..max (gray), with the kernel's name
    and the value range as its title.
    Returns the matplotlib Figure; writes a PNG to `path` when given.
    """
    from . import filters

    img = _gray(image).astype(np.float32)
    if kernels is None:
        kernels = dict(filters.KERNELS)
    elif not isinstance(kernels, dict):
        kernels = {str(k): filters.get(k) for k in kernels}
    panels = [("original", img)] + [(name, filters.apply(img, k)) for name, k in kernels.items()]
    rows, cols = _grid(len(panels), cols)
    h, w = img.shape
    aspect = h / w
    pw = 2.4
    fig = _figure(pw * cols + 0.3, (pw * aspect + 0.5) * rows + 0.5)
    for k, (name, a) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        lo, hi = _range(a)
        ax.imshow(a, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
        ax.set_title("%s  [%.3g, %.3g]" % (name, lo, hi), fontsize=9, pad=3)
        _hide_axes(ax)
    fig.suptitle(title or "Classical 3x3 filters (pyconvnet conv2d, 'same' zero padding)", fontsize=11)
    return _save(fig, path)


def plot_history(history_or_dict, path=None, title=None):
    """Training curves from a Keras-like History (its .history dict) or a dict.

    One panel per metric (loss first), each with the training curve and, when
    present, the ``val_`` curve, against the epoch (1-based).
    Returns the matplotlib Figure; writes a PNG to `path` when given.
    """
    h = getattr(history_or_dict, "history", history_or_dict)
    if not isinstance(h, dict) or not h:
        raise ValueError("plot_history: expected a History or a non-empty dict of metric -> list, got %r"
                         % type(history_or_dict).__name__)
    h = {str(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in h.items()}
    names = []
    for k in h:
        base = k[4:] if k.startswith("val_") else k
        if base not in names:
            names.append(base)
    order = list(names)
    names.sort(key=lambda n: (n != "loss", order.index(n)))
    n = len(names)
    fig = _figure(4.6 * n + 0.4, 3.6)
    for k, name in enumerate(names):
        ax = fig.add_subplot(1, n, k + 1)
        for key, label, style in ((name, "train", "-o"), ("val_" + name, "validation", "--s")):
            if key in h and h[key].size:
                ep = np.arange(1, h[key].size + 1)
                ax.plot(ep, h[key], style, label=label, markersize=3, linewidth=1.5)
        ax.set_title(name, fontsize=11)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        epochs = max(h[key].size for key in (name, "val_" + name) if key in h)
        if epochs <= 20:
            ax.set_xticks(np.arange(1, epochs + 1, max(1, epochs // 10)))
    if title:
        fig.suptitle(title, fontsize=12)
    return _save(fig, path)
