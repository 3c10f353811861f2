// gemm.cu — SGEMM on the GPU, registered into gemm_table.cuda.
//
// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, row-major, with
// A(m,k) = transA ? A[k*lda + m] : A[m*lda + k] and
// B(k,n) = transB ? B[n*ldb + k] : B[k*ldb + n]. beta == 0: C is write-only
// (never read, so NaN poison in C does not leak into the result).
//
// Kernels (cuda/gemm_kernels.cuh), chosen by the matmul precision (cuda_api.h):
//  - Highest: fp32 SIMT (sgemm_simt). 128x128x8 block tile, 256 threads, 8x8
//    outputs per thread in registers, shared memory double-buffered (global
//    loads for tile k+1 are issued before the FMAs of tile k).
//  - High: TF32 tensor cores, mma.sync.m16n8k8 (fp32 accumulate); operands
//    rounded with cvt.rna.tf32 (as cuBLAS does; truncation doubles the error).
//  - Medium: BF16 tensor cores, mma.sync.m16n8k16 (fp32 accumulate); fp32
//    inputs rounded to nearest-even bf16 inside the kernel.
//  For High/Medium (all NOT YET TIMED ON A GPU for v3: nvcc sm_90 + the host
//  emulation, cuda/emu/, check them; predictions in cuda/dev/NOTES.md):
//   v3 TF32 (sgemm_tc3<TA, TB, false>): 128x256x32 block tile, 8 warps of
//    64x64; a 4-stage cp.async pipeline copies raw fp32 tiles into 192 KiB of
//    dynamic shared memory, laid out as in global memory ([row][k] or
//    [k][row]) with an XOR swizzle of the 16-byte chunks instead of padding
//    (conflict free for every access: cuda/dev/bank_check.py); one
//    __syncthreads per k tile; fragments by ldmatrix.x4 (k-contiguous operand:
//    an 8x8 b16 matrix is exactly an 8x4 tf32 fragment) or one 32-bit load
//    per register (the other), rounded with cvt.rna.tf32 in registers. Needs
//    lda % 4 == 0, ldb % 4 == 0, 16-byte aligned A and B (cp.async), else v2.
//   v3 BF16 (default): tc3_prepass writes op(A), op(B) as k-contiguous bf16
//    copies in scratch memory (zero-padded to the tiles), then
//    sgemm_bf16_tc3: the same pipeline on 128x256x64 bf16 tiles, every
//    fragment one ldmatrix.x4, no conversion or bounds check in the main
//    loop; any lda/ldb/alignment. Costs one pass over A and B (6 bytes per
//    element) but halves the shared-memory traffic of
//   v3p TF32 (PCN_GEMM_TC=v3p, an experiment): a tf32-rounding pre-pass to
//    k-contiguous fp32 copies, then sgemm_tc3 with ldmatrix for both operands
//    and no cvt in the main loop (trades 8 bytes per element of memory
//    traffic for ~40 % fewer main-loop instructions).
//   v3f BF16 (PCN_GEMM_TC=v3f): sgemm_tc3<TA, TB, true>, fp32 tiles as for
//    TF32, pairs converted at fragment load (k permuted inside each 16-step so
//    that a thread's two pairs are 4 consecutive k: one 16-byte load).
//   All v3 kernels need 192 KiB of shared memory per block (H100: 227 KiB;
//   A100 has only 163 KiB): elsewhere v2. Layout derivations:
//   gemm_kernels.cuh.
//   v2 (sgemm_tc, PCN_GEMM_TC=v2): 128x128x32 tile, 8 warps of 64x32,
//    register-staged prefetch, operands converted while staged into one
//    padded smem buffer.
//   PCN_GEMM_TC is read at every call, so a benchmark can A/B the kernels in
//   one process (bench/gpu.py does).
//
// simt/v2 global loads are float4 when the leading dimension is a multiple
// of 4, the base pointer is 16-byte aligned and the 4-run lies inside the
// matrix; otherwise scalar with bounds checks (zeros outside), so any shape
// works. v3 zero-fills partial 16-byte chunks (cp.async src_bytes).
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../csrc/cuda_api.h"
#include "../csrc/ops/gemm.h"
#include "check.cuh"
#include "gemm_kernels.cuh"
#include "register.cuh"
#include "scratch.cuh"
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

