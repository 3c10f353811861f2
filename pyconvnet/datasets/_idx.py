"""IDX files (the MNIST container format) and the dataset fetcher shared by
mnist and fashion_mnist.

IDX: big-endian header ``0x00 0x00 <type> <ndim>``, then ``ndim`` uint32 sizes,
then the data. MNIST-style datasets use type 0x08 (uint8): labels are
``(N,)`` (magic 0x00000801), images ``(N, 28, 28)`` (magic 0x00000803).

Where the files are looked for, in order (the first directory that holds all
four files wins; each file may be gzipped, ``<name>.gz``, or not):

1. ``path`` when the caller gives one (then only there);
2. ``$PYCONVNET_DATA/<dataset>/`` when the environment variable is set;
3. the cache ``~/.pyconvnet/datasets/<dataset>/``.

When files are missing they are downloaded once into ``path`` (if given) or the
cache, unless ``download=False`` or ``PYCONVNET_OFFLINE=1``. Downloads are
written to a temporary file in the target directory, checked (gzip integrity,
IDX structure, and the MD5 of the decompressed content against the published
value), and only then moved into place with ``os.replace``, so an interrupted
or corrupt download never leaves a file that looks complete.

Every file that is read is checked: magic number, dimensions, exact data
length, gzip integrity, and (``verify=True``, the default) the MD5 of its
decompressed content. A bad file raises :class:`DatasetFileError` naming it.
"""
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zlib

import numpy as np

__all__ = ["DatasetFileError", "DatasetSpec", "read_idx", "load", "cache_dir"]

SPLIT_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

# Overridable for tests: the function that opens a URL (urllib.request.urlopen
# signature: urlopen(url, timeout=...) -> file-like with .read(n) and .headers).
urlopen = urllib.request.urlopen


class DatasetFileError(ValueError):
    """A dataset file is corrupt, truncated, or not the file it should be."""


class DatasetSpec:
    """What one IDX dataset is: its files, their shapes, checksums and mirrors.

    md5: {file name without .gz: MD5 of the *decompressed* IDX content}. The
    decompressed content is checked (not the .gz bytes) so that a file that was
    re-compressed, or stored uncompressed, still verifies.
    """

    def __init__(self, name, md5, mirrors, counts, image_shape=(28, 28), title=None):
        self.name = name
        self.md5 = dict(md5)
        self.mirrors = list(mirrors)
        self.counts = dict(counts)     # {"train": 60000, "t10k": 10000}
        self.image_shape = tuple(image_shape)
        self.title = title or name


def cache_dir(name):
    """``~/.pyconvnet/datasets/<name>/`` (not created here)."""
    return os.path.join(os.path.expanduser("~"), ".pyconvnet", "datasets", name)


