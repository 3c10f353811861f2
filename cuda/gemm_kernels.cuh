// gemm_kernels.cuh — the SGEMM kernels themselves (no pyconvnet headers, so
// the standalone lab in cuda/dev/ times exactly these). cuda/gemm.cu is the
// host side that picks one and launches it; see there for the design notes.
//
// sgemm_simt<TA, TB>   fp32, 128x128x8 tile, 8x8 per thread, double-buffered
// sgemm_tc<TA, TB, BF16>  TF32 m16n8k8 / BF16 m16n8k16 mma.sync, 128x128x32 tile (v2)
// sgemm_tc3<TA, TB, BF16> the same instructions, 128x256x32 tile, 4-stage cp.async
//                         pipeline, swizzled fp32 smem, ldmatrix / 4- and 16-byte fragment loads
//                         (v3: TF32; BF16 "v3f")
// tc3_prepass<KMAJ, bf16> + sgemm_bf16_tc3  bf16 pre-pass, then 128x256x64 bf16 tiles,
//                         ldmatrix only (v3: BF16)
// tc3_prepass<KMAJ, float> + sgemm_tc3<false, true, false, PRE=true>  tf32-rounded k-contiguous
//                         copies, then the TF32 kernel without cvt (PCN_GEMM_TC=v3p, an experiment)
// simt/tc: 256 threads, grid (ceil(N/128), ceil(M/128) rows from m_base), any
// shape; vecA/vecB allow float4 loads (ld % 4 == 0 and 16-byte aligned base).
// tc3: 256 threads, grid (ceil(N/256), ceil(M/128) rows from m_base),
// kTc3SmemBytes of dynamic shared memory; needs ld % 4 == 0 and 16-byte
// aligned A and B (the launcher falls back to tc otherwise).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "ptx.cuh"

namespace pcn {
namespace gemm_kernels {

constexpr int kThreads = 256;

// ---------------------------------------------------------------- tile loads
// One tile of an operand seen as (MN, K): element (r, k) with r along M (A) or
// N (B). KC ("k contiguous"): element at p[r*ld + k]; else at p[k*ld + r].
// The tile spans rows [r0, r0+ROWS) and k in [k0, k0+BK); each thread loads
// LOADS runs of 4 consecutive elements along the contiguous direction.
//
// SPREAD (only for !KC with ROWS == 128, BK == 32, used by the tensor-core
// kernel, whose shared tiles are [r][k]): a warp instruction covers 16 k rows
// x 2 runs instead of 1 k row x 32 runs, so the 4 scalar stores of each run
// into [r + j][k] hit 32 distinct banks (with the default mapping r = 4*lane
// and a row stride of 36 words they hit 2: 16-way conflicts). Global loads
// stay fully used 32-byte sectors.
template <int ROWS, int BK, bool KC, bool SPREAD = false>
struct TileLoader {
  static constexpr int kRuns = ROWS * BK / 4;
  static constexpr int LOADS = kRuns / kThreads;
  static_assert(kRuns % kThreads == 0, "tile must split evenly over the block");
  static_assert(!SPREAD || (!KC && ROWS == 128 && BK == 32 && kThreads == 256), "SPREAD layout assumptions");

  // Position of run i of this thread: (r, k) of its first element.
  __device__ static void run_pos(int i, int& r, int& k) {
    if (SPREAD) {
      // 32 blocks of (16 k x 2 runs): block b = warp + 8*i; lanes: k low 4
      // bits, run parity from bit 4.
      const int lane = threadIdx.x % 32, b = threadIdx.x / 32 + 8 * i;
      k = (b % 2) * 16 + lane % 16;
      r = ((b / 2) * 2 + lane / 16) * 4;
      return;
    }
    const int idx = threadIdx.x + i * kThreads;
    if (KC) {
      r = idx / (BK / 4);
      k = (idx % (BK / 4)) * 4;
    } else {
      k = idx / (ROWS / 4);
      r = (idx % (ROWS / 4)) * 4;
    }
  }

  __device__ static void load(const float* __restrict__ p, int64_t ld, int64_t R, int64_t K, int64_t r0,
                              int64_t k0, bool vec, float4 (&v)[LOADS]) {
#pragma unroll
    for (int i = 0; i < LOADS; ++i) {
      int rr, kk;
      run_pos(i, rr, kk);
      const int64_t r = r0 + rr, k = k0 + kk;
      float e[4];
      if (KC) {
        if (vec && r < R && k + 3 < K) {
          const float4 t = __ldg(reinterpret_cast<const float4*>(p + r * ld + k));
          e[0] = t.x; e[1] = t.y; e[2] = t.z; e[3] = t.w;
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) e[j] = (r < R && k + j < K) ? __ldg(p + r * ld + k + j) : 0.f;
        }
      } else {
        if (vec && k < K && r + 3 < R) {
          const float4 t = __ldg(reinterpret_cast<const float4*>(p + k * ld + r));
          e[0] = t.x; e[1] = t.y; e[2] = t.z; e[3] = t.w;
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) e[j] = (k < K && r + j < R) ? __ldg(p + k * ld + r + j) : 0.f;
        }
      }
      v[i] = make_float4(e[0], e[1], e[2], e[3]);
    }
  }
};

__device__ __forceinline__ float get(const float4& v, int j) {
  return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w;
}

// Epilogue for one element: alpha*acc (+ beta*C when beta != 0).
__device__ __forceinline__ void store_c(float* __restrict__ C, int64_t ldc, int64_t M, int64_t N, int64_t m,
                                        int64_t n, float acc, float alpha, float beta) {
  if (m < M && n < N) {
    float* c = C + m * ldc + n;
    *c = beta == 0.f ? alpha * acc : alpha * acc + beta * *c;
  }
}

// ---------------------------------------------------------------- fp32 SIMT
constexpr int SB_M = 128, SB_N = 128, SB_K = 8, S_PAD = 4;

