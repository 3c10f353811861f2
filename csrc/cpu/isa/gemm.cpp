// gemm.cpp — packed, register-blocked SGEMM (compiled once per ISA; see isa.h).
//
// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, row-major, any strides.
// BLIS-style: K is cut into KC slices; for each slice all of op(A) is packed
// into MR-row slivers and a NC-wide block of op(B) into NR-column slivers;
// a (MC x NB) grid of tiles is shared among OpenMP threads; each tile runs the
// MR x NR microkernel (MR*2 vector accumulators held in registers).
// The microkernel is written with GCC vector extensions, so one source gives
// 512-bit (VW=16), 256-bit (VW=8) and 128-bit (VW=4) code.
#include <omp.h>

#include <cstdlib>
#include <cstring>

#include "../../common.h"
#include "../../isa.h"
#include "gemm_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

#if defined(__AVX512F__)
constexpr int VW = 16, MR = 12;
#elif defined(__AVX2__)
constexpr int VW = 8, MR = 6;
#else
constexpr int VW = 4, MR = 4;
#endif
constexpr int NR = 2 * VW;
constexpr int64_t KC = 384;              // depth of a slice (A and B slivers stay in L1/L2)
constexpr int64_t MC = MR * 16;          // rows per tile
constexpr int64_t NB = NR * 8;           // columns per tile
constexpr int64_t NC = NB * 16;          // columns of B packed at once

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));  // unaligned access

namespace {

struct Buf {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      cap = n + (n >> 2);
      p = static_cast<float*>(std::aligned_alloc(64, ((cap * 4 + 63) / 64) * 64));
      if (!p) throw RuntimeError("sgemm: out of memory for packing buffers");
    }
    return p;
  }
  ~Buf() { std::free(p); }
};
thread_local Buf tl_a, tl_b;

// Pack rows [i0, i0+MR) of op(A), depth [p0, p0+kc) -> dst[k*MR + i]; zero rows past M.
inline void pack_a(const GemmParams& g, const float* A, int64_t i0, int64_t p0, int64_t kc, float* dst) {
  const int64_t mr = g.M - i0 < MR ? g.M - i0 : MR;
  if (!g.transA) {
    for (int64_t i = 0; i < MR; ++i) {
      if (i < mr) {
        const float* src = A + (i0 + i) * g.lda + p0;
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = src[k];
      } else {
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = 0.f;
      }
    }
  } else {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A + (p0 + k) * g.lda + i0;
      float* d = dst + k * MR;
      int64_t i = 0;
      for (; i < mr; ++i) d[i] = src[i];
      for (; i < MR; ++i) d[i] = 0.f;
    }
  }
}

// Pack columns [j0, j0+NR) of op(B), depth [p0, p0+kc) -> dst[k*NR + j]; zero cols past N.
inline void pack_b(const GemmParams& g, const float* B, int64_t j0, int64_t p0, int64_t kc, float* dst) {
  const int64_t nr = g.N - j0 < NR ? g.N - j0 : NR;
  if (!g.transB) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B + (p0 + k) * g.ldb + j0;
      float* d = dst + k * NR;
      if (nr == NR) {
        std::memcpy(d, src, sizeof(float) * NR);
      } else {
        int64_t j = 0;
        for (; j < nr; ++j) d[j] = src[j];
        for (; j < NR; ++j) d[j] = 0.f;
      }
    }
  } else {
    // Transposed B: column j of op(B) is row j0+j of B (contiguous over k).
    // Transpose in blocks of 16 k so the reads (nr rows) and the writes
    // (16 packed rows of NR floats) both stay within a few KB of L1.
    for (int64_t kb = 0; kb < kc; kb += 16) {
      const int64_t kn = kc - kb < 16 ? kc - kb : 16;
      for (int64_t j = 0; j < NR; ++j) {
        float* d = dst + kb * NR + j;
        if (j < nr) {
          const float* src = B + (j0 + j) * g.ldb + p0 + kb;
          for (int64_t t = 0; t < kn; ++t) d[t * NR] = src[t];
        } else {
          for (int64_t t = 0; t < kn; ++t) d[t * NR] = 0.f;
        }
      }
    }
  }
}