def _offline():
    return os.environ.get("PYCONVNET_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _find(directory, fname):
    """The path of fname or fname.gz in directory, or None."""
    for cand in (os.path.join(directory, fname), os.path.join(directory, fname + ".gz")):
        if os.path.isfile(cand):
            return cand
    return None


def _read_bytes(path):
    """The decompressed bytes of an IDX file (gzip detected by its magic bytes)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DatasetFileError("%s: cannot read (%s)" % (path, e)) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetFileError("%s: corrupt or truncated gzip data (%s); delete it and download it again"
                                   % (path, e)) from None
    if path.endswith(".gz"):
        raise DatasetFileError("%s: named .gz but is not gzip data (first bytes %r)" % (path, raw[:4]))
    return raw


def parse_idx(data, path="<bytes>"):
    """Parse IDX bytes into a NumPy array (read-only view copied to a fresh array).

    Raises DatasetFileError naming `path` on a bad magic number, a header
    shorter than its dimensions, zero dimensions, or a data length different
    from the product of the dimensions.
    """
    if len(data) < 4:
        raise DatasetFileError("%s: too short for an IDX header (%d bytes)" % (path, len(data)))
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES or not 1 <= data[3] <= 4:
        raise DatasetFileError("%s: bad IDX magic number 0x%s (expected 0x0000080N for uint8 data)"
                               % (path, data[:4].hex()))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    ndim = data[3]
    hdr = 4 + 4 * ndim
    if len(data) < hdr:
        raise DatasetFileError("%s: truncated IDX header (%d bytes, expected %d)" % (path, len(data), hdr))
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    n = 1
    for d in dims:
        n *= d
    expected = hdr + n * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DatasetFileError("%s: %s: header says dims %s = %d bytes of data, file holds %d"
                               % (path, what, dims, n * dtype.itemsize, len(data) - hdr))
    return np.frombuffer(data, dtype=dtype, count=n, offset=hdr).astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx(path):
    """Read one IDX file (gzipped or not) into a NumPy array; see parse_idx."""
    return parse_idx(_read_bytes(path), path)


def _check_md5(spec, fname, data, path):
    want = spec.md5.get(fname)
    if want is None:
        return
    got = hashlib.md5(data).hexdigest()
    if got != want:
        raise DatasetFileError("%s: checksum mismatch (MD5 of the decompressed content is %s, the published %s %s "
                               "is %s): the file is corrupt or not the original; delete it and download it again "
                               "(or pass verify=False to load a modified copy on purpose)"
                               % (path, got, spec.title, fname, want))


def _load_file(spec, fname, path, verify):
    data = _read_bytes(path)
    arr = parse_idx(data, path)
    if verify:
        _check_md5(spec, fname, data, path)
    return arr


def _missing_message(spec, dirs, target, missing, reason):
    """A message whose first line alone says what to do (CLIs may print only it)."""
    names = ", ".join("%s.gz" % f for f in SPLIT_FILES)
    if len(dirs) == 1 and dirs[0] == target and target != cache_dir(spec.name):   # an explicit path
        where = "in %s/" % target.rstrip("/")
    else:
        where = ("in %s/ (or in $PYCONVNET_DATA/%s/ with the environment variable PYCONVNET_DATA set, or in a "
                 "directory given as path=)" % (cache_dir(spec.name), spec.name))
    lines = ["%s: %s; put the four files %s (gzipped or not) %s." % (spec.title, reason, names, where),
             "Searched: " + ", ".join(dirs) + ".",
             "Missing in %s: %s." % (target, ", ".join(missing)),
             "The files can be downloaded from %s" % spec.mirrors[0]]
    if spec.name == "mnist":
        lines.append("(pyconvnet.datasets.mnist.load_subset() loads the 5000+1000-image MNIST subset shipped "
                     "with the package, no download needed.)")
    return "\n".join(lines)


def _progress(done, total, label, out):
    if total:
        frac = min(done / total, 1.0)
        bar = "=" * int(30 * frac)
        out.write("\r%s [%-30s] %3d%% %.1f/%.1f MB" % (label, bar, 100 * frac, done / 1e6, total / 1e6))
    else:
        out.write("\r%s %.1f MB" % (label, done / 1e6))
    out.flush()


def download_file(spec, fname, directory, progress=True, timeout=60):
    """Download `fname`.gz from the first mirror that works into `directory`.

    The file is verified (gzip, IDX structure, MD5 of its content) while still
    a temporary file, then moved into place atomically. Returns the final path.
    Raises OSError when no mirror could be reached, DatasetFileError when what
    was downloaded is corrupt (nothing is left behind in either case).
    """
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, fname + ".gz")
    errors = []
    out = sys.stderr
    for mirror in spec.mirrors:
        url = mirror.rstrip("/") + "/" + fname + ".gz"
        fd, tmp = tempfile.mkstemp(prefix="." + fname + ".", suffix=".part", dir=directory)
        try:
            try:
                with os.fdopen(fd, "wb") as f, urlopen(url, timeout=timeout) as r:
                    total = int(r.headers.get("Content-Length") or 0) if getattr(r, "headers", None) else 0
                    done = 0
                    label = "Downloading %s" % url
                    live = progress and getattr(out, "isatty", lambda: False)()   # redraw only on a terminal
                    shown = -1
                    while True:
                        chunk = r.read(1 << 16)
                        if not chunk:
                            break
                        f.write(chunk)
                        done += len(chunk)
                        step = int(100 * done / total) if total else done >> 20
                        if live and step != shown:
                            shown = step
                            _progress(done, total, label, out)
                    if progress:
                        _progress(done, total or done, label, out)
                        out.write("\n")
                        out.flush()
                    f.flush()
                    os.fsync(f.fileno())
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append("%s: %s" % (url, getattr(e, "reason", e)))
                continue
            # Verify before the file gets its real name. A corrupt download is an
            # error (not a reason to try the next mirror silently).
            data = _read_bytes(tmp)
            try:
                parse_idx(data, url)
                _check_md5(spec, fname, data, url)
            except DatasetFileError as e:
                raise DatasetFileError("downloaded file rejected, nothing written to %s: %s" % (final, e)) from None
            os.replace(tmp, final)
            tmp = None
            return final
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
    raise OSError("could not download %s.gz: %s" % (fname, "; ".join(errors)))


def _idx_md5(a):
    """MD5 of the IDX file that would hold uint8 array a (to verify arrays from any source)."""
    h = hashlib.md5(bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape))
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _load_npz(spec, path, verify):
    """A Keras-format .npz (x_train, y_train, x_test, y_test), checked like the IDX files."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as e:
        raise DatasetFileError("%s: not a Keras dataset .npz (missing array %s)" % (path, e)) from None
    except Exception as e:  # zipfile.BadZipFile, ValueError, OSError, EOFError ...
        raise DatasetFileError("%s: corrupt or unreadable .npz (%s)" % (path, e)) from None
    for split, (xk, yk) in (("train", ("x_train", "y_train")), ("t10k", ("x_test", "y_test"))):
        x, y = arrays[xk], arrays[yk]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != spec.image_shape:
            raise DatasetFileError("%s: %s must be uint8 (N, %d, %d), got %s %s"
                                   % ((path, xk) + spec.image_shape + (x.dtype, x.shape)))
        if y.dtype != np.uint8 or y.shape != x.shape[:1]:
            raise DatasetFileError("%s: %s must be uint8 (%d,), got %s %s" % (path, yk, x.shape[0], y.dtype, y.shape))
        if verify:
            for arr, f in ((x, split + "-images-idx3-ubyte"), (y, split + "-labels-idx1-ubyte")):
                want = spec.md5.get(f)
                if want is not None and _idx_md5(arr) != want:
                    raise DatasetFileError("%s: checksum mismatch: its %s differ from the published %s %s "
                                           "(pass verify=False to load a modified copy on purpose)"
                                           % (path, xk if arr is x else yk, spec.title, f))
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load(spec, path=None, download=None, verify=True, progress=True):
    """Load a 4-file IDX dataset: ((x_train, y_train), (x_test, y_test)).

    x: uint8 (N, *spec.image_shape); y: uint8 (N,). See the module docstring
    for where files are searched and when they are downloaded.
    """
    if path is not None:
        path = os.fspath(path)
        if path.endswith(".npz"):
            # Keras style: load_data(path="mnist.npz"), a file name in Keras's cache.
            npz = path if os.path.dirname(path) else None
            if npz is None:
                cand = os.path.join(os.path.expanduser("~"), ".keras", "datasets", path)
                npz = cand if os.path.isfile(cand) else None
            if npz is not None:
                return _load_npz(spec, npz, verify)
            path = None
    if path is not None:
        if os.path.isfile(path):
            raise ValueError("%s.load_data: path must be a directory holding the four IDX files, got the file %s"
                             % (spec.name, path))
        dirs = [path]
    else:
        dirs = []
        env = os.environ.get("PYCONVNET_DATA")
        if env:
            dirs.append(os.path.join(env, spec.name))
        dirs.append(cache_dir(spec.name))
    found = None
    for d in dirs:
        files = {f: _find(d, f) for f in SPLIT_FILES}
        if all(files.values()):
            found = files
            break
    if found is None:
        target = dirs[0] if path is not None else cache_dir(spec.name)
        files = {f: _find(target, f) for f in SPLIT_FILES}
        missing = [f + "[.gz]" for f, p in files.items() if p is None]
        why = "download=False" if download is False else "PYCONVNET_OFFLINE is set"
        if download is None:
            download = not _offline()
        if not download:
            why = "files not found and downloads are disabled (%s)" % why
            raise FileNotFoundError(_missing_message(spec, dirs, target, missing, why))
        for f, p in files.items():
            if p is None:
                try:
                    files[f] = download_file(spec, f, target, progress=progress)
                except OSError as e:
                    raise FileNotFoundError(_missing_message(spec, dirs, target, missing, "files not found and the download "
                                                             "failed (%s)" % e)) from None
        found = files

    arrays = {f: _load_file(spec, f, p, verify) for f, p in found.items()}
    out = []
    for split in ("train", "t10k"):
        ip, lp = found[split + "-images-idx3-ubyte"], found[split + "-labels-idx1-ubyte"]
        x, y = arrays[split + "-images-idx3-ubyte"], arrays[split + "-labels-idx1-ubyte"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != spec.image_shape:
            raise DatasetFileError("%s: expected uint8 images (N, %d, %d), got %s %s"
                                   % ((ip,) + spec.image_shape + (x.dtype, x.shape)))
        if y.dtype != np.uint8 or y.ndim != 1:
            raise DatasetFileError("%s: expected uint8 labels (N,), got %s %s" % (lp, y.dtype, y.shape))
        if x.shape[0] != y.shape[0]:
            raise DatasetFileError("%s holds %d images but %s holds %d labels" % (ip, x.shape[0], lp, y.shape[0]))
        if verify and spec.counts.get(split) not in (None, x.shape[0]):
            raise DatasetFileError("%s: %d images, the %s %s split has %d"
                                   % (ip, x.shape[0], spec.title, split, spec.counts[split]))
        if y.size and int(y.max()) > 9:
            raise DatasetFileError("%s: label %d out of range 0..9" % (lp, int(y.max())))
        out.append((x, y))
    return tuple(out)
