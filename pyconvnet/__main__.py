"""Command line: python -m pyconvnet info | train | bench | filters"""
import argparse
import sys


def _cmd_info(args):
    from ._runtime import format_info, info
    d = info()
    if args.json:
        import json
        print(json.dumps(d, indent=2))
    else:
        print(format_info(d))
    return 0


class _CliError(Exception):
    """A bad input to a subcommand: one line on stderr, exit status 2."""


def _load_gray(path):
    """IMAGE -> float32 (H, W): PNG/JPEG/... via Pillow (gray, scaled to 0..1), or
    .npy (H, W) / (H, W, 1|3|4) kept on its own scale (color -> ITU-R 601 luma)."""
    import os

    import numpy as np

    if not os.path.exists(path):
        raise _CliError("%s: no such file" % path)
    if os.path.isdir(path):
        raise _CliError("%s: is a directory, expected an image file" % path)
    if path.lower().endswith(".npy"):
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as e:  # ValueError, OSError, EOFError, UnpicklingError ...
            raise _CliError("%s: not a readable .npy array (%s)" % (path, str(e).splitlines()[0] if str(e) else
                                                                    type(e).__name__))
        if a.dtype.kind not in "biuf":
            raise _CliError("%s: expected a numeric array, got dtype %s" % (path, a.dtype))
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        elif a.ndim == 3 and a.shape[2] in (3, 4):
            a = a[:, :, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        if a.ndim != 2 or a.size == 0:
            raise _CliError("%s: expected an image array (H, W) or (H, W, 1|3|4), got shape %s" % (path, a.shape))
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise _CliError("%s: the array holds NaN or infinite values" % path)
        return a
    try:
        from PIL import Image
    except ImportError:
        raise _CliError("reading %s needs Pillow: pip install pyconvnet[plot] (or pass a .npy array)" % path)
    try:
        with Image.open(path) as im:
            im = im.convert("L")
            a = np.asarray(im, dtype=np.float32) / 255.0
    except Exception as e:  # UnidentifiedImageError, truncated data, decompression bomb ...
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _CliError("%s: not an image Pillow can read (%s)" % (path, msg))
    if a.size == 0:
        raise _CliError("%s: empty image" % path)
    return a


def _cmd_filters(args):
    import os

    from . import filters

    names = [k.strip() for k in args.kernels.split(",") if k.strip()] if args.kernels else list(filters.KERNELS)
    bad = [k for k in names if k not in filters.KERNELS]
    if bad or not names:
        raise _CliError("--kernels: unknown kernel(s) %s; known: %s" % (", ".join(bad) or "(none given)",
                                                                        ", ".join(filters.KERNELS)))
    img = _load_gray(args.image)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise _CliError("--out %s: exists and is not a directory" % args.out)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        raise _CliError("--out %s: cannot create the directory (%s)" % (args.out, e.strerror or e))
    if not os.path.isdir(args.out) or not os.access(args.out, os.W_OK | os.X_OK):
        raise _CliError("--out %s: not a writable directory" % args.out)
    out = os.path.join(args.out, "filters.png")
    try:
        from .plot import plot_filtered_images
        plot_filtered_images(img, kernels=names, path=out,
                             title="%s through %d classical 3x3 filters" % (os.path.basename(args.image), len(names)))
    except ImportError as e:
        raise _CliError(str(e))
    except OSError as e:
        raise _CliError("%s: cannot write (%s)" % (out, e.strerror or e))
    print("wrote %s (%dx%d image, %d filters)" % (out, img.shape[0], img.shape[1], len(names)))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pyconvnet", description=__doc__)
    sub = p.add_subparsers(dest="cmd")
    pi = sub.add_parser("info", help="build and device information")
    pi.add_argument("--json", action="store_true")
    pi.set_defaults(fn=_cmd_info)
    pf = sub.add_parser("filters", help="run an image through the classical 3x3 filters, write DIR/filters.png",
                        description="Run IMAGE (PNG/JPEG/... via Pillow, or a .npy array) through the classical "
                                    "3x3 filters of pyconvnet.filters (converted to grayscale) and write one "
                                    "PNG grid, DIR/filters.png.")
    pf.add_argument("image", metavar="IMAGE")
    pf.add_argument("--out", metavar="DIR", required=True, help="output directory (created if missing)")
    pf.add_argument("--kernels", metavar="NAMES", help="comma-separated subset of: identity, edge1, edge2, edge3, "
                                                       "sharpen, box_blur, gaussian_blur (default: all)")
    pf.set_defaults(fn=_cmd_filters)
    args = p.parse_args(argv)
    if not getattr(args, "fn", None):
        p.print_help()
        return 0
    try:
        return args.fn(args)
    except _CliError as e:
        print("%s %s: error: %s" % (p.prog, args.cmd, e), file=sys.stderr)
        return 2
    except RuntimeError as e:  # e.g. a build without the kernel the command needs
        print("%s %s: error: %s" % (p.prog, args.cmd, str(e).splitlines()[0]), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