template <bool TA, bool TB>
__global__ void __launch_bounds__(kThreads, 2) sgemm_simt(int64_t M, int64_t N, int64_t K, float alpha,
                                                       const float* __restrict__ A, int64_t lda,
                                                       const float* __restrict__ B, int64_t ldb, float beta,
                                                       float* __restrict__ C, int64_t ldc, bool vecA, bool vecB,
                                                       int64_t m_base) {
  using LA = TileLoader<SB_M, SB_K, !TA>;
  using LB = TileLoader<SB_N, SB_K, TB>;
  // [buffer][k][m or n], m/n contiguous so a thread reads 4 outputs' operands
  // with one 16-byte shared load.
  __shared__ __align__(16) float As[2][SB_K][SB_M + S_PAD];
  __shared__ __align__(16) float Bs[2][SB_K][SB_N + S_PAD];

  const int64_t m0 = m_base + int64_t(blockIdx.y) * SB_M;
  const int64_t n0 = int64_t(blockIdx.x) * SB_N;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  float4 ra[LA::LOADS], rb[LB::LOADS];
  auto stash = [&](int buf) {
#pragma unroll
    for (int i = 0; i < LA::LOADS; ++i) {
      int r, k;
      LA::run_pos(i, r, k);
      if (!TA) {  // run along k
#pragma unroll
        for (int j = 0; j < 4; ++j) As[buf][k + j][r] = get(ra[i], j);
      } else {  // run along m
        *reinterpret_cast<float4*>(&As[buf][k][r]) = ra[i];
      }
    }
#pragma unroll
    for (int i = 0; i < LB::LOADS; ++i) {
      int r, k;
      LB::run_pos(i, r, k);
      if (TB) {
#pragma unroll
        for (int j = 0; j < 4; ++j) Bs[buf][k + j][r] = get(rb[i], j);
      } else {
        *reinterpret_cast<float4*>(&Bs[buf][k][r]) = rb[i];
      }
    }
  };

  const int64_t ktiles = (K + SB_K - 1) / SB_K;
  if (ktiles > 0) {
    LA::load(A, lda, M, K, m0, 0, vecA, ra);
    LB::load(B, ldb, N, K, n0, 0, vecB, rb);
    stash(0);
    __syncthreads();
  }
  for (int64_t t = 0; t < ktiles; ++t) {
    const int buf = int(t & 1);
    const bool more = t + 1 < ktiles;
    if (more) {  // global loads for the next tile fly while this one is computed
      LA::load(A, lda, M, K, m0, (t + 1) * SB_K, vecA, ra);
      LB::load(B, ldb, N, K, n0, (t + 1) * SB_K, vecB, rb);
    }
#pragma unroll
    for (int k = 0; k < SB_K; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][k][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][k][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][k][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][k][64 + tx * 4]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) {
      // The other buffer was last read in iteration t-1, and every thread
      // passed the barrier at the end of t-1 after that read: safe to write.
      stash(buf ^ 1);
      __syncthreads();
    }
  }

  // Outputs: rows ty*4+i and 64+ty*4+i, columns tx*4+j and 64+tx*4+j.
  const bool vecC = (ldc % 4 == 0) && ((reinterpret_cast<uintptr_t>(C) & 15) == 0) && beta == 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t m = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (m >= M) continue;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t n = n0 + h * 64 + tx * 4;
      if (vecC && n + 3 < N) {
        *reinterpret_cast<float4*>(C + m * ldc + n) =
            make_float4(alpha * acc[i][h * 4 + 0], alpha * acc[i][h * 4 + 1], alpha * acc[i][h * 4 + 2],
                        alpha * acc[i][h * 4 + 3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) store_c(C, ldc, M, N, m, n + j, acc[i][h * 4 + j], alpha, beta);
      }
    }
  }
}

// ---------------------------------------------------------------- tensor cores
constexpr int TB_M = 128, TB_N = 128, TB_K = 32;
constexpr int WARP_M = 64, WARP_N = 32;  // 2 x 4 warps
constexpr int MI = WARP_M / 16, NI = WARP_N / 8;

__device__ __forceinline__ uint32_t to_tf32(float x) { return ptx::cvt_tf32(x); }

// Shared-memory element type and k per mma for each precision.
template <bool BF16>
struct TcTraits;
template <>
struct TcTraits<false> {  // TF32: stored as the tf32 bit pattern in 32 bits
  using T = uint32_t;
  static constexpr int PAD = 4;   // row of 36 words: fragment rows hit distinct banks
  static constexpr int KSTEP = 8;
  __device__ static T cvt(float x) { return to_tf32(x); }
};
template <>
struct TcTraits<true> {  // BF16: two per 32-bit word
  using T = __nv_bfloat16;
  static constexpr int PAD = 8;   // row of 40 halves = 20 words: conflict free
  static constexpr int KSTEP = 16;
  __device__ static T cvt(float x) { return __float2bfloat16_rn(x); }
};

