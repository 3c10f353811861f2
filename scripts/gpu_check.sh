#!/usr/bin/env bash
# One command on a GPU box (no network; toolchain, pybind11, scikit-build-core,
# numpy, pytest and PyTorch preinstalled), from the repository root:
#
#     bash scripts/gpu_check.sh
#
# Steps, each under `timeout` and logged (to $OUT when set, else build/gpu_check/):
#   build    pip install --no-build-isolation --no-deps . with PYCONVNET_CUDA=ON
#   info     python -m pyconvnet info
#   pytest   python -m pytest -m cuda -q tests/
#   bench    python bench/gpu.py
#   train    python bench/gpu_train.py (CPU-vs-GPU training equivalence; the
#            CLI's recipes on full MNIST when $PCN_MNIST, default build/mnist,
#            holds the IDX files: copy ../shared/data/mnist there and carry it)
#   memcheck compute-sanitizer --tool memcheck  over every tests/cuda_smoke*.py
#   race     compute-sanitizer --tool racecheck over every tests/cuda_smoke*.py
# A failing step does not stop the later ones (except that nothing runs
# without a build). The summary table is printed last. Exit status: number of
# failed steps (0 = all passed).
#
# Through the device tool (a copy of the working tree, no network, 600 s per
# call): first `mkdir -p build && cp -r ../shared/data/mnist build/mnist` here,
# then run `bash scripts/gpu_check.sh` with carry ["build/mnist"] and a timeout
# of 600 s; the logs and bench_gpu.json come back under $OUT.
#
# Time: the whole script keeps to PCN_GPU_BUDGET seconds (default 540, under
# the device tool's 600 s per call): each step's timeout is cut to what is
# left, and a step that would get under 20 s is skipped (SKIP(budget)), so the
# summary always prints. GPU_CHECK_STEPS="pytest bench" runs only those steps
# after the (incremental) build, for a rerun on a warm machine.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
LOG=${OUT:-$ROOT/build/gpu_check}
mkdir -p "$LOG"
export PYCONVNET_CUDA=ON
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-16}
export PYTHONUNBUFFERED=1
# Seen on the lent H100 box (2026-11-27): its g++ (/opt/gcc wrapper, GCC 13.3)
# links libstdc++ statically into _C.so and exports the copy's std:: symbols;
# with numpy/torch's libstdc++.so loaded too, every C++ throw (even a plain
# ValueError) killed the process with SIGSEGV. Keeping the static copy private
# fixes it (verified there). Override with PCN_GPU_LDFLAGS="" to test without.
PCN_GPU_LDFLAGS=${PCN_GPU_LDFLAGS--static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL}
T0=$(date +%s)
BUDGET=${PCN_GPU_BUDGET:-540}
WANT=${GPU_CHECK_STEPS:-}
MNIST=${PCN_MNIST:-$ROOT/build/mnist}