using Tc3Fn = void (*)(int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
                       int64_t, int64_t);

// Raise kern's dynamic shared memory limit to `bytes`, once per device (bit dev of `done`).
template <class K>
void raise_smem_once(K* kern, std::atomic<uint64_t>& done, int dev, size_t bytes) {
  const uint64_t bit = uint64_t(1) << (dev & 63);
  if (!(done.load(std::memory_order_acquire) & bit)) {
    PCN_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
    done.fetch_or(bit, std::memory_order_release);
  }
}

template <bool TA, bool TB, bool BF16>
Tc3Fn tc3_prepared(int dev) {
  static std::atomic<uint64_t> done{0};
  raise_smem_once(sgemm_tc3<TA, TB, BF16>, done, dev, kTc3SmemBytes);
  return sgemm_tc3<TA, TB, BF16>;
}

template <bool BF16>
Tc3Fn pick_tc3(bool ta, bool tb, int dev) {
  return ta ? (tb ? tc3_prepared<true, true, BF16>(dev) : tc3_prepared<true, false, BF16>(dev))
            : (tb ? tc3_prepared<false, true, BF16>(dev) : tc3_prepared<false, false, BF16>(dev));
}

// Whether device dev lets a block have the v3 kernel's shared memory (queried once per device).
bool tc3_fits(int dev) {
#ifdef __CUDACC__
  static std::atomic<int> cache[64];  // 0 unknown, 1 yes, 2 no
  std::atomic<int>& c = cache[dev & 63];
  int v = c.load(std::memory_order_acquire);
  if (v == 0) {
    int optin = 0;
    PCN_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    v = size_t(optin) >= kTc3SmemBytes ? 1 : 2;
    c.store(v, std::memory_order_release);
  }
  return v == 1;
#else
  (void)dev;
  return true;  // host emulation (cuda/emu/, plain C++): no device limit; emulate v3
#endif
}

// Tensor-core kernel generation, from PCN_GEMM_TC (read at every call, so a
// benchmark can A/B them in one process): unset or "v3": sgemm_tc3 (TF32) /
// the bf16 pre-pass + sgemm_bf16_tc3 (BF16); "v3f": sgemm_tc3 for both (BF16
// converted from fp32 shared memory at fragment load); "v2": sgemm_tc.
// "v3p": TF32 through a tf32-rounding pre-pass (an A/B experiment, see
// gemm_tf32_prepass below).
enum class TcGen { V3, V3F, V3P, V2 };
TcGen tc_gen() {
  const char* e = std::getenv("PCN_GEMM_TC");
  if (e && std::strcmp(e, "v2") == 0) return TcGen::V2;
  if (e && std::strcmp(e, "v3f") == 0) return TcGen::V3F;
  if (e && std::strcmp(e, "v3p") == 0) return TcGen::V3P;
  return TcGen::V3;
}

