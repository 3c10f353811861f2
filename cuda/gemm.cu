// gemm.cu — SGEMM on the GPU, registered into gemm_table.cuda.
//
// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, row-major, with
// A(m,k) = transA ? A[k*lda + m] : A[m*lda + k] and
// B(k,n) = transB ? B[n*ldb + k] : B[k*ldb + n]. beta == 0: C is write-only
// (never read, so NaN poison in C does not leak into the result).
//
// Three kernels, chosen by the matmul precision (cuda_api.h):
//  - Highest: fp32 SIMT. 128x128x8 block tile, 256 threads, 8x8 outputs per
//    thread in registers, shared memory double-buffered (global loads for tile
//    k+1 are issued before the FMAs of tile k).
//  - High: TF32 tensor cores, mma.sync.m16n8k8 (fp32 accumulate).
//  - Medium: BF16 tensor cores, mma.sync.m16n8k16 (fp32 accumulate).
//    Both tensor-core kernels: 128x128x32 block tile, 8 warps (2x4), each warp
//    64x32; operands are converted (cvt.rna.tf32 / round-to-nearest bf16) while
//    staged into shared memory, stored k-contiguous ([m][k], [n][k]) with a
//    row pad that makes the fragment loads bank-conflict free.
//
// Global loads are float4 when the leading dimension is a multiple of 4, the
// base pointer is 16-byte aligned and the 4-run lies inside the matrix;
// otherwise scalar with bounds checks (zeros outside), so any shape works.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "../csrc/cuda_api.h"
#include "../csrc/ops/gemm.h"
#include "check.cuh"
#include "gemm_kernels.cuh"
#include "register.cuh"
#include "stream.cuh"

namespace pcn {
namespace {
using namespace gemm_kernels;

// ---------------------------------------------------------------- host side
using KernelFn = void (*)(int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                          float*, int64_t, bool, bool, int64_t);

template <bool TA, bool TB>
KernelFn pick(MatmulPrecision prec) {
  switch (prec) {
    case MatmulPrecision::High: return sgemm_tc<TA, TB, false>;
    case MatmulPrecision::Medium: return sgemm_tc<TA, TB, true>;
    default: return sgemm_simt<TA, TB>;
  }
}

void cuda_gemm(const GemmParams& p, const float* A, const float* B, float* C) {
  if (p.M <= 0 || p.N <= 0) return;
  const int dev = cuda::device_of(C);
  cudaStream_t s = cuda::activate(dev);
  const MatmulPrecision prec = get_matmul_precision();
  KernelFn k = p.transA ? (p.transB ? pick<true, true>(prec) : pick<true, false>(prec))
                        : (p.transB ? pick<false, true>(prec) : pick<false, false>(prec));
  // Both kernels use 128x128 block tiles.
  const int64_t tiles_n = (p.N + 127) / 128, tiles_m = (p.M + 127) / 128;
  if (tiles_n > int64_t(INT32_MAX))
    PCN_THROW(ValueError, "matmul: N=" << p.N << " is too large for the CUDA kernel");
  const bool vecA = p.lda % 4 == 0 && (reinterpret_cast<uintptr_t>(A) & 15) == 0;
  const bool vecB = p.ldb % 4 == 0 && (reinterpret_cast<uintptr_t>(B) & 15) == 0;
  // gridDim.y is limited to 65535: launch row bands of at most that many tiles.
  constexpr int64_t kMaxY = 65535;
  for (int64_t t0 = 0; t0 < tiles_m; t0 += kMaxY) {
    const int64_t ty = std::min(kMaxY, tiles_m - t0);
    const dim3 grid{unsigned(tiles_n), unsigned(ty), 1u};
    k<<<grid, kThreads, 0, s>>>(p.M, p.N, p.K, p.alpha, A, p.lda, B, p.ldb, p.beta, C, p.ldc, vecA, vecB,
                               t0 * 128);
    PCN_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace

void register_gemm_cuda() { gemm_table.cuda = cuda_gemm; }

}  // namespace pcn