template <bool TA, bool TB, bool BF16>
__global__ void __launch_bounds__(kThreads) sgemm_tc(int64_t M, int64_t N, int64_t K, float alpha,
                                                     const float* __restrict__ A, int64_t lda,
                                                     const float* __restrict__ B, int64_t ldb, float beta,
                                                     float* __restrict__ C, int64_t ldc, bool vecA, bool vecB,
                                                     int64_t m_base) {
  using Tr = TcTraits<BF16>;
  using T = typename Tr::T;
  using LA = TileLoader<TB_M, TB_K, !TA, /*SPREAD=*/TA>;
  using LB = TileLoader<TB_N, TB_K, TB, /*SPREAD=*/!TB>;
  constexpr int LDS = TB_K + Tr::PAD;
  __shared__ __align__(16) T As[TB_M][LDS];
  __shared__ __align__(16) T Bs[TB_N][LDS];

  const int64_t m0 = m_base + int64_t(blockIdx.y) * TB_M;
  const int64_t n0 = int64_t(blockIdx.x) * TB_N;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp / 4) * WARP_M, wn = (warp % 4) * WARP_N;
  const int g = lane / 4, tg = lane % 4;  // groupID, thread in group

  float acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.f;

  float4 ra[LA::LOADS], rb[LB::LOADS];
  // Staging: smem holds [row][k], k contiguous. A run along k lands in one
  // row; a run along the row direction is spread over 4 rows.
  auto stash_one = [&](T(*S)[LDS], int r, int k, const float4& v, bool run_along_k) {
    if (run_along_k) {  // k is a multiple of 4: 16-byte (tf32) / 8-byte (bf16) aligned
      if (!BF16) {
        *reinterpret_cast<uint4*>(&S[r][k]) =
            make_uint4(to_tf32(v.x), to_tf32(v.y), to_tf32(v.z), to_tf32(v.w));
      } else {
        __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
        uint2 w;
        w.x = *reinterpret_cast<uint32_t*>(&lo);
        w.y = *reinterpret_cast<uint32_t*>(&hi);
        *reinterpret_cast<uint2*>(&S[r][k]) = w;
      }
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) S[r + j][k] = Tr::cvt(get(v, j));
    }
  };
  auto stash = [&]() {
#pragma unroll
    for (int i = 0; i < LA::LOADS; ++i) {
      int r, k;
      LA::run_pos(i, r, k);
      stash_one(As, r, k, ra[i], !TA);
    }
#pragma unroll
    for (int i = 0; i < LB::LOADS; ++i) {
      int r, k;
      LB::run_pos(i, r, k);
      stash_one(Bs, r, k, rb[i], TB);
    }
  };

  const int64_t ktiles = (K + TB_K - 1) / TB_K;
  if (ktiles > 0) {
    LA::load(A, lda, M, K, m0, 0, vecA, ra);
    LB::load(B, ldb, N, K, n0, 0, vecB, rb);
  }
  for (int64_t t = 0; t < ktiles; ++t) {
    stash();
    __syncthreads();
    if (t + 1 < ktiles) {  // next tile's global loads overlap this tile's mma
      LA::load(A, lda, M, K, m0, (t + 1) * TB_K, vecA, ra);
      LB::load(B, ldb, N, K, n0, (t + 1) * TB_K, vecB, rb);
    }
#pragma unroll
    for (int ks = 0; ks < TB_K; ks += Tr::KSTEP) {
      uint32_t af[MI][4], bfr[NI][2];
      if (!BF16) {
        // m16n8k8 tf32: a0 (g, tg) a1 (g+8, tg) a2 (g, tg+4) a3 (g+8, tg+4);
        // b0 (k=tg, n=g) b1 (k=tg+4, n=g).
#pragma unroll
        for (int i = 0; i < MI; ++i) {
          const int r = wm + i * 16 + g;
          af[i][0] = *reinterpret_cast<const uint32_t*>(&As[r][ks + tg]);
          af[i][1] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + tg]);
          af[i][2] = *reinterpret_cast<const uint32_t*>(&As[r][ks + tg + 4]);
          af[i][3] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + tg + 4]);
        }
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          const int c = wn + j * 8 + g;
          bfr[j][0] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + tg]);
          bfr[j][1] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + tg + 4]);
        }
      } else {
        // m16n8k16 bf16 (pairs, lower k in the low half): a0 (g, 2tg..+1)
        // a1 (g+8, 2tg..) a2 (g, 2tg+8..) a3 (g+8, 2tg+8..); b0 (k=2tg.., n=g)
        // b1 (k=2tg+8.., n=g).
#pragma unroll
        for (int i = 0; i < MI; ++i) {
          const int r = wm + i * 16 + g;
          af[i][0] = *reinterpret_cast<const uint32_t*>(&As[r][ks + 2 * tg]);
          af[i][1] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + 2 * tg]);
          af[i][2] = *reinterpret_cast<const uint32_t*>(&As[r][ks + 2 * tg + 8]);
          af[i][3] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + 2 * tg + 8]);
        }
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          const int c = wn + j * 8 + g;
          bfr[j][0] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + 2 * tg]);
          bfr[j][1] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + 2 * tg + 8]);
        }
      }
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          if (!BF16)
            ptx::mma_tf32_16x8x8(acc[i][j], af[i], bfr[j]);
          else
            ptx::mma_bf16_16x8x16(acc[i][j], af[i], bfr[j]);
        }
    }
    __syncthreads();  // everyone is done reading before the next stash
  }

  // Accumulator layout: c0 (g, 2tg) c1 (g, 2tg+1) c2 (g+8, 2tg) c3 (g+8, 2tg+1).
  const bool vec2 = (ldc % 2 == 0) && ((reinterpret_cast<uintptr_t>(C) & 7) == 0) && beta == 0.f;
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t m = m0 + wm + i * 16 + g + h * 8;
        const int64_t n = n0 + wn + j * 8 + 2 * tg;
        const float v0 = acc[i][j][2 * h], v1 = acc[i][j][2 * h + 1];
        if (vec2 && m < M && n + 1 < N) {
          *reinterpret_cast<float2*>(C + m * ldc + n) = make_float2(alpha * v0, alpha * v1);
        } else {
          store_c(C, ldc, M, N, m, n, v0, alpha, beta);
          store_c(C, ldc, M, N, m, n + 1, v1, alpha, beta);
        }
      }
}