// TF32 v3p: op(A) -> [M][kp], op(B) -> [N][kp], k-contiguous, rounded to tf32
// (kp: K rounded up to 32, zeros), then sgemm_tc3<false, true, false, PRE>:
// ldmatrix for both operands and no cvt in the main loop (406 instead of
// 662-788 SASS instructions per k tile) for one pass over A and B (8 bytes
// per element). Any lda/ldb/alignment.
void gemm_tf32_prepass(const GemmParams& p, const float* A, const float* B, float* C, cudaStream_t s, int dev) {
  const int64_t kp = (p.K + 31) / 32 * 32, mp = (p.M + 31) / 32 * 32, np = (p.N + 31) / 32 * 32;
  cuda::DeviceScratch buf(size_t(mp + np) * size_t(kp) * sizeof(float));
  float* const a32 = buf.as<float>();
  float* const b32 = a32 + mp * kp;
  if (kp > 0) {
    const unsigned gy = unsigned(std::min<int64_t>(kp / 32, 65535));
    const dim3 ga{unsigned(mp / 32), gy, 1u}, gb{unsigned(np / 32), gy, 1u};
    if (p.transA)
      tc3_prepass<false, float><<<ga, kThreads, 0, s>>>(A, p.lda, p.M, p.K, kp, a32);
    else
      tc3_prepass<true, float><<<ga, kThreads, 0, s>>>(A, p.lda, p.M, p.K, kp, a32);
    PCN_CUDA_LAUNCH_CHECK();
    if (p.transB)
      tc3_prepass<true, float><<<gb, kThreads, 0, s>>>(B, p.ldb, p.N, p.K, kp, b32);
    else
      tc3_prepass<false, float><<<gb, kThreads, 0, s>>>(B, p.ldb, p.N, p.K, kp, b32);
    PCN_CUDA_LAUNCH_CHECK();
  }
  static std::atomic<uint64_t> done{0};
  raise_smem_once(sgemm_tc3<false, true, false, true>, done, dev, kTc3SmemBytes);
  const int64_t tiles_n = (p.N + TC3_BN - 1) / TC3_BN, tiles_m = (p.M + TC3_BM - 1) / TC3_BM;
  constexpr int64_t kMaxY = 65535;
  for (int64_t t0 = 0; t0 < tiles_m; t0 += kMaxY) {
    const dim3 grid{unsigned(tiles_n), unsigned(std::min(kMaxY, tiles_m - t0)), 1u};
    sgemm_tc3<false, true, false, true><<<grid, kThreads, kTc3SmemBytes, s>>>(p.M, p.N, kp, p.alpha, a32, kp, b32,
                                                                            kp, p.beta, C, p.ldc, t0 * TC3_BM);
    PCN_CUDA_LAUNCH_CHECK();
  }
}

// BF16 v3: op(A), op(B) -> k-contiguous bf16 copies in scratch memory (rows
// padded to the block tile, k to 64, with zeros), then sgemm_bf16_tc3. Any
// lda/ldb/alignment.
static_assert(kTb3SmemBytes == kTc3SmemBytes, "tc3_fits checks one size for both");
void gemm_bf16_prepass(const GemmParams& p, const float* A, const float* B, float* C, cudaStream_t s, int dev) {
  const int64_t kp = (p.K + TB3_BK - 1) / TB3_BK * TB3_BK;
  const int64_t mp = (p.M + TC3_BM - 1) / TC3_BM * TC3_BM, np = (p.N + TC3_BN - 1) / TC3_BN * TC3_BN;
  if (np / TC3_BN > int64_t(INT32_MAX) || mp / 32 > int64_t(INT32_MAX))
    PCN_THROW(ValueError, "matmul: M=" << p.M << ", N=" << p.N << " is too large for the CUDA kernel");
  cuda::DeviceScratch buf(size_t(mp + np) * size_t(kp) * sizeof(__nv_bfloat16));
  __nv_bfloat16* const a16 = buf.as<__nv_bfloat16>();
  __nv_bfloat16* const b16 = a16 + mp * kp;
  if (kp > 0) {
    const unsigned gy = unsigned(std::min<int64_t>(kp / 32, 65535));
    const dim3 ga{unsigned(mp / 32), gy, 1u}, gb{unsigned(np / 32), gy, 1u};
    if (p.transA)
      tc3_prepass<false, __nv_bfloat16><<<ga, kThreads, 0, s>>>(A, p.lda, p.M, p.K, kp, a16);
    else
      tc3_prepass<true, __nv_bfloat16><<<ga, kThreads, 0, s>>>(A, p.lda, p.M, p.K, kp, a16);
    PCN_CUDA_LAUNCH_CHECK();
    if (p.transB)
      tc3_prepass<true, __nv_bfloat16><<<gb, kThreads, 0, s>>>(B, p.ldb, p.N, p.K, kp, b16);
    else
      tc3_prepass<false, __nv_bfloat16><<<gb, kThreads, 0, s>>>(B, p.ldb, p.N, p.K, kp, b16);
    PCN_CUDA_LAUNCH_CHECK();
  }
  static std::atomic<uint64_t> done{0};
  raise_smem_once(sgemm_bf16_tc3<>, done, dev, kTb3SmemBytes);
  const int64_t tiles_m = mp / TC3_BM;
  constexpr int64_t kMaxY = 65535;
  for (int64_t t0 = 0; t0 < tiles_m; t0 += kMaxY) {
    const dim3 grid{unsigned(np / TC3_BN), unsigned(std::min(kMaxY, tiles_m - t0)), 1u};
    sgemm_bf16_tc3<><<<grid, kThreads, kTb3SmemBytes, s>>>(p.M, p.N, kp, p.alpha, a16, b16, p.beta, C, p.ldc,
                                                         t0 * TC3_BM);
    PCN_CUDA_LAUNCH_CHECK();
  }
}