// acc = Ap(MR,kc) * Bp(kc,NR); C[0:mr, 0:nr] = alpha*acc + beta*C (beta==0: C write-only).
inline void micro(int64_t kc, const float* __restrict a, const float* __restrict b,
                  float* __restrict c, int64_t ldc, float alpha, float beta, int64_t mr, int64_t nr) {
  vf acc0[MR], acc1[MR];
  for (int i = 0; i < MR; ++i) { acc0[i] = vf{}; acc1[i] = vf{}; }
  for (int64_t k = 0; k < kc; ++k) {
    const vf b0 = *reinterpret_cast<const vf*>(b);
    const vf b1 = *reinterpret_cast<const vf*>(b + VW);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const float ai = a[i];
      acc0[i] += b0 * ai;
      acc1[i] += b1 * ai;
    }
    a += MR;
    b += NR;
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; ++i) {
      vfu* c0 = reinterpret_cast<vfu*>(c + i * ldc);
      vfu* c1 = reinterpret_cast<vfu*>(c + i * ldc + VW);
      if (beta == 0.f) {
        *c0 = acc0[i] * alpha;
        *c1 = acc1[i] * alpha;
      } else {
        *c0 = acc0[i] * alpha + *c0 * beta;
        *c1 = acc1[i] * alpha + *c1 * beta;
      }
    }
  } else {
    alignas(64) float tile[MR * NR];
    for (int i = 0; i < MR; ++i) {
      *reinterpret_cast<vf*>(tile + i * NR) = acc0[i];
      *reinterpret_cast<vf*>(tile + i * NR + VW) = acc1[i];
    }
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < nr; ++j) {
        float* cij = c + i * ldc + j;
        *cij = beta == 0.f ? alpha * tile[i * NR + j] : alpha * tile[i * NR + j] + beta * *cij;
      }
  }
}

}  // namespace

void sgemm(const GemmParams& g, const float* A, const float* B, float* C) {
  const int64_t M = g.M, N = g.N, K = g.K;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || g.alpha == 0.f) {  // C = beta*C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float* c = C + i * g.ldc + j;
        *c = g.beta == 0.f ? 0.f : g.beta * *c;
      }
    return;
  }
  const int64_t mslv = (M + MR - 1) / MR;  // A slivers
  const int64_t kc_max = K < KC ? K : KC;
  const int64_t nc_max = N < NC ? N : NC;
  float* Ap = tl_a.get(size_t(mslv) * MR * kc_max);
  float* Bp = tl_b.get(size_t((nc_max + NR - 1) / NR) * NR * kc_max);
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const bool par = !omp_in_parallel() && omp_get_max_threads() > 1 && flops > 2.0e6;

#pragma omp parallel if (par)
  {
    const int64_t nth = omp_get_num_threads();
    for (int64_t p0 = 0; p0 < K; p0 += KC) {
      const int64_t kc = K - p0 < KC ? K - p0 : KC;
      const float beta = p0 == 0 ? g.beta : 1.f;
#pragma omp for schedule(static)
      for (int64_t s = 0; s < mslv; ++s) pack_a(g, A, s * MR, p0, kc, Ap + s * MR * kc);
      for (int64_t j0 = 0; j0 < N; j0 += NC) {
        const int64_t nc = N - j0 < NC ? N - j0 : NC;
        const int64_t nslv = (nc + NR - 1) / NR;
#pragma omp for schedule(static)
        for (int64_t s = 0; s < nslv; ++s) pack_b(g, B, j0 + s * NR, p0, kc, Bp + s * NR * kc);
        // Balanced tiles: split M and N into near-equal multiples of MR / NR, and
        // into at least as many tiles as threads (a 192+64 split of M = 256 left
        // one of two threads idle for half the call).
        int64_t ti = (M + MC - 1) / MC, tj = (nc + NB - 1) / NB;
        if (ti * tj < nth) tj = (nth + ti - 1) / ti;
        int64_t mc = ((M + ti - 1) / ti + MR - 1) / MR * MR;
        int64_t nb = ((nc + tj - 1) / tj + NR - 1) / NR * NR;
        ti = (M + mc - 1) / mc;
        tj = (nc + nb - 1) / nb;
#pragma omp for collapse(2) schedule(static)
        for (int64_t bi = 0; bi < ti; ++bi)
          for (int64_t bj = 0; bj < tj; ++bj) {
            const int64_t jend = (bj + 1) * nb < nc ? (bj + 1) * nb : nc;
            const int64_t iend = (bi + 1) * mc < M ? (bi + 1) * mc : M;
            for (int64_t jj = bj * nb; jj < jend; jj += NR) {
              const float* bp = Bp + (jj / NR) * NR * kc;
              const int64_t nr = jend - jj < NR ? jend - jj : NR;
              for (int64_t ii = bi * mc; ii < iend; ii += MR) {
                const int64_t mr = iend - ii < MR ? iend - ii : MR;
                micro(kc, Ap + (ii / MR) * MR * kc, bp, C + ii * g.ldc + j0 + jj, g.ldc, g.alpha, beta,
                      mr, nr);
              }
            }
          }
      }
    }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
