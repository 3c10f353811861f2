#!/usr/bin/env bash
# Fast edit loop: configure + build the extension in build/dev and copy it into
# pyconvnet/, so `PYTHONPATH=. python -m pytest` runs against the working tree.
#   PYCONVNET_CUDA=OFF scripts/dev_build.sh     (default here: OFF, the quick build)
#   PYCONVNET_CUDA=ON  scripts/dev_build.sh     (also compiles cuda/*.cu)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mode=${PYCONVNET_CUDA:-OFF}
bdir=build/dev-${mode,,}
mkdir -p build
cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPYCONVNET_CUDA="$mode" \
  -DPython_EXECUTABLE="$(command -v $PY)" \
  -Dpybind11_DIR="$($PY -c 'import pybind11; print(pybind11.get_cmake_dir())')" >"$bdir.configure.log" 2>&1 \
  || { cat "$bdir.configure.log"; exit 1; }
grep -E "pyconvnet|C\+\+ compiler|OpenMP  |SIMD|CUDA  " "$bdir.configure.log" | sed 's/^-- //' || true
cmake --build "$bdir" -j"${JOBS:-2}"
# copy then rename: a running process keeps its mapping of the old file
for so in "$bdir"/_C*.so; do cp -f "$so" "pyconvnet/.$(basename "$so").tmp" && mv -f "pyconvnet/.$(basename "$so").tmp" "pyconvnet/$(basename "$so")"; done
echo "dev build ok: $(ls pyconvnet/_C*.so)"