void cuda_gemm(const GemmParams& p, const float* A, const float* B, float* C) {
  if (p.M <= 0 || p.N <= 0) return;
  const int dev = cuda::device_of(C);
  cudaStream_t s = cuda::activate(dev);
  const MatmulPrecision prec = get_matmul_precision();
  const bool vecA = p.lda % 4 == 0 && (reinterpret_cast<uintptr_t>(A) & 15) == 0;
  const bool vecB = p.ldb % 4 == 0 && (reinterpret_cast<uintptr_t>(B) & 15) == 0;
  // gridDim.y is limited to 65535: launch row bands of at most that many tiles.
  constexpr int64_t kMaxY = 65535;
  const bool tc = prec == MatmulPrecision::High || prec == MatmulPrecision::Medium;
  const TcGen gen = tc ? tc_gen() : TcGen::V2;
  // The pre-pass copies take (M + N) * K * 2 (bf16) or 4 (tf32) bytes, padded:
  // beyond 2 GiB of scratch, convert at fragment load instead (v3/v3f, or v2
  // when unaligned).
  const int64_t copy_elems = (p.M + TC3_BM + p.N + TC3_BN) * (p.K + TB3_BK);
  const bool small_copies = copy_elems * (prec == MatmulPrecision::High ? 4 : 2) <= (int64_t(1) << 31);
  if (prec == MatmulPrecision::Medium && gen == TcGen::V3 && small_copies && tc3_fits(dev)) {
    gemm_bf16_prepass(p, A, B, C, s, dev);
    return;
  }
  if (prec == MatmulPrecision::High && gen == TcGen::V3P && small_copies && tc3_fits(dev)) {
    gemm_tf32_prepass(p, A, B, C, s, dev);
    return;
  }
  if (tc && gen != TcGen::V2 && vecA && vecB && tc3_fits(dev)) {
    const Tc3Fn k = prec == MatmulPrecision::High ? pick_tc3<false>(p.transA, p.transB, dev)
                                                  : pick_tc3<true>(p.transA, p.transB, dev);
    const int64_t tiles_n = (p.N + TC3_BN - 1) / TC3_BN, tiles_m = (p.M + TC3_BM - 1) / TC3_BM;
    if (tiles_n > int64_t(INT32_MAX))
      PCN_THROW(ValueError, "matmul: N=" << p.N << " is too large for the CUDA kernel");
    for (int64_t t0 = 0; t0 < tiles_m; t0 += kMaxY) {
      const int64_t ty = std::min(kMaxY, tiles_m - t0);
      const dim3 grid{unsigned(tiles_n), unsigned(ty), 1u};
      k<<<grid, kThreads, kTc3SmemBytes, s>>>(p.M, p.N, p.K, p.alpha, A, p.lda, B, p.ldb, p.beta, C, p.ldc,
                                              t0 * TC3_BM);
      PCN_CUDA_LAUNCH_CHECK();
    }
    return;
  }
  KernelFn k = p.transA ? (p.transB ? pick<true, true>(prec) : pick<true, false>(prec))
                        : (p.transB ? pick<false, true>(prec) : pick<false, false>(prec));
  // simt and v2 use 128x128 block tiles.
  const int64_t tiles_n = (p.N + 127) / 128, tiles_m = (p.M + 127) / 128;
  if (tiles_n > int64_t(INT32_MAX))
    PCN_THROW(ValueError, "matmul: N=" << p.N << " is too large for the CUDA kernel");
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
