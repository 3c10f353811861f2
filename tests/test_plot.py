"""pyconvnet.plot and `python -m pyconvnet filters`: PNGs are written, non-empty
and decodable; bad inputs give clear errors; the CLI reports bad input in one
line on stderr with status 2. Skips cleanly without matplotlib."""
import os
import subprocess
import tempfile
import sys

import numpy as np
import pytest

import pyconvnet as pcn
from pyconvnet import filters as F

mpl = pytest.importorskip("matplotlib", reason="matplotlib not installed (pip install pyconvnet[plot])")
from pyconvnet import plot  # noqa: E402

HAS_CONV = hasattr(pcn._C, "conv2d_forward")
needs_conv = pytest.mark.skipif(not HAS_CONV, reason="pyconvnet._C has no conv2d_forward yet (branch conv not merged)")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The directory holding the pyconvnet these tests import (the source tree when built in
# place, site-packages when installed): child processes must import the same one.
import pyconvnet as _pcn_for_path  # noqa: E402
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_pcn_for_path.__file__)))

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(path, min_size=(200, 100)):
    assert os.path.getsize(path) > 1000
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    img = mpl.image.imread(path)
    assert img.shape[0] >= min_size[1] and img.shape[1] >= min_size[0]
    assert img[..., :3].std() > 0.01          # not a blank canvas
    return img


class FakeLayer:
    def __init__(self, *ws):
        self.ws = ws

    def get_weights(self):
        return list(self.ws)


def test_plot_filters_array_layer_and_tensor(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 5, 1, 6)).astype(np.float32)
    fig = plot.plot_filters(w, path=tmp_path / "a.png", cols=3)
    assert len(fig.axes) == 6
    check_png(tmp_path / "a.png")
    fig = plot.plot_filters(FakeLayer(w, np.zeros(6, np.float32)), path=tmp_path / "b.png")
    assert len(fig.axes) == 6
    # a model-like object: the first 4-D weight is taken
    fig = plot.plot_filters(FakeLayer(np.zeros((4, 3)), w, rng.standard_normal((3, 3, 6, 16))))
    assert len(fig.axes) == 6
    fig = plot.plot_filters(pcn.tensor(rng.standard_normal((3, 3, 3, 40)).astype(np.float32)), max_filters=64)
    assert len(fig.axes) == 64 and "first 64 of 120" in fig._suptitle.get_text()
    assert len(plot.plot_filters(F.edge3).axes) == 1


def test_plot_filters_bad():
    with pytest.raises(ValueError, match="plot_filters: .* no 4-D"):
        plot.plot_filters(FakeLayer(np.zeros((3, 4))))
    with pytest.raises(ValueError, match=r"plot_filters: expected a \(kh, kw, in, out\)"):
        plot.plot_filters(np.zeros(5))
    with pytest.raises(TypeError, match="plot_filters"):
        plot.plot_filters(np.array(["a"]))


def test_plot_feature_maps(tmp_path):
    rng = np.random.default_rng(1)
    fig = plot.plot_feature_maps(rng.standard_normal((1, 12, 10, 40)), path=tmp_path / "f.png", max_maps=32)
    assert len(fig.axes) == 32
    check_png(tmp_path / "f.png")
    maps = np.zeros((8, 8, 3))                                    # constant maps do not divide by zero
    assert len(plot.plot_feature_maps(maps, path=tmp_path / "g.png").axes) == 3
    assert os.path.getsize(tmp_path / "g.png") > 1000
    maps = np.full((6, 6, 2), np.nan)
    maps[0, 0, 0] = np.inf                                        # all-NaN / non-finite maps still draw
    plot.plot_feature_maps(maps, path=tmp_path / "n.png")
    plot.plot_filters(np.full((3, 3, 1, 2), np.nan), path=tmp_path / "n2.png")
    with pytest.raises(ValueError, match="plot_feature_maps: a 4-D input must hold one image"):
        plot.plot_feature_maps(np.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="plot_feature_maps: expected"):
        plot.plot_feature_maps(np.zeros(4))


class History:
    def __init__(self, h):
        self.history = h


def test_plot_history(tmp_path):
    h = {"accuracy": [0.5, 0.7, 0.8], "loss": [1.0, 0.6, 0.4], "val_loss": [0.9, 0.7, 0.6],
         "val_accuracy": [0.55, 0.65, 0.7]}
    fig = plot.plot_history(History(h), path=tmp_path / "h.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]          # loss first
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    check_png(tmp_path / "h.png")
    fig = plot.plot_history({"loss": [1.0, 0.5]})                               # no validation
    assert len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="plot_history"):
        plot.plot_history({})


