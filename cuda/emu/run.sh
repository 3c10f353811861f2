#!/usr/bin/env bash
# run.sh — run the CUDA pooling/norm/RNN kernels on the HOST, under the CPU test
# suites, on a machine without a GPU (checks index math and semantics; not
# inter-block races, timing or anything device-specific).
#
# cuda/{pool2d,norm,rnn}.cu are rewritten by transform.py into plain C++
# (every kernel<<<grid, block>>>(args) becomes emu::launch(...); emu.h runs one
# block at a time with its threads as OpenMP threads: __syncthreads = omp
# barrier, __shared__ = static); no_cuda_emu.cpp registers them and copies each
# table's .cuda slot into its .cpu slot; a CPU-only build of that copy then runs
# tests/test_pool2d.py, test_norm.py, test_rnn.py against the float64 references.
#   cuda/emu/run.sh [pytest args]   (in the project venv, or PYTHON=...; ~4 min build + ~2 min tests on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${PCN_EMU_DIR:-/tmp/pcn_cuda_emu}
mkdir -p "$work"
rm -rf "$work/csrc" "$work/pyconvnet" "$work/tests"
cp -r "$root/CMakeLists.txt" "$root/pyproject.toml" "$root/csrc" "$root/pyconvnet" "$root/tests" "$work/"
rm -f "$work"/pyconvnet/_C*.so
mkdir -p "$work/csrc/emu"
cp "$root/cuda/emu/emu.h" "$work/csrc/emu/" && cp "$root/cuda/register.cuh" "$work/csrc/emu/register_families.h"
cp "$root/cuda/emu/no_cuda_emu.cpp" "$work/csrc/no_cuda.cpp"
for f in pool2d norm rnn; do python3 "$root/cuda/emu/transform.py" "$root/cuda/$f.cu" "$work/csrc/cpu/emu_$f.cpp"; done
PY=${PYTHON:-python3}
cmake -S "$work" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPYCONVNET_CUDA=OFF \
  -DPython_EXECUTABLE="$(command -v $PY)" \
  -Dpybind11_DIR="$($PY -c 'import pybind11; print(pybind11.get_cmake_dir())')" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j"${JOBS:-2}"
cp -f "$work"/build/_C*.so "$work/pyconvnet/"
cd "$work"  # so that `import pyconvnet` finds the emulation build
OMP_WAIT_POLICY=passive $PY -m pytest -q -p no:cacheprovider tests/test_pool2d.py tests/test_norm.py tests/test_rnn.py "$@"
