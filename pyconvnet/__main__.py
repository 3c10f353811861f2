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


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pyconvnet", description=__doc__)
    sub = p.add_subparsers(dest="cmd")
    pi = sub.add_parser("info", help="build and device information")
    pi.add_argument("--json", action="store_true")
    pi.set_defaults(fn=_cmd_info)
    args = p.parse_args(argv)
    if not getattr(args, "fn", None):
        p.print_help()
        return 0
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