def test_no_text_overlap(tmp_path):
    # Panel titles must not run into each other or into the panels above.
    fig = plot.plot_filters(np.random.default_rng(2).standard_normal((3, 3, 3, 8)), path=tmp_path / "o.png")
    r = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(r) for ax in fig.axes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    imgs = [ax.get_window_extent(r) for ax in fig.axes]
    for t in boxes:
        for ax_box in imgs:
            assert not (t.overlaps(ax_box) and t.y0 < ax_box.y1 - 2), "a title overlaps a panel"


@needs_conv
def test_plot_filtered_images(tmp_path):
    from pyconvnet.datasets import mnist
    (x, _), _ = mnist.load_subset()
    fig = plot.plot_filtered_images(x[0], path=tmp_path / "p.png")
    assert [ax.get_title().split()[0] for ax in fig.axes] == ["original"] + list(F.KERNELS)
    check_png(tmp_path / "p.png", min_size=(600, 400))
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    fig = plot.plot_filtered_images(rgb, kernels=["edge1", "box_blur"])
    assert len(fig.axes) == 3
    fig = plot.plot_filtered_images(x[1], kernels={"mine": np.array([[1, -1]])})
    assert fig.axes[1].get_title().startswith("mine")


def test_plot_filtered_images_bad():
    with pytest.raises(ValueError, match="plot_filtered_images: expected an image"):
        plot.plot_filtered_images(np.zeros((2, 3, 4, 5)))


def test_missing_matplotlib_message(monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"pip install pyconvnet\[plot\]"):
        plot.plot_history({"loss": [1.0]})


# ---------------------------------------------------------------- CLI

def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=PKG_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # never the repository root as cwd: `python -m` would import the source tree
    return subprocess.run([sys.executable, "-m", "pyconvnet", "filters"] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=cwd or tempfile.gettempdir(), timeout=120)


def assert_one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "error:" in lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_cli_bad_inputs(tmp_path):
    (tmp_path / "notimg.png").write_text("hello")
    (tmp_path / "afile").write_text("x")
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4, 5)))
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    np.save(tmp_path / "ok.npy", np.zeros((5, 5)))
    assert_one_line_error(cli(tmp_path / "missing.png", "--out", tmp_path / "o"), "missing.png", "no such file")
    assert_one_line_error(cli(tmp_path / "notimg.png", "--out", tmp_path / "o"), "notimg.png", "not an image")
    assert_one_line_error(cli(tmp_path / "bad.npy", "--out", tmp_path / "o"), "bad.npy", "shape")
    assert_one_line_error(cli(tmp_path / "broken.npy", "--out", tmp_path / "o"), "broken.npy", ".npy")
    assert_one_line_error(cli(tmp_path, "--out", tmp_path / "o"), "directory")
    assert_one_line_error(cli(tmp_path / "ok.npy", "--out", tmp_path / "afile"), "--out", "not a directory")
    assert_one_line_error(cli(tmp_path / "ok.npy", "--out", tmp_path / "afile" / "sub"), "--out")
    assert_one_line_error(cli(tmp_path / "ok.npy", "--out", tmp_path / "o", "--kernels", "edge1,nope"), "nope")
    assert cli(tmp_path / "ok.npy").returncode == 2                          # --out is required (argparse)
    assert not (tmp_path / "o" / "filters.png").exists()


@needs_conv
def test_cli_writes_png(tmp_path):
    from PIL import Image
    from pyconvnet.datasets import mnist
    (x, _), _ = mnist.load_subset()
    Image.fromarray(np.kron(x[2], np.ones((2, 2), np.uint8))).convert("RGB").save(tmp_path / "digit.jpg")
    np.save(tmp_path / "digit.npy", x[5])
    r = cli(tmp_path / "digit.jpg", "--out", tmp_path / "out" / "new")
    assert r.returncode == 0, r.stderr
    assert "filters.png" in r.stdout
    check_png(tmp_path / "out" / "new" / "filters.png", min_size=(600, 400))
    r = cli(tmp_path / "digit.npy", "--out", tmp_path / "o2", "--kernels", "edge2,sharpen")
    assert r.returncode == 0, r.stderr
    check_png(tmp_path / "o2" / "filters.png")
