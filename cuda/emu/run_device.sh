#!/usr/bin/env bash
# run_device.sh — the whole CUDA backend built for the HOST against an emulated
# CUDA device, then the CUDA tests run on it (no GPU needed).
#
#   cuda/emu/run_device.sh [pytest args]        (project venv, or PYTHON=...)
#   cuda/emu/run_device.sh -k training -x       (args go to pytest)
#   EMU_TESTS="tests/test_cuda.py" cuda/emu/run_device.sh
#
# What is built: runtime.cu (device queries, caching allocator, host<->device
# copies, registration), stream.cu and every kernel family .cu (gemm, conv2d,
# pool2d, norm, rnn, elementwise, loss, optim), rewritten by
# `transform.py --device` and compiled with -DPCN_EMU_DEVICE=1, so emu.h pulls
# in cuda_runtime_emu.h (the emulated runtime) and ptx_emu.h (the inline PTX).
# device_main.cpp replaces csrc/no_cuda.cpp. pyconvnet then sees ONE device:
# "pyconvnet host emulation (not a GPU)", compute capability 9.0,
# PCN_EMU_MEM bytes (default 2G), PCN_EMU_SMS SMs (default 132); every op on a
# "cuda" tensor runs the CUDA kernel under the fiber emulator (emu.h).
#
# What runs: `pytest -m cuda tests/` (tests/test_cuda*.py and every test with
# the `cuda` device parameter), cuda/emu/test_emu_device.py (the emulated
# runtime itself: out-of-memory path, host access to device memory faults,
# pointer attributes, copies per training step, device-resident training vs
# CPU, regressions), the Keras test files with every model compiled onto the
# device (emu_force_device.py; EMU_KERAS=full|0), tests/mpi/keras_fit.py on 2
# MPI ranks with the models on the device (EMU_MPI=0 skips), then
# tests/cuda_smoke*.py as scripts. EMU_TESTS overrides the pytest files (the -m cuda filter then applies
# only when EMU_MARK=cuda is set); EMU_SMOKE=0 skips the smoke scripts.
#
# What it checks beyond run.sh (kernels only): the device path users hit —
# Tensor.to("cuda"), the caching allocator and its out-of-memory retry, the
# stream plumbing, every host<->device copy (direction and bounds against live
# allocations), pyconvnet.info(), model.compile(device="cuda") training. Device
# memory is an mmap'd arena that is PROT_NONE except inside emulated kernels and
# copies: host code that dereferences a device pointer (e.g. a .numpy() view of
# a CUDA tensor) dies with "HOST CODE TOUCHED DEVICE MEMORY" and the Python
# stack (PCN_EMU_PROTECT=0 turns the protection off). PCN_EMU_COUNT=1 prints
# the launch and transfer counts at exit.
#
# What it cannot check: inter-block races and ordering (blocks run one at a
# time), asynchrony (streams are synchronous, so a missing stream sync or an
# event between streams never shows), timing / occupancy / register pressure,
# the real memory model (caches, coherence, atomics under contention), host
# pointers passed to kernels (host memory stays readable), the CUDA libm's ulps,
# nvcc's FMA contraction, and anything that needs torch.cuda (torch here is a
# CPU build: those interop tests are skipped by emu_device_plugin.py).
#
# Emulator knobs (run time): PCN_EMU_BLOCK_ORDER=reverse|shuffle (blocks of a
# grid in another order: order-dependent kernels show), PCN_EMU_ORDER=forward|
# reverse (thread order inside a block), PCN_EMU_SMS, PCN_EMU_MEM, PCN_EMU_PROTECT,
# PCN_EMU_TRACE=1|stack, PCN_EMU_COUNT=1, PCN_EMU_VERBOSE=1 (every API error).
#
# Build in $PCN_EMU_DIR (default /tmp/pcn_cuda_emu_dev), incremental like
# run.sh (~4 min first build on 2 cores). JOBS (default 2). EMU_ASAN=1: under
# AddressSanitizer (own build dir; arena protection off, ASan owns SIGSEGV).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${PCN_EMU_DIR:-/tmp/pcn_cuda_emu_dev${EMU_ASAN:+_asan}}
cxxflags="-DPCN_EMU_DEVICE=1"
if [ -n "${EMU_ASAN:-}" ]; then cxxflags="$cxxflags -fsanitize=address -fno-omit-frame-pointer"; fi
PY=${PYTHON:-python3}
mkdir -p "$work"
stage="$work/.stage"
rm -rf "$stage" && mkdir -p "$stage/csrc/emu" "$stage/csrc/cpu"
cp -r "$root/CMakeLists.txt" "$root/pyproject.toml" "$root/csrc" "$root/pyconvnet" "$root/tests" "$stage/"
rm -f "$stage"/pyconvnet/_C*.so
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
cp "$root/cuda/emu/emu.h" "$root/cuda/emu/ptx_emu.h" "$root/cuda/emu/cuda_runtime_emu.h" "$stage/csrc/emu/"
cp "$root/cuda/register.cuh" "$stage/csrc/emu/register_families.h"
cp "$root/cuda/emu/device_main.cpp" "$stage/csrc/no_cuda.cpp"
cp "$root/cuda/emu/test_emu_device.py" "$root/cuda/emu/emu_device_plugin.py" "$root/cuda/emu/emu_force_device.py" "$stage/tests/"
for h in "$root"/cuda/*.cuh; do
  b=$(basename "$h" .cuh)
  case $b in register|ptx) continue ;; esac
  $PY "$root/cuda/emu/transform.py" --device "$h" "$stage/csrc/cpu/emu_$b.h"
  rm -f "$stage/csrc/cpu/emu_$b.sites"
done
for f in "$root"/cuda/*.cu; do
  b=$(basename "$f" .cu)
  $PY "$root/cuda/emu/transform.py" --device "$f" "$stage/csrc/cpu/emu_$b.cpp"
done
source "$root/cuda/emu/build_stage.sh"
cd "$work"  # so that `import pyconvnet` finds the emulation build
export PYTHONPATH="$work:$work/tests${PYTHONPATH:+:$PYTHONPATH}"
run_py() {
  if [ -n "${EMU_ASAN:-}" ]; then
    PCN_EMU_PROTECT=0 LD_PRELOAD="$(g++ -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$PY" "$@"
  else
    "$PY" "$@"
  fi
}
rc=0
if [ -n "${EMU_TESTS:-}" ]; then
  read -r -a tests <<<"$EMU_TESTS"
  mark=()
  if [ -n "${EMU_MARK:-}" ]; then mark=(-m "$EMU_MARK"); fi
  run_py -m pytest -q -p no:cacheprovider -p emu_device_plugin "${mark[@]}" "${tests[@]}" "$@" || rc=$?
else
  # (under ASan only the CUDA test files: collecting all of tests/ imports
  # matplotlib, whose extension aborts under the preloaded ASan runtime)
  if [ -n "${EMU_ASAN:-}" ]; then targets=(tests/test_cuda*.py); else targets=(tests/); fi
  run_py -m pytest -q -p no:cacheprovider -p emu_device_plugin -m cuda "${targets[@]}" "$@" || rc=$?
  run_py -m pytest -q -p no:cacheprovider -p emu_device_plugin tests/test_emu_device.py "$@" || rc=$?
  # The Keras test files with every compiled model on the device (emu_force_device.py);
  # EMU_KERAS=full adds the slower snippet/slow files, EMU_KERAS=0 skips.
  if [ "${EMU_KERAS:-1}" != 0 ]; then
    k=(tests/test_keras_training.py tests/test_keras_pydataset.py tests/test_keras_layers.py)
    # the CI-runnable files of the Keras audit: new layers, RNN options, training API, applications
    for f in tests/test_keras_layers_new.py tests/test_keras_layers_regress.py tests/test_keras_rnn_regress.py \
             tests/test_keras_training_regress.py tests/test_applications_keras.py; do
      if [ -f "$f" ]; then k+=("$f"); fi
    done
    if [ "${EMU_KERAS:-1}" = full ]; then k+=(tests/test_keras_snippets.py tests/test_keras_slow.py); fi
    run_py -m pytest -q -p no:cacheprovider -p emu_force_device "${k[@]}" "$@" || rc=$?
  fi
fi
# Distributed fit on 2 ranks with the models on the device (needs mpiexec + mpi4py).
mpx="$(dirname "$(command -v "$PY")")/mpiexec"
if [ -z "${EMU_TESTS:-}" ] && [ "${EMU_MPI:-1}" != 0 ] && [ -x "$mpx" ] && [ -z "${EMU_ASAN:-}" ]; then
  echo "== tests/mpi/keras_fit.py on 2 ranks, models on the emulated device"
  OMP_NUM_THREADS=1 timeout 600 "$mpx" -n 2 "$PY" "$root/cuda/emu/force_device_run.py" tests/mpi/keras_fit.py all \
    || { echo "run_device.sh: keras_fit on 2 ranks failed"; rc=1; }
fi
if [ "${EMU_SMOKE:-1}" != 0 ] && [ -z "${EMU_TESTS:-}" ]; then
  for s in tests/cuda_smoke*.py; do
    echo "== $s"
    run_py "$s" || { echo "run_device.sh: $s failed"; rc=1; }
  done
fi
exit $rc
