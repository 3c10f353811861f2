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
#   memcheck compute-sanitizer --tool memcheck  over every tests/cuda_smoke*.py
#   race     compute-sanitizer --tool racecheck over every tests/cuda_smoke*.py
#   bench    python bench/gpu.py
# A failing step does not stop the later ones (except that nothing runs
# without a build). The summary table is printed last. Exit status: number of
# failed steps (0 = all passed).
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

declare -a NAMES STATUS SECS NOTES
step() {  # step NAME TIMEOUT_S CMD...   (output to $LOG/NAME.log, tail shown)
  local name=$1 lim=$2; shift 2
  local t=$(date +%s)
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

  step pytest 300 $PY -m pytest -m cuda -q -p no:cacheprovider tests/
  note "$(grep -E '(passed|failed|error)' "$LOG/pytest.log" | tail -n 1 | tr -d '=' | sed 's/^ *//' | cut -c1-60)"

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
    step memcheck 240 "$SAN" --tool memcheck --error-exitcode 3 --print-limit 20 $PY "$LOG/smoke_all.py"
    note "$(grep -E 'ERROR SUMMARY' "$LOG/memcheck.log" | tr '\n' ' ' | cut -c1-60)"
    step racecheck 240 "$SAN" --tool racecheck --error-exitcode 3 --print-limit 20 $PY "$LOG/smoke_all.py"
    note "$(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$LOG/racecheck.log" | tr '\n' ' ' | cut -c1-60)"
  else
    NAMES+=(sanitizer); STATUS+=(SKIP); SECS+=(0); NOTES+=("compute-sanitizer not found")
  fi

  step bench 300 $PY bench/gpu.py
  note "see table above / bench_gpu.json"
fi

# ---- summary (last thing printed)
echo
echo "================================ gpu_check summary ================================"
grep -E '^(GPU:|case |-----|gemm|copy|conv|pool|rnn|elem)' "$LOG/bench.log" 2>/dev/null
echo "-----------------------------------------------------------------------------------"
FAILS=0
printf "%-10s %-12s %6s  %s\n" step status secs note
for i in "${!NAMES[@]}"; do
  printf "%-10s %-12s %6s  %s\n" "${NAMES[$i]}" "${STATUS[$i]}" "${SECS[$i]}" "${NOTES[$i]}"
  case "${STATUS[$i]}" in PASS|SKIP) ;; *) FAILS=$((FAILS + 1)) ;; esac
done
echo "total $(( $(date +%s) - T0 )) s; failed steps: $FAILS; logs: $LOG"
exit $FAILS
