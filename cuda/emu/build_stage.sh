# build_stage.sh — sourced by run.sh and run_device.sh once they have staged the
# transformed tree in $stage: sync it into $work (sync_tree.py), configure once
# (CPU-only CMake build, $cxxflags), build with $JOBS, and put the module into
# $work/pyconvnet. Uses: root, stage, work, cxxflags, PY.
$PY "$root/cuda/emu/sync_tree.py" "$stage" "$work"
rm -rf "$stage"
if [ ! -f "$work/build/build.ninja" ]; then
  cmake -S "$work" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPYCONVNET_CUDA=OFF \
    -DCMAKE_CXX_FLAGS="$cxxflags" \
    -DPython_EXECUTABLE="$(command -v $PY)" \
    -Dpybind11_DIR="$($PY -c 'import pybind11; print(pybind11.get_cmake_dir())')" >"$work/configure.log" 2>&1 \
    || { cat "$work/configure.log"; exit 1; }
fi
cmake --build "$work/build" -j"${JOBS:-2}"
cp -f "$work"/build/_C*.so "$work/pyconvnet/"