// ---------------------------------------------------------------- tensor cores v3
// sgemm_tc3<TA, TB, BF16>: the multistage version (design notes: cuda/gemm.cu
// and cuda/dev/NOTES.md, "v3"). NOT YET RUN ON A GPU: checked by nvcc (sm_90,
// ptxas: registers/spills; SASS instruction mix) and by the host emulation
// (cuda/emu/) only.
//
// Block tile 128 (M) x 256 (N) x 32 (K), 8 warps as 2 (M) x 4 (N), each warp
// 64x64 = 4 x 8 mma tiles; STAGES k tiles of raw fp32 A and B in dynamic shared
// memory (kTc3SmemBytes = 192 KiB), filled by cp.async (16 bytes, zero-fill
// outside the matrix), one __syncthreads per k tile. Operands are converted
// in registers at fragment load: cvt.rna.tf32 (TF32) or round-to-nearest-even
// bf16 pairs (BF16). Requirements (checked by the launcher): lda % 4 == 0,
// ldb % 4 == 0, A and B 16-byte aligned (every 16-byte chunk cp.async reads is
// then aligned); any M, N, K >= 0.
//
// Shared tiles, per operand, mirror the global layout (cp.async cannot
// transpose); as 16-byte chunks, XOR-swizzled within aligned groups of 8
// chunks (128 bytes = all 32 banks):
//  K-major (A when !TA, B when TB): [rows][32 k], 8 chunks per row; chunk kc
//    of row r sits at kc ^ swz_k(r), swz_k a bijection of r % 8
//    (0,4,1,5,2,6,3,7): ldmatrix (8 rows of one chunk) and the BF16 16-byte
//    reads (rows g, g+1 x 4 chunks per quarter warp) are conflict free.
//  MN-major (A when TA, B when !TB): [32 k][rows], rows/4 chunks per k row;
//    chunk rc of k row k sits at rc ^ swz_mn(k), swz_mn(k) = ((k&3) << 1) ^
//    f((k>>2)&3), f(x) = bit0 -> bit0, bit1 -> bit2. TF32 reads 32-bit words,
//    8 consecutive rows (2 chunks, chunk bit 0) x 4 k rows with distinct k&3
//    (chunk bits 1-2); BF16 reads 16 bytes, chunk bits 1 (lane) x 4 k rows with
//    distinct (k>>2)&3 (chunk bits 0, 2): both land in 8 distinct chunk slots.
//  (cuda/dev/bank_check.py enumerates every read and write pattern.)
//  Every per-thread shared offset is a loop-invariant base XOR a compile-time
//  constant (the swizzle acts on bits 2-4 of the float index, which the
//  offsets of tiles/steps only flip, never carry into) plus an immediate:
//  one LOP3 per fragment load instead of recomputing the swizzle.
//
// Fragments (g = lane/4, t = lane%4; layouts in ptx.cuh):
//  TF32, K-major: ldmatrix.x4 on fp32 data: an 8x8 b16 matrix is 8 rows x 4
//    fp32 (16 bytes), and lane L gets the 32-bit word of row L/4, b16 elements
//    2(L%4), 2(L%4)+1 = fp32 element L%4 = exactly (g, t) of the mma fragment.
//    A: matrices (rows 0-7, k 0-3), (rows 8-15, k 0-3), (rows 0-7, k 4-7),
//    (rows 8-15, k 4-7) give a[0..3]; B ([n][k]): (n 0-7, k 0-3), (n 0-7,
//    k 4-7) give b[0], b[1] of one n8 tile, matrices 2, 3 the next tile.
//  TF32, MN-major: one 32-bit load per fragment register (fp32 cannot be
//    transposed by ldmatrix, whose .trans works on 16-bit elements); each
//    load lands directly in the register the mma needs (16-byte loads would
//    need register moves to pair k and k+4: measured in SASS, 240-530 extra
//    instructions per k tile).
//  BF16 (m16n8k16, fp32 in shared memory): the k order inside a 16-step is
//    permuted, mma k index kappa -> 4 (kappa%8 / 2) + 2 (kappa/8) + kappa%2, so
//    thread t's k pairs {2t, 2t+1} and {2t+8, 2t+9} are the 4 consecutive real
//    k 4t..4t+3: one 16-byte load per K-major row. MN-major: the mma's row (A)
//    or column (B) index is mapped to a permuted position so that each
//    thread's values over all the warp's tiles are contiguous: B column c of
//    n8 tile j is n = wn + 8c + j (the 8 values of tiles j = 0..7 at one k are
//    the 8 floats at [k][wn + 8g ..]: two 16-byte loads); A row r of m16 tile
//    i is m = wm + 8(r%8) + 4(r/8) + i. Pairs are packed with
//    __floats2bfloat162_rn (lower k in the low half), which writes any
//    register: no moves. The epilogue applies the same maps (with B permuted
//    a thread owns 16 consecutive columns: float4 stores). Both operands see
//    the same k permutation, so the sum is unchanged.
constexpr int TC3_BM = 128, TC3_BN = 256, TC3_BK = 32, TC3_STAGES = 4;
constexpr int TC3_WM = 64, TC3_WN = 64;
constexpr int TC3_MI = TC3_WM / 16, TC3_NJ = TC3_WN / 8;
constexpr int TC3_A_STAGE = TC3_BM * TC3_BK, TC3_B_STAGE = TC3_BN * TC3_BK;  // floats
constexpr size_t kTc3SmemBytes = size_t(TC3_STAGES) * (TC3_A_STAGE + TC3_B_STAGE) * sizeof(float);
static_assert(kThreads == 256 && TC3_BM / TC3_WM * (TC3_BN / TC3_WN) == 8, "8 warps of 64x64");

__host__ __device__ constexpr int tc3_swz_k(int r) { return ((r & 1) << 2) | ((r >> 1) & 3); }
__host__ __device__ constexpr int tc3_f2(int x) { return (x & 1) | ((x & 2) << 1); }
__host__ __device__ constexpr int tc3_swz_mn(int k) { return ((k & 3) << 1) ^ tc3_f2((k >> 2) & 3); }
// Float offsets inside one stage tile; kc / rc count 16-byte chunks.
__device__ __forceinline__ int tc3_off_k(int r, int kc) { return r * TC3_BK + ((kc ^ tc3_swz_k(r)) << 2); }
template <int ROWS>
__device__ __forceinline__ int tc3_off_mn(int k, int rc) {
  return k * ROWS + ((rc ^ tc3_swz_mn(k)) << 2);
}

// cp.async producer for one operand: k tile [k0, k0 + 32) x rows [r0, r0 +
// ROWS) (r along M for A, N for B). KMAJ: element (r, k) at p[r*ld + k]; else
// at p[k*ld + r]. Chunk i of this thread (i < NI) is, KMAJ: row tid/8 + 32i,
// chunk tid%8; else: k row tid/CPR + (256/CPR) i, chunk tid%CPR (CPR = chunks
// per k row), so that per thread only one source pointer, one destination
// offset and the bounds are computed (once), and each chunk adds constants.
// Chunks outside the matrix are zero-filled (src_bytes 0..16; the source is
// never read past the end of a row or of the matrix).
template <int ROWS, bool KMAJ>
struct Tc3Loader {
  static constexpr int CHUNKS = ROWS * TC3_BK / 4, NI = CHUNKS / kThreads;
  static constexpr int CPR = KMAJ ? TC3_BK / 4 : ROWS / 4;  // chunks per smem row
  static constexpr int RPP = kThreads / CPR;                 // smem rows per pass of the block
  static_assert(CHUNKS % kThreads == 0 && kThreads % CPR == 0, "chunks split evenly");
  // Per-thread state kept small (registers are tight): strides come from ld.
  const float* src;  // chunk 0 of the next tile to load
  int dst;           // float offset of chunk 0 in a stage tile
  int lim;           // KMAJ: rows left (valid: 32i < lim); else: 4 * (columns left in the row, clamped)
  int kpos;          // KMAJ: k of this thread's chunk in tile 0; else: k row in tile 0