declare -a NAMES STATUS SECS NOTES
step() {  # step NAME TIMEOUT_S CMD...   (output to $LOG/NAME.log, tail shown)
  local name=$1 lim=$2; shift 2
  local t=$(date +%s)
  if [ -n "$WANT" ] && [ "$name" != build ] && [[ " $WANT " != *" $name "* ]]; then
    NAMES+=("$name"); STATUS+=(SKIP); SECS+=(0); NOTES+=("not in GPU_CHECK_STEPS"); return 0
  fi
  local left=$(( BUDGET - (t - T0) - 15 ))
  if [ $left -lt 20 ]; then
    echo "==== [$name] skipped: ${left}s left of PCN_GPU_BUDGET=${BUDGET}"
    NAMES+=("$name"); STATUS+=("SKIP(budget)"); SECS+=(0); NOTES+=(""); return 0
  fi
  [ $left -lt $lim ] && lim=$left
  echo "==== [$name] $* (timeout ${lim}s)"
  timeout -k 10 "$lim" "$@" >"$LOG/$name.log" 2>&1
  local rc=$?
  tail -n 15 "$LOG/$name.log"
  local st=PASS
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then st=TIMEOUT; elif [ $rc -ne 0 ]; then st="FAIL($rc)"; fi
  NAMES+=("$name"); STATUS+=("$st"); SECS+=($(( $(date +%s) - t ))); NOTES+=("")
  return $rc
}
note() { NOTES[$((${#NOTES[@]} - 1))]="$1"; }

# ---- environment (never fails the run)
{
  echo "date: $(date -u)"; uname -a
  timeout 20 nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"
  command -v nvcc && timeout 20 nvcc --version | tail -n 2
  $PY -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)" 2>&1
} >"$LOG/env.log" 2>&1
cat "$LOG/env.log"

# ---- build + install (the .so is also copied into ./pyconvnet so that
# `python -m ...` from the repo root, which imports ./pyconvnet, finds it)
step build 420 env $PY -m pip install --no-build-isolation --no-deps -v -C build-dir=build/gpu \
  -C "cmake.define.CMAKE_MODULE_LINKER_FLAGS=$PCN_GPU_LDFLAGS" .
BUILD_RC=$?
if [ $BUILD_RC -eq 0 ]; then
  SO=$(cd / && $PY -c "import glob, os, pyconvnet; print(glob.glob(os.path.join(os.path.dirname(pyconvnet.__file__), '_C*.so'))[0])" 2>>"$LOG/build.log")
  if [ -n "$SO" ] && [ -f "$SO" ]; then
    rm -f "$ROOT"/pyconvnet/_C*.so && cp -f "$SO" "$ROOT/pyconvnet/"
    note "$(grep -m1 -oE 'CUDA +: ON.*' "$LOG/build.log" | head -c 60)"
    # A process that dies on the first C++ exception fails every error test:
    # check that once, up front, and say so plainly.
    if ! (cd / && timeout 60 $PY -c "import pyconvnet as p
try:
    p.empty(3, -1)
except ValueError:
    print('exceptions ok')" 2>&1 | grep -q "exceptions ok"); then
      echo "!!!! C++ exceptions crash the extension on this box (see PCN_GPU_LDFLAGS in this script)"
      STATUS[0]="FAIL(throw)"
    fi
  else
    STATUS[0]="FAIL(no .so)"; BUILD_RC=1
  fi
fi

if [ $BUILD_RC -eq 0 ]; then
  step info 60 $PY -m pyconvnet info
  note "$(grep -m1 -E '^\|  *0 ' "$LOG/info.log" | cut -c1-60)"

  step pytest 180 $PY -m pytest -m cuda -q -p no:cacheprovider tests/
  note "$(grep -E '(passed|failed|error|skipped)' "$LOG/pytest.log" | tail -n 1 | tr -d '=' | sed 's/^ *//' | cut -c1-60)"

  step bench 240 $PY bench/gpu.py
  note "$(grep -cE ' ok (TFLOP|GB|img)' "$LOG/bench.log") ok, $(grep -cE 'FAIL|ERROR' "$LOG/bench.log") failed (table above)"

  step train 150 $PY bench/gpu_train.py --data "$MNIST"
  note "$(grep -E '^train_' "$LOG/train.log" | awk '{print $1, $6}' | tr '\n' ' ' | cut -c1-60)"

  SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -n1)
  if [ -n "$SAN" ]; then
    # every kernel family has a tiny smoke script (tests/cuda_smoke*.py)
    cat > "$LOG/smoke_all.py" <<'EOS'
import glob, os, runpy, sys
here = os.getcwd()
for f in sorted(glob.glob(os.path.join(here, "tests", "cuda_smoke*.py"))):
    print("== smoke", os.path.basename(f), flush=True)
    sys.argv = [f]
    runpy.run_path(f, run_name="__main__")
EOS
    step memcheck 90 "$SAN" --tool memcheck --error-exitcode 3 --print-limit 20 $PY "$LOG/smoke_all.py"
    note "$(grep -E 'ERROR SUMMARY' "$LOG/memcheck.log" | tr '\n' ' ' | cut -c1-60)"
    step racecheck 90 "$SAN" --tool racecheck --error-exitcode 3 --print-limit 20 $PY "$LOG/smoke_all.py"
    note "$(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$LOG/racecheck.log" | tr '\n' ' ' | cut -c1-60)"
  else
    NAMES+=(sanitizer); STATUS+=(SKIP); SECS+=(0); NOTES+=("compute-sanitizer not found")
  fi

fi

# ---- summary (last thing printed)
echo
echo "================================ gpu_check summary ================================"
grep -E '^(GPU:|case |-----|gemm|copy|conv|maxpool|lstm|gru|train)' "$LOG/bench.log" 2>/dev/null
grep -E 'max relative loss|^train_' "$LOG/train.log" 2>/dev/null
echo "-----------------------------------------------------------------------------------"
FAILS=0
printf "%-10s %-12s %6s  %s\n" step status secs note
for i in "${!NAMES[@]}"; do
  printf "%-10s %-12s %6s  %s\n" "${NAMES[$i]}" "${STATUS[$i]}" "${SECS[$i]}" "${NOTES[$i]}"
  case "${STATUS[$i]}" in PASS|SKIP) ;; *) FAILS=$((FAILS + 1)) ;; esac
done
echo "total $(( $(date +%s) - T0 )) s; failed steps: $FAILS; logs: $LOG"
exit $FAILS
