"""Shared by the examples: a --quick flag (tests run every example that way)."""
import argparse
import os


def parse(description, **defaults):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", default=os.environ.get("PYCONVNET_EXAMPLES_QUICK") == "1",
                    help="a few steps on a little data (used by the test suite)")
    for k, v in defaults.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    return ap.parse_args()
