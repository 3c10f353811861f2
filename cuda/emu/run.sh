#!/usr/bin/env bash
# run.sh — run the CUDA kernels on the HOST, under the CPU test suites, on a
# machine without a GPU (checks index math, tails and semantics against the
# float64 references; not inter-block races, timing, or anything device-specific).
#
# cuda/<family>.cu is rewritten by transform.py into plain C++ (every
# kernel<<<grid, block>>>(args) becomes emu::launch(...); emu.h runs one block at
# a time, its threads as fibers: __syncthreads and warp shuffles are real
# barriers, __shared__ is static and NaN-poisoned per block, see emu.h);
# no_cuda_emu.cpp registers them and copies each table's .cuda slot into its
# .cpu slot; a CPU-only build of that copy then runs the family's test file.
# Inline PTX (cuda/ptx.cuh: mma.sync, ldmatrix, cp.async, cvt.tf32) runs as
# ptx_emu.h's warp-collective host versions; cuda/*.cuh kernel headers are
# transformed too (csrc/cpu/emu_<name>.h). For the whole backend against an
# emulated device (allocator, streams, copies, the CUDA tests) see run_device.sh.
#
#   cuda/emu/run.sh [pytest args]      (project venv, or PYTHON=...; 2 cores:
#                                       ~4 min first build, ~1.5 min of tests)
#   EMU_FAMILIES="conv2d loss" cuda/emu/run.sh -k "not slow"
# Families (test file): gemm pool2d norm rnn conv2d elementwise loss optim (tests/test_<family>.py;
# gemm also cuda/emu/test_emu_gemm.py (the TF32/BF16 tensor-core kernels and ptx_emu.h itself)
# and test_emu_gemm_tc3.py (every path of the multistage v3 kernels); rnn also
# test_emu_rnn_paths.py (the split-K step product's tiles and splits));
# default: all eight; plus cuda/emu/test_emu_paths.py (shapes for the launch
# paths the CPU test files miss). Only the listed families' kernels are emulated; the rest
# stay on the CPU kernels. EMU_TESTS="tests/test_x.py ..." overrides the test files.
# The build in $PCN_EMU_DIR (default /tmp/pcn_cuda_emu) is incremental: only
# changed files are copied, so a rerun after a .cu fix recompiles that file.
# EMU_COVERAGE=1: list every launch site of the emulated .cu files with its
# launch count (and template arguments) after the tests (cuda/emu/coverage.py).
# EMU_COMPARE=1: after the tests, cuda/emu/compare.py checks the emulated kernels
# against the CPU kernels themselves (bitwise where the .cu promises it; needs
# elementwise, loss and optim emulated). PCN_EMU_OFF=1 at run time: the module
# keeps the CPU kernels.
# EMU_ASAN=1: the same under AddressSanitizer (own build dir, /tmp/pcn_cuda_emu_asan):
# a kernel reading or writing outside a tensor (tails, float4 runs, halo
# indices) stops the run with the faulting line.
# JOBS (default 2): build parallelism. PCN_EMU_SMS (default 132): SM count the
# kernels' split heuristics see.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${PCN_EMU_DIR:-/tmp/pcn_cuda_emu${EMU_ASAN:+_asan}}
cxxflags=""
if [ -n "${EMU_ASAN:-}" ]; then cxxflags="-fsanitize=address -fno-omit-frame-pointer"; fi
fams=${EMU_FAMILIES:-gemm pool2d norm rnn conv2d elementwise loss optim}
PY=${PYTHON:-python3}
mkdir -p "$work"
stage="$work/.stage"
rm -rf "$stage" && mkdir -p "$stage/csrc/emu" "$stage/csrc/cpu"
cp -r "$root/CMakeLists.txt" "$root/pyproject.toml" "$root/csrc" "$root/pyconvnet" "$root/tests" "$stage/"
rm -f "$stage"/pyconvnet/_C*.so
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
cp "$root/cuda/emu/emu.h" "$root/cuda/emu/ptx_emu.h" "$root/cuda/emu/ptx_selftest.h" "$stage/csrc/emu/" && cp "$root/cuda/register.cuh" "$stage/csrc/emu/register_families.h"
# Kernel headers (e.g. gemm_kernels.cuh) -> csrc/cpu/emu_<name>.h; ptx.cuh is replaced by ptx_emu.h.
for h in "$root"/cuda/*.cuh; do
  b=$(basename "$h" .cuh)
  case $b in check|scratch|stream|register|ptx) continue ;; esac
  $PY "$root/cuda/emu/transform.py" "$h" "$stage/csrc/cpu/emu_$b.h"
  rm -f "$stage/csrc/cpu/emu_$b.sites"
done
cp "$root/cuda/emu/no_cuda_emu.cpp" "$stage/csrc/no_cuda.cpp"
cp "$root"/cuda/emu/test_emu_*.py "$stage/tests/"
: >"$stage/csrc/emu/families.h"
tests=()
for f in $fams; do
  [ -f "$root/cuda/$f.cu" ] || { echo "run.sh: unknown family $f" >&2; exit 2; }
  echo "#define PCN_EMU_$(echo "$f" | tr a-z A-Z) 1" >>"$stage/csrc/emu/families.h"
  $PY "$root/cuda/emu/transform.py" "$root/cuda/$f.cu" "$stage/csrc/cpu/emu_$f.cpp"
  tests+=("tests/test_$f.py")
  if [ "$f" = gemm ]; then tests+=("tests/test_emu_gemm.py" "tests/test_emu_gemm_tc3.py"); fi
  if [ "$f" = rnn ]; then tests+=("tests/test_emu_rnn_paths.py"); fi
done
tests+=("tests/test_emu_paths.py")
source "$root/cuda/emu/build_stage.sh"
if [ -n "${EMU_TESTS:-}" ]; then read -r -a tests <<<"$EMU_TESTS"; fi
cd "$work"  # so that `import pyconvnet` finds the emulation build
if [ -n "${EMU_COVERAGE:-}" ]; then rm -f "$work/coverage.txt"; export PCN_EMU_COVERAGE="$work/coverage.txt"; fi
rc=0
if [ -n "${EMU_ASAN:-}" ]; then
  LD_PRELOAD="$(g++ -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    $PY -m pytest -q -p no:cacheprovider "${tests[@]}" "$@" || rc=$?
else
  $PY -m pytest -q -p no:cacheprovider "${tests[@]}" "$@" || rc=$?
fi
if [ -n "${EMU_COVERAGE:-}" ]; then $PY "$root/cuda/emu/coverage.py" "$work/csrc/cpu" "$work/coverage.txt"; fi
if [ -n "${EMU_COMPARE:-}" ]; then
  unset PCN_EMU_COVERAGE
  PCN_EMU_OFF=1 PYTHONPATH="$work" $PY "$root/cuda/emu/compare.py" dump "$work/cpu.npz"
  PYTHONPATH="$work" $PY "$root/cuda/emu/compare.py" dump "$work/emu.npz"
  $PY "$root/cuda/emu/compare.py" compare "$work/cpu.npz" "$work/emu.npz" || rc=$?
fi
exit $rc