  __device__ __forceinline__ void init(const float* __restrict__ p, int64_t ld, int64_t R, int64_t r0) {
    const int c = int(threadIdx.x);
    if (KMAJ) {
      const int r = c / CPR, kc = c % CPR;
      dst = tc3_off_k(r, kc);
      kpos = 4 * kc;
      const int64_t left = R - r0 - r;
      lim = left <= 0 ? 0 : left >= ROWS ? ROWS : int(left);
      src = lim > 0 ? p + (r0 + r) * ld + kpos : p;
    } else {
      const int k = c / CPR, rc = c % CPR;
      dst = tc3_off_mn<ROWS>(k, rc);
      kpos = k;
      const int64_t left = R - r0 - 4 * rc;
      lim = left <= 0 ? 0 : left >= 4 ? 16 : int(left) * 4;
      src = lim > 0 ? p + int64_t(k) * ld + r0 + 4 * rc : p;
    }
  }
  // Queue tile kt (the next one: tiles are loaded in order) into `tile`.
  __device__ __forceinline__ void load(float* tile, const float* base, int64_t ld, int64_t K, int64_t kt) {
    const int64_t k0 = kt * TC3_BK;
#pragma unroll
    for (int i = 0; i < NI; ++i) {
      int bytes;
      int off;
      if (KMAJ) {
        const int64_t kleft = K - k0 - kpos;  // elements of this chunk inside the matrix
        const int kb = kleft >= 4 ? 16 : kleft <= 0 ? 0 : int(kleft) * 4;
        bytes = RPP * i < lim ? kb : 0;
        off = dst + RPP * i * TC3_BK;  // same swizzle: RPP * i is a multiple of 8 rows
      } else {
        bytes = k0 + kpos + RPP * i < K ? lim : 0;
        // k row kpos + RPP*i: swz_mn is XOR-linear in the bit fields it reads and
        // kpos < RPP (a power of two >= 4) shares none of them with RPP*i.
        off = (dst ^ (tc3_swz_mn(RPP * i) << 2)) + RPP * i * ROWS;
      }
      ptx::cp_async_16(tile + off, bytes ? src + int64_t(RPP * i) * ld : base, bytes);
    }
    src += KMAJ ? int64_t(TC3_BK) : int64_t(TC3_BK) * ld;
  }
};

__device__ __forceinline__ uint32_t tc3_tf32(uint32_t bits) { return ptx::cvt_tf32(__int_as_float(int(bits))); }
__device__ __forceinline__ uint32_t tc3_bf16x2(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low 16 bits) = lo
  return *reinterpret_cast<uint32_t*>(&v);
}
__device__ __forceinline__ float4 tc3_lds4(const float* p) { return *reinterpret_cast<const float4*>(p); }

// Per-thread fragment base offsets (floats, inside a stage tile), computed once.
template <bool TA, bool TB, bool BF16>
struct Tc3Frag {
  int a, b;
  __device__ __forceinline__ void init(int wm, int wn, int lane) {
    const int g = lane / 4, t = lane % 4;
    if (!BF16) {
      // ldmatrix A: row (L%8) + 8((L/8)%2), chunk L/16; B: row 8(L/16) + L%8, chunk (L/8)%2.
      // MN-major: k row t, columns w + 8v + g -> XOR constants added per load.
      a = !TA ? tc3_off_k(wm + (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4)
              : t * TC3_BM + (((wm + 4 * (g / 4)) ^ (t << 3)) + g % 4);
      b = TB ? tc3_off_k(wn + 8 * (lane >> 4) + (lane & 7), (lane >> 3) & 1)
             : t * TC3_BN + (((wn + 4 * (g / 4)) ^ (t << 3)) + g % 4);
    } else {
      // K-major: row w + g, chunk t (step s: ^ 4s chunks). MN-major: k row 4t,
      // chunk (w + 8g)/4 (k row 4t + e: swz ^ (e << 1)).
      a = !TA ? tc3_off_k(wm + g, t) : 4 * t * TC3_BM + ((wm + 8 * g) ^ (tc3_f2(t) << 2));
      b = TB ? tc3_off_k(wn + g, t) : 4 * t * TC3_BN + ((wn + 8 * g) ^ (tc3_f2(t) << 2));
    }
  }
};

// Fragments of k step s (8 k for TF32, 16 for BF16) of the warp's 64x64 tile;
// as, bs: this stage's tiles; fa, fb: Tc3Frag offsets.
template <bool TA, bool TB, bool BF16, bool PRE>
__device__ __forceinline__ void tc3_fragments(const float* as, const float* bs, int fa, int fb, int s,
                                              uint32_t (&af)[TC3_MI][4], uint32_t (&bq)[TC3_NJ][2]) {
  if (!BF16) {
    if (!TA) {  // tile i: rows + 16i (+512 floats), step s: chunk ^ 2s
#pragma unroll
      for (int i = 0; i < TC3_MI; ++i) {
        uint32_t r[4];
        ptx::ldmatrix_x4(r, as + ((fa ^ (8 * s)) + 512 * i));
#pragma unroll
        for (int q = 0; q < 4; ++q) af[i][q] = PRE ? r[q] : tc3_tf32(r[q]);
      }
    } else {  // a[v + 2h] of tile i: (m = wm + 16i + 8v + g, k = 8s + 4h + t)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int kr = 8 * s + 4 * h;  // k row of t = 0; its swizzle part beyond t: f((kr>>2)&3)
        const int x = tc3_f2((kr >> 2) & 3) << 2;
#pragma unroll
        for (int i = 0; i < TC3_MI; ++i)
#pragma unroll
          for (int v = 0; v < 2; ++v)
            af[i][v + 2 * h] =
                ptx::cvt_tf32(as[(fa ^ (x ^ ((16 * i + 8 * v) & 31))) + ((16 * i + 8 * v) & ~31) + kr * TC3_BM]);
      }
    }
    if (TB) {  // ldmatrix over n8 tiles 2jj, 2jj+1: rows + 16jj
#pragma unroll
      for (int jj = 0; jj < TC3_NJ / 2; ++jj) {
        uint32_t r[4];
        ptx::ldmatrix_x4(r, bs + ((fb ^ (8 * s)) + 512 * jj));
        bq[2 * jj][0] = PRE ? r[0] : tc3_tf32(r[0]);
        bq[2 * jj][1] = PRE ? r[1] : tc3_tf32(r[1]);
        bq[2 * jj + 1][0] = PRE ? r[2] : tc3_tf32(r[2]);
        bq[2 * jj + 1][1] = PRE ? r[3] : tc3_tf32(r[3]);
      }
    } else {  // b[h] of tile j: (k = 8s + 4h + t, n = wn + 8j + g)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int kr = 8 * s + 4 * h;
        const int x = tc3_f2((kr >> 2) & 3) << 2;
#pragma unroll
        for (int j = 0; j < TC3_NJ; ++j)
          bq[j][h] = ptx::cvt_tf32(bs[(fb ^ (x ^ ((8 * j) & 31))) + ((8 * j) & ~31) + kr * TC3_BN]);
      }
    }
  } else {
    if (!TA) {  // row wm + 16i + 8h + g: real k 16s + 4t .. +3 = chunk 4s + t
#pragma unroll
      for (int i = 0; i < TC3_MI; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const float4 x = tc3_lds4(as + ((fa ^ (16 * s)) + 512 * i + 256 * h));
          af[i][h] = tc3_bf16x2(x.x, x.y);
          af[i][2 + h] = tc3_bf16x2(x.z, x.w);
        }
    } else {  // k rows 16s + 4t + e; m = wm + 8g + (0..3 | 4..7)
#pragma unroll
      for (int p = 0; p < 2; ++p) {  // k pair 2p, 2p+1 (one pair at a time: fewer live registers)
        float4 x[2], y[2];
#pragma unroll
        for (int e2 = 0; e2 < 2; ++e2) {
          const int e = 2 * p + e2, o = (16 * s + e) * TC3_BM;
          x[e2] = tc3_lds4(as + ((fa ^ (e << 3)) + o));
          y[e2] = tc3_lds4(as + ((fa ^ ((e << 3) ^ 4)) + o));
        }
#pragma unroll
        for (int i = 0; i < TC3_MI; ++i) {
          af[i][2 * p] = tc3_bf16x2(get(x[0], i), get(x[1], i));
          af[i][2 * p + 1] = tc3_bf16x2(get(y[0], i), get(y[1], i));
        }
      }
    }
    if (TB) {
#pragma unroll
      for (int j = 0; j < TC3_NJ; ++j) {
        const float4 x = tc3_lds4(bs + ((fb ^ (16 * s)) + 256 * j));
        bq[j][0] = tc3_bf16x2(x.x, x.y);
        bq[j][1] = tc3_bf16x2(x.z, x.w);
      }
    } else {
#pragma unroll
      for (int p = 0; p < 2; ++p) {  // b[p] = k pair 2p, 2p+1
        float4 x[2], y[2];
#pragma unroll
        for (int e2 = 0; e2 < 2; ++e2) {
          const int e = 2 * p + e2, o = (16 * s + e) * TC3_BN;
          x[e2] = tc3_lds4(bs + ((fb ^ (e << 3)) + o));
          y[e2] = tc3_lds4(bs + ((fb ^ ((e << 3) ^ 4)) + o));
        }
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          bq[j][p] = tc3_bf16x2(get(x[0], j), get(x[1], j));
          bq[j + 4][p] = tc3_bf16x2(get(y[0], j), get(y[1], j));
        }
      }
    }
  }
}

