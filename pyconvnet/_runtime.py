"""Build and runtime information, thread control."""
import os

from . import _C


def info():
    """A dict describing this installation.

    Keys: version, openmp_threads, simd (the path the CPU kernels use now),
    simd_best, cuda_compiled, cuda_arch, cuda_runtime, cuda_devices (a list of
    dicts: index, name, total_memory, free_memory, compute_capability,
    multiprocessors; empty when no GPU or driver is present).
    """
    b = _C.build_info()
    return {
        "version": b["version"],
        "openmp_threads": _C.get_num_threads(),
        "cpu_cores": _C.num_procs(),
        "simd": _C.simd_level(),
        "simd_best": _C.best_simd_level(),
        "cuda_compiled": b["cuda_compiled"],
        "cuda_arch": b["cuda_arch"],
        "cuda_runtime": b["cuda_runtime"],
        "cuda_driver": _C.cuda_driver_version(),
        "cuda_devices": _C.cuda_devices(),
        "compiler": b.get("compiler", ""),
    }


def devices():
    """Device names usable with ``Tensor.to``: ['cpu', 'cuda:0', ...]."""
    return ["cpu"] + ["cuda:%d" % d["index"] for d in _C.cuda_devices()]


def set_num_threads(n):
    """Set the number of OpenMP threads the CPU kernels use (default: all cores)."""
    n = int(n)
    _C.set_num_threads(n)


def get_num_threads():
    """Number of OpenMP threads the CPU kernels use."""
    return _C.get_num_threads()


def simd_level():
    """The SIMD path the CPU kernels run: 'avx512', 'avx2' or 'base'."""
    return _C.simd_level()


def format_info(d=None):
    """The info() dict as a small table, in the manner of nvidia-smi's header."""
    d = d or info()
    w = 84

    def row(text):
        return "| " + text.ljust(w - 4)[: w - 4] + " |"

    line = "+" + "-" * (w - 2) + "+"
    rows = [line,
            row("pyconvnet %s   SIMD: %s (best %s)   OpenMP threads: %d of %d cores"
                % (d["version"], d["simd"], d["simd_best"], d["openmp_threads"], d["cpu_cores"])),
            row("CUDA: %s   arch: %s  runtime %s  driver %s"
                % ("yes" if d["cuda_compiled"] else "no", d["cuda_arch"] or "-",
                   _ver(d["cuda_runtime"]), _ver(d["cuda_driver"]))),
            line]
    if d["cuda_devices"]:
        rows.append(row("GPU  Name                              Memory used / total       CC    SMs"))
        rows.append(line)
        for g in d["cuda_devices"]:
            used = (g["total_memory"] - g["free_memory"]) // 2**20
            tot = g["total_memory"] // 2**20
            rows.append(row("%3d  %-32s %7d MiB / %7d MiB  %d.%d  %4d"
                            % (g["index"], g["name"][:32], used, tot, g["compute_capability"][0],
                               g["compute_capability"][1], g["multiprocessors"])))
        rows.append(line)
    else:
        rows.append(row("No CUDA devices visible."))
        rows.append(line)
    return "\n".join(rows)


def _ver(v):
    if not v:
        return "-"
    return "%d.%d" % (v // 1000, (v % 1000) // 10)


if "PYCONVNET_NUM_THREADS" in os.environ:
    set_num_threads(int(os.environ["PYCONVNET_NUM_THREADS"]))
