"""pyconvnet.datasets: IDX parsing, the search path, checked downloads (file://
URLs and a fake opener only: these tests never touch the network), and the
bundled MNIST subset."""
import gzip
import hashlib
import io
import os
import struct

import numpy as np
import pytest

from pyconvnet.datasets import DatasetFileError, _idx, fashion_mnist, mnist, read_idx

FILES = _idx.SPLIT_FILES


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No network, no real cache: HOME is a temp dir, downloads are off unless a
    test turns them on with a local mirror, and urlopen refuses non-file URLs."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYCONVNET_OFFLINE", "1")
    monkeypatch.delenv("PYCONVNET_DATA", raising=False)
    real = _idx.urlopen

    def guarded(url, *a, **k):
        assert url.startswith("file:"), "test tried to reach the network: %s" % url
        return real(url, *a, **k)
    monkeypatch.setattr(_idx, "urlopen", guarded)


def idx_bytes(a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return struct.pack(">BBBB", 0, 0, 8, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape) + a.tobytes()


def make_dataset(d, n_train=20, n_test=10, gz=True, seed=0):
    """Write a tiny, structurally valid MNIST-like dataset into d; return its arrays and md5s."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    os.makedirs(d, exist_ok=True)
    md5 = {}
    for name, a in arrays.items():
        raw = idx_bytes(a)
        md5[name] = hashlib.md5(raw).hexdigest()
        if gz:
            with gzip.open(os.path.join(d, name + ".gz"), "wb") as f:
                f.write(raw)
        else:
            with open(os.path.join(d, name), "wb") as f:
                f.write(raw)
    return arrays, md5


def spec_for(md5, mirrors=("file:///nonexistent/",), counts=None):
    return _idx.DatasetSpec("toy", md5=md5, mirrors=list(mirrors), counts=counts or {}, title="Toy")


# ---------------------------------------------------------------- reading

@pytest.mark.parametrize("gz", [True, False])
def test_load_from_path_gz_and_plain(tmp_path, gz):
    arrays, _ = make_dataset(tmp_path / "d", gz=gz)
    (xtr, ytr), (xte, yte) = mnist.load_data(tmp_path / "d", verify=False)
    for got, name in ((xtr, "train-images-idx3-ubyte"), (ytr, "train-labels-idx1-ubyte"),
                      (xte, "t10k-images-idx3-ubyte"), (yte, "t10k-labels-idx1-ubyte")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])
    assert xtr.shape == (20, 28, 28) and ytr.shape == (20,) and xte.shape == (10, 28, 28)
    assert xtr.flags.writeable


def test_checksum_checked_on_local_files(tmp_path):
    make_dataset(tmp_path / "d")
    with pytest.raises(DatasetFileError, match=r"train-images-idx3-ubyte\.gz: checksum mismatch"):
        mnist.load_data(tmp_path / "d")          # verify=True: toy data is not MNIST


def test_spec_md5_accepts_matching_files(tmp_path):
    arrays, md5 = make_dataset(tmp_path / "d")
    (xtr, _), _ = _idx.load(spec_for(md5), tmp_path / "d", download=False)
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte"])


def test_env_dir_then_cache(tmp_path, monkeypatch):
    a1, _ = make_dataset(tmp_path / "env" / "mnist", seed=1)
    a2, _ = make_dataset(tmp_path / "home" / ".pyconvnet" / "datasets" / "mnist", seed=2)
    monkeypatch.setenv("PYCONVNET_DATA", str(tmp_path / "env"))
    (x, _), _ = mnist.load_data(verify=False)
    np.testing.assert_array_equal(x, a1["train-images-idx3-ubyte"])
    monkeypatch.setenv("PYCONVNET_DATA", str(tmp_path / "elsewhere"))
    (x, _), _ = mnist.load_data(verify=False)
    np.testing.assert_array_equal(x, a2["train-images-idx3-ubyte"])


def corrupt(path, how):
    raw = gzip.decompress(open(path, "rb").read())
    if how == "magic":
        raw = b"\x00\x00\x08\x05" + raw[4:]
    elif how == "short":
        raw = raw[:-7]
    elif how == "long":
        raw = raw + b"\x00"
    elif how == "dims":
        raw = raw[:8] + struct.pack(">II", 27, 29) + raw[16:16 + 27 * 29 * 20]
    elif how == "header":
        raw = raw[:10]
    if how == "badgzip":
        data = open(path, "rb").read()
        data = data[:len(data) // 2]      # truncated gzip stream
        open(path, "wb").write(data)
    elif how == "notgzip":
        open(path, "wb").write(b"this is not gzip data at all")
    else:
        open(path, "wb").write(gzip.compress(raw))


@pytest.mark.parametrize("how,msg", [
    ("magic", "bad IDX magic"),
    ("short", "truncated"),
    ("long", "trailing bytes"),
    ("dims", r"expected uint8 images \(N, 28, 28\)"),
    ("header", "truncated IDX header"),
    ("badgzip", "corrupt or truncated gzip"),
    ("notgzip", "not gzip data"),
])
def test_corrupt_files_named(tmp_path, how, msg):
    make_dataset(tmp_path / "d")
    bad = str(tmp_path / "d" / "train-images-idx3-ubyte.gz")
    corrupt(bad, how)
    with pytest.raises(DatasetFileError, match=msg) as ei:
        mnist.load_data(tmp_path / "d", verify=False)
    assert bad in str(ei.value)


def test_label_image_count_mismatch(tmp_path):
    make_dataset(tmp_path / "d")
    p = tmp_path / "d" / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.zeros(9, np.uint8))))
    with pytest.raises(DatasetFileError, match="10 images but .*t10k-labels-idx1-ubyte.gz holds 9 labels"):
        mnist.load_data(tmp_path / "d", verify=False)


def test_split_size_checked_when_verifying(tmp_path):
    arrays, md5 = make_dataset(tmp_path / "d")
    with pytest.raises(DatasetFileError, match="20 images, the Toy train split has 60000"):
        _idx.load(spec_for(md5, counts={"train": 60000}), tmp_path / "d", download=False)


def test_label_out_of_range(tmp_path):
    make_dataset(tmp_path / "d")
    p = tmp_path / "d" / "train-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.full(20, 10, np.uint8))))
    with pytest.raises(DatasetFileError, match="label 10 out of range"):
        mnist.load_data(tmp_path / "d", verify=False)


def test_path_is_a_file(tmp_path):
    f = tmp_path / "mnist.bin"
    f.write_bytes(b"x")
    with pytest.raises(ValueError, match="must be a directory"):
        mnist.load_data(f)


def test_read_idx_other_types(tmp_path):
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    p = tmp_path / "x.idx"
    p.write_bytes(struct.pack(">BBBBII", 0, 0, 0x0C, 2, 2, 3) + a.tobytes())
    np.testing.assert_array_equal(read_idx(str(p)), np.arange(6).reshape(2, 3))


# ---------------------------------------------------------------- offline / download

@pytest.mark.parametrize("mod,name", [(mnist, "mnist"), (fashion_mnist, "fashion_mnist")])
def test_offline_message_lists_files_and_dirs(tmp_path, mod, name):
    with pytest.raises(FileNotFoundError) as ei:
        mod.load_data()
    msg = str(ei.value).splitlines()[0]     # the first line alone says what to do (CLIs print only it)
    for f in FILES:
        assert f + ".gz" in msg
    assert "PYCONVNET_OFFLINE" in msg and "$PYCONVNET_DATA/%s/" % name in msg
    assert os.path.join(str(tmp_path / "home"), ".pyconvnet", "datasets", name) in msg
    assert not os.path.exists(tmp_path / "home" / ".pyconvnet")   # nothing created


def test_download_false_and_partial_dir(tmp_path):
    make_dataset(tmp_path / "d")
    os.remove(tmp_path / "d" / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match=r"download=False.*put the four files.* in .*/d/\.[\s\S]*Missing in .*: t10k-labels-idx1-ubyte\[\.gz\]\."):
        mnist.load_data(tmp_path / "d", download=False)


def mirror_dir(tmp_path, md5=None):
    src = tmp_path / "mirror"
    arrays, m = make_dataset(src)
    return arrays, m, src.as_uri() + "/"


def test_download_from_file_url(tmp_path, capsys):
    arrays, md5, url = mirror_dir(tmp_path)
    spec = spec_for(md5, mirrors=["file:///nonexistent-mirror/", url])   # first mirror fails, second works
    dest = tmp_path / "dest"
    (xtr, ytr), (xte, yte) = _idx.load(spec, dest, download=True)
    np.testing.assert_array_equal(xte, arrays["t10k-images-idx3-ubyte"])
    assert sorted(os.listdir(dest)) == sorted(f + ".gz" for f in FILES)   # no temp files left
    assert "100%" in capsys.readouterr().err                                # progress bar drawn
    # second call: no download (the mirror may vanish)
    spec.mirrors = ["file:///nonexistent-mirror/"]
    _idx.load(spec, dest, download=True)


def test_download_into_cache_by_default(tmp_path, monkeypatch):
    arrays, md5, url = mirror_dir(tmp_path)
    monkeypatch.delenv("PYCONVNET_OFFLINE")
    spec = spec_for(md5, mirrors=[url])
    spec.name = "toy"
    _idx.load(spec, progress=False)
    assert sorted(os.listdir(_idx.cache_dir("toy"))) == sorted(f + ".gz" for f in FILES)


def test_download_checksum_mismatch_leaves_nothing(tmp_path):
    arrays, md5, url = mirror_dir(tmp_path)
    md5 = dict(md5, **{"train-labels-idx1-ubyte": "0" * 32})
    dest = tmp_path / "dest"
    with pytest.raises(DatasetFileError, match=r"downloaded file rejected[\s\S]*train-labels-idx1-ubyte\.gz: checksum mismatch"):
        _idx.load(spec_for(md5, mirrors=[url]), dest, download=True, progress=False)
    assert "train-labels-idx1-ubyte.gz" not in os.listdir(dest)
    assert not [f for f in os.listdir(dest) if f.endswith(".part")]


def test_download_truncated_is_rejected(tmp_path):
    arrays, md5, url = mirror_dir(tmp_path)
    p = tmp_path / "mirror" / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:100])
    dest = tmp_path / "dest"
    with pytest.raises(DatasetFileError, match="corrupt or truncated gzip"):
        _idx.load(spec_for(md5, mirrors=[url]), dest, download=True, progress=False)
    assert "train-images-idx3-ubyte.gz" not in os.listdir(dest)


def test_download_network_error_message(tmp_path, monkeypatch):
    import urllib.error

    def fake(url, *a, **k):
        raise urllib.error.URLError("no route to host")
    monkeypatch.setattr(_idx, "urlopen", fake)
    with pytest.raises(FileNotFoundError, match="download failed[\\s\\S]*no route to host[\\s\\S]*PYCONVNET_DATA"):
        mnist.load_data(download=True, progress=False)
    assert not [f for f in os.listdir(_idx.cache_dir("mnist")) if f.endswith(".part")]


def test_fake_opener_with_content_length(tmp_path, monkeypatch, capsys):
    arrays, md5 = make_dataset(tmp_path / "src")
    blobs = {f: (tmp_path / "src" / (f + ".gz")).read_bytes() for f in FILES}
    seen = []

    class Resp(io.BytesIO):
        def __init__(self, data):
            super().__init__(data)
            self.headers = {"Content-Length": str(len(data))}

    def fake(url, timeout=None):
        seen.append(url)
        return Resp(blobs[url.rsplit("/", 1)[1][:-3]])
    monkeypatch.setattr(_idx, "urlopen", fake)
    spec = spec_for(md5, mirrors=["https://example.invalid/mnist"])
    _idx.load(spec, tmp_path / "dest", download=True)
    assert seen == ["https://example.invalid/mnist/%s.gz" % f for f in FILES]
    assert "MB" in capsys.readouterr().err


def test_real_mnist_urls_and_md5_are_the_published_ones():
    assert mnist.SPEC.md5["train-images-idx3-ubyte"] == "6bbc9ace898e44ae57da46a324031adb"
    assert all(u.startswith(("https://", "http://")) for u in mnist.SPEC.mirrors + fashion_mnist.SPEC.mirrors)
    assert any("zalandoresearch/fashion-mnist" in u for u in fashion_mnist.SPEC.mirrors)


# ---------------------------------------------------------------- bundled subset

def test_subset_shapes_dtypes_balance():
    (xtr, ytr), (xte, yte) = mnist.load_subset()
    assert xtr.shape == (5000, 28, 28) and xte.shape == (1000, 28, 28)
    assert ytr.shape == (5000,) and yte.shape == (1000,)
    assert xtr.dtype == ytr.dtype == xte.dtype == yte.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(ytr, minlength=10), [500] * 10)
    np.testing.assert_array_equal(np.bincount(yte, minlength=10), [100] * 10)
    assert xtr.max() == 255 and xtr.min() == 0
    assert 25 < xtr.mean() < 40                     # MNIST's mean pixel is ~33
    assert len(np.unique(xtr.reshape(5000, -1), axis=0)) == 5000


def test_subset_is_small():
    total = sum(os.path.getsize(os.path.join(mnist.SUBSET_DIR, f)) for f in os.listdir(mnist.SUBSET_DIR))
    assert total < 1.5e6


FULL = "/work/shared/data/mnist"


@pytest.mark.skipif(not os.path.isdir(FULL), reason="full MNIST not present here")
def test_full_mnist_and_subset_is_its_first_per_class():
    (xtr, ytr), (xte, yte) = mnist.load_data(FULL)
    assert xtr.shape == (60000, 28, 28) and yte.shape == (10000,)
    (sx, sy), (tx, ty) = mnist.load_subset()
    idx = np.sort(np.concatenate([np.flatnonzero(ytr == c)[:500] for c in range(10)]))
    np.testing.assert_array_equal(sx, xtr[idx])
    np.testing.assert_array_equal(sy, ytr[idx])
    idx = np.sort(np.concatenate([np.flatnonzero(yte == c)[:100] for c in range(10)]))
    np.testing.assert_array_equal(tx, xte[idx])


# ---------------------------------------------------------------- Keras .npz compatibility

def test_keras_npz(tmp_path, monkeypatch):
    arrays, md5 = make_dataset(tmp_path / "d")
    npz = tmp_path / "k" / "mnist.npz"
    os.makedirs(npz.parent)
    np.savez(npz, x_train=arrays["train-images-idx3-ubyte"], y_train=arrays["train-labels-idx1-ubyte"],
             x_test=arrays["t10k-images-idx3-ubyte"], y_test=arrays["t10k-labels-idx1-ubyte"])
    (x, y), (xt, yt) = _idx.load(spec_for(md5), str(npz))                # arrays verified against IDX md5s
    np.testing.assert_array_equal(xt, arrays["t10k-images-idx3-ubyte"])
    with pytest.raises(DatasetFileError, match="mnist.npz: checksum mismatch"):
        mnist.load_data(str(npz))
    # Keras's default name: looked up in ~/.keras/datasets, else the normal search applies
    keras_dir = tmp_path / "home" / ".keras" / "datasets"
    os.makedirs(keras_dir)
    os.replace(npz, keras_dir / "mnist.npz")
    (x, _), _ = mnist.load_data("mnist.npz", verify=False)
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte"])
    os.remove(keras_dir / "mnist.npz")
    with pytest.raises(FileNotFoundError, match="PYCONVNET_OFFLINE"):
        mnist.load_data("mnist.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DatasetFileError, match="bad.npz: corrupt"):
        mnist.load_data(str(bad))
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(DatasetFileError, match="other.npz: not a Keras dataset .npz"):
        mnist.load_data(str(tmp_path / "other.npz"))


@pytest.mark.skipif(not os.path.isdir(FULL), reason="full MNIST not present here")
def test_npz_md5_matches_idx_md5(tmp_path):
    (xtr, ytr), (xte, yte) = mnist.load_data(FULL)
    assert _idx._idx_md5(yte) == mnist.SPEC.md5["t10k-labels-idx1-ubyte"]
    assert _idx._idx_md5(xte) == mnist.SPEC.md5["t10k-images-idx3-ubyte"]