// W consecutive outputs of row m from column n: alpha*v (+ beta*C).
template <int W>
__device__ __forceinline__ void tc3_store_run(float* __restrict__ C, int64_t ldc, int64_t M, int64_t N, int64_t m,
                                              int64_t n, const float (&v)[W], float alpha, float beta, bool vec) {
  if (m >= M) return;
  float* c = C + m * ldc + n;
  if (vec && n + W - 1 < N) {
    if (W == 4) {
      float4 o = make_float4(alpha * v[0], alpha * v[1], alpha * v[2], alpha * v[3]);
      if (beta != 0.f) {
        const float4 old = *reinterpret_cast<const float4*>(c);
        o.x += beta * old.x; o.y += beta * old.y; o.z += beta * old.z; o.w += beta * old.w;
      }
      *reinterpret_cast<float4*>(c) = o;
    } else {
      float2 o = make_float2(alpha * v[0], alpha * v[1]);
      if (beta != 0.f) {
        const float2 old = *reinterpret_cast<const float2*>(c);
        o.x += beta * old.x; o.y += beta * old.y;
      }
      *reinterpret_cast<float2*>(c) = o;
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < W; ++e) store_c(C, ldc, M, N, m, n + e, v[e], alpha, beta);
}

// Epilogue of a warp's 64x64 tile. acc[i][j][e]: mma row g + 8(e/2), column
// 2t + e%2, mapped to (m, n) as the fragment loads did (PERM_A / PERM_B: the
// BF16 MN-major permutations, see above).
template <bool PERM_A, bool PERM_B>
__device__ __forceinline__ void tc3_epilogue(const float (&acc)[TC3_MI][TC3_NJ][4], float* __restrict__ C,
                                             int64_t ldc, int64_t M, int64_t N, int64_t m0, int64_t n0, int wm,
                                             int wn, int lane, float alpha, float beta) {
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int i = 0; i < TC3_MI; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int mr = PERM_A ? wm + 8 * g + 4 * h + i : wm + 16 * i + g + 8 * h;
      const int64_t m = m0 + mr;
      if (PERM_B) {  // columns wn + 16t + q, q = 0..15: acc[i][q%8][2h + q/8]
        const bool vec = (ldc % 4 == 0) && ((reinterpret_cast<uintptr_t>(C) & 15) == 0);
#pragma unroll
        for (int q4 = 0; q4 < 4; ++q4) {
          float v[4];
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int q = 4 * q4 + e;
            v[e] = acc[i][q % 8][2 * h + q / 8];
          }
          tc3_store_run<4>(C, ldc, M, N, m, n0 + wn + 16 * t + 4 * q4, v, alpha, beta, vec);
        }
      } else {  // columns wn + 8j + 2t, +1
        const bool vec = (ldc % 2 == 0) && ((reinterpret_cast<uintptr_t>(C) & 7) == 0);
#pragma unroll
        for (int j = 0; j < TC3_NJ; ++j) {
          const float v[2] = {acc[i][j][2 * h], acc[i][j][2 * h + 1]};
          tc3_store_run<2>(C, ldc, M, N, m, n0 + wn + 8 * j + 2 * t, v, alpha, beta, vec);
        }
      }
    }
}

