#!/usr/bin/env bash
# Build (and with `run`, run) the standalone SGEMM lab. Not part of the
# extension. cuBLAS is linked when found (CUDA toolkit, or the nvidia-cublas
# wheel that PyTorch brings), for the "% of cuBLAS" line.
#   bash cuda/dev/build.sh            # build into build/lab/
#   bash cuda/dev/build.sh run [M N K]  # build, then run every variant
set -euo pipefail
cd "$(dirname "$0")"
OUTD=../../build/lab
mkdir -p "$OUTD"
NVCC=${NVCC:-nvcc}
ARCH=${ARCH:-90}
FLAGS=(-O3 -std=c++17 -lineinfo "--generate-code=arch=compute_${ARCH},code=[compute_${ARCH},sm_${ARCH}]")
CUBLAS=()
# Candidates: the toolkit, then the pip wheels (nvidia-cublas-cu12: nvidia/cublas/lib;
# nvidia-cublas 13: nvidia/cu13/lib).
WHEEL_DIRS=$(python3 -c 'import nvidia, os
for p in nvidia.__path__:
    for sub in ("cublas/lib", "cu13/lib", "cu12/lib"):
        print(os.path.join(p, sub))' 2>/dev/null || true)
for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" $WHEEL_DIRS; do
  if [ -n "$d" ] && ls "$d"/libcublas.so* >/dev/null 2>&1; then
    inc="$(dirname "$d")/include"
    lib=$(ls "$d"/libcublas.so* | head -n1)
    # -Xlinker: nvcc refuses a versioned name (the wheel has only libcublas.so.13)
    CUBLAS=(-DPCN_LAB_CUBLAS -I"$inc" -Xlinker "$lib" -Xlinker -rpath -Xlinker "$d")
    break
  fi
done
[ ${#CUBLAS[@]} -gt 0 ] && echo "cuBLAS: ${CUBLAS[*]: -5:1}" || echo "cuBLAS: not found (no comparison line)"
pids=()
for f in [0-9][0-9]_*.cu; do
  "$NVCC" "${FLAGS[@]}" "${CUBLAS[@]}" -o "$OUTD/${f%.cu}" "$f" &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ $fail -eq 0 ] || { echo "lab build failed"; exit 1; }
echo "built: $(ls "$OUTD" | tr '\n' ' ')"
if [ "${1:-}" = run ]; then
  shift
  rc=0
  for f in [0-9][0-9]_*.cu; do timeout 120 "$OUTD/${f%.cu}" "$@" || rc=1; done
  exit $rc
fi