// PRE (TF32 only, with !TA && TB): A and B were already rounded to tf32 by
// tc3_prepass (PCN_GEMM_TC=v3p), so the fragments skip cvt.rna.tf32.
template <bool TA, bool TB, bool BF16, bool PRE = false>
__global__ void __launch_bounds__(kThreads, 1) sgemm_tc3(int64_t M, int64_t N, int64_t K, float alpha,
                                                         const float* __restrict__ A, int64_t lda,
                                                         const float* __restrict__ B, int64_t ldb, float beta,
                                                         float* __restrict__ C, int64_t ldc, int64_t m_base) {
  extern __shared__ __align__(16) float tc3_smem[];
  float* const As = tc3_smem;                              // [STAGES][A_STAGE]
  float* const Bs = tc3_smem + TC3_STAGES * TC3_A_STAGE;  // [STAGES][B_STAGE]

  const int64_t m0 = m_base + int64_t(blockIdx.y) * TC3_BM;
  const int64_t n0 = int64_t(blockIdx.x) * TC3_BN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int wm = (warp / 4) * TC3_WM, wn = (warp % 4) * TC3_WN;

  float acc[TC3_MI][TC3_NJ][4];
#pragma unroll
  for (int i = 0; i < TC3_MI; ++i)
#pragma unroll
    for (int j = 0; j < TC3_NJ; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.f;

  Tc3Loader<TC3_BM, !TA> la;
  Tc3Loader<TC3_BN, TB> lb;
  la.init(A, lda, M, m0);
  lb.init(B, ldb, N, n0);
  Tc3Frag<TA, TB, BF16> fr;
  fr.init(wm, wn, lane);

  const int64_t ktiles = (K + TC3_BK - 1) / TC3_BK;
  // Prologue: tiles 0 .. STAGES-2 in flight, one commit group each (empty
  // groups past the end keep the group count uniform for wait<STAGES-2>).
#pragma unroll
  for (int st = 0; st < TC3_STAGES - 1; ++st) {
    if (st < ktiles) {
      la.load(As + st * TC3_A_STAGE, A, lda, K, st);
      lb.load(Bs + st * TC3_B_STAGE, B, ldb, K, st);
    }
    ptx::cp_async_commit();
  }
  int stage = 0, wstage = TC3_STAGES - 1;  // stage computed / refilled in this iteration
  for (int64_t kt = 0; kt < ktiles; ++kt) {
    ptx::cp_async_wait<TC3_STAGES - 2>();  // this thread's copies of tile kt landed
    __syncthreads();  // ... everyone's; and everyone finished computing tile kt-1
    // Refill the stage tile kt-1 used (free after the barrier above).
    const int64_t kn = kt + TC3_STAGES - 1;
    if (kn < ktiles) {
      la.load(As + wstage * TC3_A_STAGE, A, lda, K, kn);
      lb.load(Bs + wstage * TC3_B_STAGE, B, ldb, K, kn);
    }
    ptx::cp_async_commit();

    const float* as = As + stage * TC3_A_STAGE;
    const float* bs = Bs + stage * TC3_B_STAGE;
    constexpr int KSTEP = BF16 ? 16 : 8;
    // BF16 with both operands MN-major (A^T x B) otherwise needs 255+ registers
    // and spills (ptxas -v): there the two k steps are not unrolled together.
    constexpr int UNROLL = (BF16 && TA && !TB) ? 1 : TC3_BK / KSTEP;
#pragma unroll UNROLL
    for (int s = 0; s < TC3_BK / KSTEP; ++s) {
      uint32_t af[TC3_MI][4], bq[TC3_NJ][2];
      tc3_fragments<TA, TB, BF16, PRE>(as, bs, fr.a, fr.b, s, af, bq);
#pragma unroll
      for (int i = 0; i < TC3_MI; ++i)
#pragma unroll
        for (int j = 0; j < TC3_NJ; ++j) {
          if (!BF16)
            ptx::mma_tf32_16x8x8(acc[i][j], af[i], bq[j]);
          else
            ptx::mma_bf16_16x8x16(acc[i][j], af[i], bq[j]);
        }
    }
    stage = stage == TC3_STAGES - 1 ? 0 : stage + 1;
    wstage = wstage == TC3_STAGES - 1 ? 0 : wstage + 1;
  }
  ptx::cp_async_wait<0>();  // only empty groups can be left; keeps the block's exit clean

  tc3_epilogue<BF16 && TA, BF16 && !TB>(acc, C, ldc, M, N, m0, n0, wm, wn, lane, alpha, beta);
}

// ---------------------------------------------------------------- BF16 v3 with a pre-pass
// (option (a) of cuda/dev/NOTES.md, v3; the default at precision "medium").
// tc3_prepass converts op(A) and op(B) once into k-contiguous bf16 copies
// (scratch memory, [rows][kp], rows padded to the block tile and k to 64 with
// zeros), so sgemm_bf16_tc3 sees one layout, any original lda/ldb/alignment,
// and no bounds inside the main loop: 128x256x64 bf16 block tile (the same 8
// warps of 64x64 and 4-stage cp.async pipeline, 48 KiB per stage), rows of 64
// bf16 = 8 chunks swizzled with swz_k as above, every fragment one ldmatrix.x4
// (A: (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15,
// k 8-15) = a[0..3] of m16n8k16; B ([n][k]): (n 0-7, k 0-7), (n 0-7, k 8-15) =
// b[0], b[1], matrices 2-3 the next n8 tile), half the shared-memory traffic
// of sgemm_tc3<.., true> and no conversions in the main loop.
// NOT YET RUN ON A GPU (host emulation only).
constexpr int TB3_BK = 64;                                                     // bf16 per k tile
constexpr int TB3_A_STAGE = TC3_BM * TB3_BK, TB3_B_STAGE = TC3_BN * TB3_BK;  // bf16 elements
constexpr size_t kTb3SmemBytes = size_t(TC3_STAGES) * (TB3_A_STAGE + TB3_B_STAGE) * 2;

// dst[r * kp + k] = cvt(op(src)(r, k)) for r < R, k < K, 0 elsewhere in
// [0, gridDim.x * 32) x [0, kp) (kp a multiple of 32); KMAJ: element (r, k) at
// src[r*ld + k], else at src[k*ld + r] (transposed through shared memory so
// both sides stay coalesced). T = __nv_bfloat16: round to nearest even bf16;
// T = float: cvt.rna.tf32 (the fp32 pattern with the low 13 bits cleared:
// the TF32 pre-pass, PCN_GEMM_TC=v3p). 256 threads, grid (rows / 32, any):
// 32 x 32 tiles, k tiles grid-strided over y.
__device__ __forceinline__ void tc3_cvt_out(__nv_bfloat16& d, float v) { d = __float2bfloat16_rn(v); }
__device__ __forceinline__ void tc3_cvt_out(float& d, float v) { d = __int_as_float(int(ptx::cvt_tf32(v))); }
template <bool KMAJ, class T>
__global__ void __launch_bounds__(kThreads) tc3_prepass(const float* __restrict__ src, int64_t ld, int64_t R,
                                                        int64_t K, int64_t kp, T* __restrict__ dst) {
  __shared__ float tile[32][33];
  const int64_t r0 = int64_t(blockIdx.x) * 32;
  const int x = int(threadIdx.x) % 32, y0 = int(threadIdx.x) / 32;
  for (int64_t kb = blockIdx.y; kb * 32 < kp; kb += gridDim.y) {
    const int64_t k0 = kb * 32;
    if (KMAJ) {
      for (int y = y0; y < 32; y += kThreads / 32) {
        const int64_t r = r0 + y, k = k0 + x;
        tc3_cvt_out(dst[r * kp + k], r < R && k < K ? src[r * ld + k] : 0.f);
      }
    } else {
      for (int y = y0; y < 32; y += kThreads / 32) {  // tile[k][r]
        const int64_t k = k0 + y, r = r0 + x;
        tile[y][x] = r < R && k < K ? src[k * ld + r] : 0.f;
      }
      __syncthreads();
      for (int y = y0; y < 32; y += kThreads / 32) tc3_cvt_out(dst[(r0 + y) * kp + k0 + x], tile[x][y]);
      __syncthreads();
    }
  }
}

__device__ __forceinline__ int tb3_off(int r, int kc) { return r * TB3_BK + ((kc ^ tc3_swz_k(r)) << 3); }

// C = alpha * A16 * B16^T (+ beta * C): A16 [mp][kp], B16 [np][kp] from
// tc3_prepass (mp, np multiples of 128 / 256 covering the grid, kp of 64).
template <int STAGES = TC3_STAGES>
__global__ void __launch_bounds__(kThreads, 1) sgemm_bf16_tc3(int64_t M, int64_t N, int64_t kp, float alpha,
                                                              const __nv_bfloat16* __restrict__ A16,
                                                              const __nv_bfloat16* __restrict__ B16, float beta,
                                                              float* __restrict__ C, int64_t ldc, int64_t m_base) {
  static_assert(STAGES == TC3_STAGES, "kTb3SmemBytes assumes TC3_STAGES");
  extern __shared__ __align__(16) float tc3_smem[];
  __nv_bfloat16* const As = reinterpret_cast<__nv_bfloat16*>(tc3_smem);  // [STAGES][TB3_A_STAGE]
  __nv_bfloat16* const Bs = As + STAGES * TB3_A_STAGE;                    // [STAGES][TB3_B_STAGE]

  const int64_t m0 = m_base + int64_t(blockIdx.y) * TC3_BM;
  const int64_t n0 = int64_t(blockIdx.x) * TC3_BN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int wm = (warp / 4) * TC3_WM, wn = (warp % 4) * TC3_WN;

  float acc[TC3_MI][TC3_NJ][4];
#pragma unroll
  for (int i = 0; i < TC3_MI; ++i)
#pragma unroll
    for (int j = 0; j < TC3_NJ; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.f;

  // Producer: thread copies chunk tid%8 of rows tid/8 + 32i (A: i < 4, B: i < 8);
  // the destination swizzle is the same for all i (32i is a multiple of 8 rows).
  const int lr = int(threadIdx.x) / 8, lc = int(threadIdx.x) % 8;
  const int dst = tb3_off(lr, lc);
  const __nv_bfloat16* srcA = A16 + (m0 + lr) * kp + 8 * lc;
  const __nv_bfloat16* srcB = B16 + (n0 + lr) * kp + 8 * lc;
  auto load_tile = [&](int stage, int64_t kt) {
    const int64_t k0 = kt * TB3_BK;
#pragma unroll
    for (int i = 0; i < TC3_BM / 32; ++i)
      ptx::cp_async_16(As + stage * TB3_A_STAGE + dst + i * 32 * TB3_BK, srcA + int64_t(32 * i) * kp + k0, 16);
#pragma unroll
    for (int i = 0; i < TC3_BN / 32; ++i)
      ptx::cp_async_16(Bs + stage * TB3_B_STAGE + dst + i * 32 * TB3_BK, srcB + int64_t(32 * i) * kp + k0, 16);
  };
  // Fragment bases (as sgemm_tc3's TF32 ldmatrix, with 8 bf16 per chunk).
  const int fa = tb3_off(wm + (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
  const int fb = tb3_off(wn + 8 * (lane >> 4) + (lane & 7), (lane >> 3) & 1);

  const int64_t ktiles = kp / TB3_BK;
#pragma unroll
  for (int st = 0; st < STAGES - 1; ++st) {
    if (st < ktiles) load_tile(st, st);
    ptx::cp_async_commit();
  }
  int stage = 0, wstage = STAGES - 1;
  for (int64_t kt = 0; kt < ktiles; ++kt) {
    ptx::cp_async_wait<STAGES - 2>();
    __syncthreads();
    if (kt + STAGES - 1 < ktiles) load_tile(wstage, kt + STAGES - 1);
    ptx::cp_async_commit();
    const __nv_bfloat16* as = As + stage * TB3_A_STAGE;
    const __nv_bfloat16* bs = Bs + stage * TB3_B_STAGE;
#pragma unroll
    for (int s = 0; s < TB3_BK / 16; ++s) {
      uint32_t af[TC3_MI][4], bq[TC3_NJ][2];
#pragma unroll
      for (int i = 0; i < TC3_MI; ++i) ptx::ldmatrix_x4(af[i], as + ((fa ^ (16 * s)) + 16 * TB3_BK * i));
#pragma unroll
      for (int jj = 0; jj < TC3_NJ / 2; ++jj) {
        uint32_t r[4];
        ptx::ldmatrix_x4(r, bs + ((fb ^ (16 * s)) + 16 * TB3_BK * jj));
        bq[2 * jj][0] = r[0];
        bq[2 * jj][1] = r[1];
        bq[2 * jj + 1][0] = r[2];
        bq[2 * jj + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < TC3_MI; ++i)
#pragma unroll
        for (int j = 0; j < TC3_NJ; ++j) ptx::mma_bf16_16x8x16(acc[i][j], af[i], bq[j]);
    }
    stage = stage == STAGES - 1 ? 0 : stage + 1;
    wstage = wstage == STAGES - 1 ? 0 : wstage + 1;
  }
  ptx::cp_async_wait<0>();
  tc3_epilogue<false, false>(acc, C, ldc, M, N, m0, n0, wm, wn, lane, alpha, beta);
}

}  // namespace gemm_kernels
}  // namespace pcn
