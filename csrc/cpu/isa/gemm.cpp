// gemm.cpp — packed, register-blocked SGEMM (compiled once per ISA; see isa.h).
//
// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, row-major, any strides.
// BLIS-style: K is cut into even slices of at most KC (one slice up to 4/3 KC). Each
// thread owns a block of the grid of MR-row A slivers x NR-column B slivers
// (thread_grid). Split by rows, the usual case: the thread packs its own A slivers
// and the B it needs, and never waits for another thread. Split by columns (few
// rows): A is packed by all threads into a shared, double-buffered buffer, one
// barrier per K slice, and each thread packs its own columns of B. Each thread
// walks MC x NB tiles; the MR x NR microkernel keeps MR*2 vector accumulators in
// registers. Edge tiles use microkernels with fewer rows / one vector and masked C
// access (AVX-512). Layout and measurements: docs/KERNELS.md "GEMM".
// The microkernel is written with GCC vector extensions, so one source gives
// 512-bit (VW=16), 256-bit (VW=8) and 128-bit (VW=4) code.
#include <omp.h>

#include <cstdlib>
#include <cstring>

#include <immintrin.h>

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
// Blocking (PCN_GEMM_* may be overridden with -D for tuning builds).
#ifndef PCN_GEMM_KC
#define PCN_GEMM_KC 384
#endif
#ifndef PCN_GEMM_NB
#define PCN_GEMM_NB 8
#endif
constexpr int64_t KC = PCN_GEMM_KC;      // depth of a slice: an A sliver (MR x KC) stays in L1
constexpr int64_t KC1 = KC * 4 / 3;      // up to this depth, one slice (A sliver 24 KB)
#ifndef PCN_GEMM_MC
#define PCN_GEMM_MC 16
#endif
constexpr int64_t NB = NR * PCN_GEMM_NB; // columns of a tile (its B panel, NB x KC, is reread from L2)
constexpr int64_t MC = MR * PCN_GEMM_MC; // rows of a tile (its A block, MC x KC, stays in L2 across panels)
#ifndef PCN_GEMM_MCH
#define PCN_GEMM_MCH (MC * 32)
#endif
constexpr int64_t MCH = PCN_GEMM_MCH;    // rows of A packed at once (bounds the A buffers)
constexpr int64_t NCH = NB * 16;         // columns of B a thread packs at once (bounds its B buffer)

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));  // unaligned access

namespace {

struct Buf {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      p = nullptr;
      cap = 0;
      const size_t want = n + (n >> 2);
      p = static_cast<float*>(std::aligned_alloc(64, ((want * 4 + 63) / 64) * 64));
      if (!p) throw RuntimeError("sgemm: out of memory for packing buffers");
      cap = want;
    }
    return p;
  }
  ~Buf() { std::free(p); }
};
thread_local Buf tl_a, tl_b;

// Transposing copy: dst[k*W + i] = src[i*ld + k] for i < n, k < kc; zero for n <= i < W.
// Used for op(A) not transposed (rows of A -> MR-wide slivers) and for op(B)
// transposed (rows of B -> NR-wide slivers). Works in blocks of 16 k so the
// W destination rows being written stay in L1, and moves 4x4 blocks with SSE
// transposes (4 row loads + 4 stores instead of 16 scalar moves).
inline void pack_t(const float* src, int64_t ld, int64_t n, int64_t kc, int64_t W, float* dst) {
  const int64_t n4 = n & ~int64_t(3);
  for (int64_t kb = 0; kb < kc; kb += 16) {
    const int64_t ke = kc - kb < 16 ? kc : kb + 16;
    const int64_t ke4 = kb + ((ke - kb) & ~int64_t(3));
    for (int64_t i = 0; i < n4; i += 4) {
      const float* r0 = src + i * ld;
      const float* r1 = r0 + ld;
      const float* r2 = r1 + ld;
      const float* r3 = r2 + ld;
      float* d = dst + i;
      int64_t k = kb;
      for (; k < ke4; k += 4) {
        __m128 x0 = _mm_loadu_ps(r0 + k), x1 = _mm_loadu_ps(r1 + k);
        __m128 x2 = _mm_loadu_ps(r2 + k), x3 = _mm_loadu_ps(r3 + k);
        _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
        _mm_storeu_ps(d + k * W, x0);
        _mm_storeu_ps(d + (k + 1) * W, x1);
        _mm_storeu_ps(d + (k + 2) * W, x2);
        _mm_storeu_ps(d + (k + 3) * W, x3);
      }
      for (; k < ke; ++k) {
        d[k * W] = r0[k]; d[k * W + 1] = r1[k]; d[k * W + 2] = r2[k]; d[k * W + 3] = r3[k];
      }
    }
    for (int64_t i = n4; i < W; ++i) {
      float* d = dst + i;
      if (i < n) {
        const float* r = src + i * ld;
        for (int64_t k = kb; k < ke; ++k) d[k * W] = r[k];
      } else {
        for (int64_t k = kb; k < ke; ++k) d[k * W] = 0.f;
      }
    }
  }
}

// Plain copy: dst[k*W + i] = src[k*ld + i] for i < n, zero for n <= i < W.
inline void pack_n(const float* src, int64_t ld, int64_t n, int64_t kc, int64_t W, float* dst) {
  if (n == W) {
    for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * W, src + k * ld, sizeof(float) * W);
  } else {
    for (int64_t k = 0; k < kc; ++k) {
      int64_t i = 0;
      for (; i < n; ++i) dst[k * W + i] = src[k * ld + i];
      for (; i < W; ++i) dst[k * W + i] = 0.f;
    }
  }
}

// Pack rows [i0, i0+MR) of op(A), depth [p0, p0+kc) -> dst[k*MR + i]; zero rows past M.
inline void pack_a(const GemmParams& g, const float* A, int64_t i0, int64_t p0, int64_t kc, float* dst) {
  const int64_t mr = g.M - i0 < MR ? g.M - i0 : MR;
  if (!g.transA) pack_t(A + i0 * g.lda + p0, g.lda, mr, kc, MR, dst);
  else pack_n(A + p0 * g.lda + i0, g.lda, mr, kc, MR, dst);
}

// Pack columns [j0, j0+NR) of op(B), depth [p0, p0+kc) -> dst[k*NR + j]; zero cols past N.
inline void pack_b(const GemmParams& g, const float* B, int64_t j0, int64_t p0, int64_t kc, float* dst) {
  const int64_t nr = g.N - j0 < NR ? g.N - j0 : NR;
  if (!g.transB) pack_n(B + p0 * g.ldb + j0, g.ldb, nr, kc, NR, dst);
  else pack_t(B + j0 * g.ldb + p0, g.ldb, nr, kc, NR, dst);
}

// acc = Ap(R rows of an MR-wide sliver, kc) * Bp(kc, NV*VW columns of an NR-wide sliver);
// C[0:R, 0:nr] = alpha*acc + beta*C (beta == 0: C is write-only, never read).
// R and NV are compile-time so the edge tiles (M % MR rows, N % NR <= VW columns)
// compute only the rows and vectors they need.
// tile[i*NR + j] = sum_k Ap[k*MR + i] * Bp[k*NR + j] for i < R, j < NV*VW.
// Kept out of line so that its few live values leave all 32 vector registers to
// the R*NV accumulators, B and the broadcast (inlined into the epilogue, GCC ran
// out of registers and reloaded B from the stack for every FMA).
template <int R, int NV>
__attribute__((noinline)) void kloop(int64_t kc, const float* __restrict a, const float* __restrict b,
                                     float* __restrict tile) {
  vf acc0[R], acc1[NV == 2 ? R : 1];
  for (int i = 0; i < R; ++i) acc0[i] = vf{};
  if constexpr (NV == 2)
    for (int i = 0; i < R; ++i) acc1[i] = vf{};
  for (int64_t k = 0; k < kc; ++k) {
    const vf b0 = *reinterpret_cast<const vf*>(b);
    vf b1;
    if constexpr (NV == 2) b1 = *reinterpret_cast<const vf*>(b + VW);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const float ai = a[i];
      acc0[i] += b0 * ai;
      if constexpr (NV == 2) acc1[i] += b1 * ai;
    }
    a += MR;
    b += NR;
  }
  for (int i = 0; i < R; ++i) {
    *reinterpret_cast<vf*>(tile + i * NR) = acc0[i];
    if constexpr (NV == 2) *reinterpret_cast<vf*>(tile + i * NR + VW) = acc1[i];
  }
}

// C[0:R, 0:nr] = alpha * Ap(R rows of an MR-wide sliver, kc) * Bp(kc, NV*VW columns of an
// NR-wide sliver) + beta * C (beta == 0: C is write-only, never read). R and NV are
// compile-time so the edge tiles (M % MR rows, N % NR <= VW columns) compute only the
// rows and vectors they need.
template <int R, int NV>
inline void micro_t(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                    int64_t ldc, float alpha, float beta, int64_t nr) {
  // The C tile is needed only after the k loop: start bringing it in now.
  for (int i = 0; i < R; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + NV * VW - 1, 1);
  }
  alignas(64) float tile[R * NR];
  kloop<R, NV>(kc, a, b, tile);
  if (nr == NV * VW) {
    for (int i = 0; i < R; ++i)
      for (int v = 0; v < NV; ++v) {
        const vf acc = *reinterpret_cast<const vf*>(tile + i * NR + v * VW);
        vfu* cv = reinterpret_cast<vfu*>(c + i * ldc + v * VW);
        if (beta == 0.f) *cv = acc * alpha;
        else *cv = acc * alpha + *cv * beta;
      }
    return;
  }
#if defined(__AVX512F__)
  // Partial width: masked loads/stores touch only the nr valid columns.
  const __mmask16 m0 = nr >= VW ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr > VW ? __mmask16((1u << (nr - VW)) - 1) : __mmask16(0);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(_mm512_load_ps(tile + i * NR), va);
    if (beta != 0.f) r0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, ci), vb, r0);
    _mm512_mask_storeu_ps(ci, m0, r0);
    if constexpr (NV == 2) {
      __m512 r1 = _mm512_mul_ps(_mm512_load_ps(tile + i * NR + VW), va);
      if (beta != 0.f) r1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, ci + VW), vb, r1);
      _mm512_mask_storeu_ps(ci + VW, m1, r1);
    }
  }
#else
  for (int i = 0; i < R; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float* cij = c + i * ldc + j;
      *cij = beta == 0.f ? alpha * tile[i * NR + j] : alpha * tile[i * NR + j] + beta * *cij;
    }
#endif
}

// Pick the instantiation for mr (1..MR) rows and nr (1..NR) columns.
template <int R>
inline void micro_rows(int64_t mr, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                       float alpha, float beta, int64_t nr) {
  if constexpr (R > 1) {
    if (mr < R) return micro_rows<R - 1>(mr, kc, a, b, c, ldc, alpha, beta, nr);
  }
  if (nr > VW) micro_t<R, 2>(kc, a, b, c, ldc, alpha, beta, nr);
  else micro_t<R, 1>(kc, a, b, c, ldc, alpha, beta, nr);
}

inline void micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
                  int64_t mr, int64_t nr) {
  if (mr == MR && nr == NR) micro_t<MR, 2>(kc, a, b, c, ldc, alpha, beta, nr);
  else micro_rows<MR>(mr, kc, a, b, c, ldc, alpha, beta, nr);
}

// Thread grid gm x gn over (A slivers) x (B slivers): the split with the least work
// on the busiest thread. Near-ties (within 3 %) go to splitting the rows: then every thread packs its
// own A (and all of B) and never waits for another; on this shared 2-core machine a
// barrier whose partner thread is not running costs a scheduler slice (ms), far more
// than packing B twice.
inline void thread_grid(int64_t nth, int64_t mslv, int64_t nslv, int64_t* gm, int64_t* gn) {
  int64_t best = -1;
  *gm = 1; *gn = 1;
  for (int64_t a = nth; a >= 1; --a) {
    if (nth % a) continue;
    const int64_t b = nth / a;
    const int64_t cost = ((mslv + a - 1) / a) * ((nslv + b - 1) / b);
    if (best < 0 || cost * 100 < best * 97) { best = cost; *gm = a; *gn = b; }  // 3 %: see above
  }
}

// C rows of A slivers [sa, se) x B slivers [q0, q1), one K slice [p0, p0+kc): sliver s
// is at Ap + (s - sbase)*MR*kcs. B is packed here, by the calling thread, nq slivers at
// a time into Bp. Then MC x NB tiles: an A block stays in L2 while the B panels pass
// by, and each A sliver stays in L1 while it meets the NB / NR B slivers of a panel.
inline void tiles(const GemmParams& g, const float* B, float* C, const float* Ap, int64_t sbase, int64_t sa,
                  int64_t se, int64_t q0, int64_t q1, int64_t nq, float* Bp, int64_t p0, int64_t kc,
                  int64_t kcs, float beta) {
  const int64_t M = g.M, N = g.N;
  for (int64_t qc = q0; qc < q1; qc += nq) {
    const int64_t qce = qc + nq < q1 ? qc + nq : q1;
    for (int64_t t = qc; t < qce; ++t) pack_b(g, B, t * NR, p0, kc, Bp + (t - qc) * NR * kc);
    for (int64_t sb = sa; sb < se; sb += MC / MR) {
      const int64_t sbe = sb + MC / MR < se ? sb + MC / MR : se;
      for (int64_t q = qc; q < qce; q += NB / NR) {
        const int64_t qe = q + NB / NR < qce ? q + NB / NR : qce;
        for (int64_t s = sb; s < sbe; ++s) {
          const int64_t ii = s * MR;
          const int64_t mr = M - ii < MR ? M - ii : MR;
          const float* ap = Ap + (s - sbase) * MR * kcs;
          for (int64_t t = q; t < qe; ++t) {
            const int64_t jj = t * NR;
            const int64_t nr = N - jj < NR ? N - jj : NR;
            micro(kc, ap, Bp + (t - qc) * NR * kc, C + ii * g.ldc + jj, g.ldc, g.alpha, beta, mr, nr);
          }
        }
      }
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
  // Even K slices (K = 1000 -> 3 x 334, not 384 + 384 + 232: a thin last slice pays
  // the C read/write of a whole slice for little work). K <= KC1 is one slice: one
  // pass over C instead of two (2000x2000x500 +3 %, 3136x256x512 +4 % at one thread).
  const int64_t nks = K <= KC1 ? 1 : (K + KC - 1) / KC;
  const int64_t kcs = (K + nks - 1) / nks;
  const int64_t mslv = (M + MR - 1) / MR;  // A slivers
  const int64_t nslv = (N + NR - 1) / NR;  // B slivers
  const double flops = 2.0 * double(M) * double(N) * double(K);
  int64_t nth_req = (!omp_in_parallel() && flops > 2.0e6) ? omp_get_max_threads() : 1;
  if (nth_req > mslv * nslv) nth_req = mslv * nslv;
  const bool par = nth_req > 1;
  // Split by columns, A is shared: allocated here, by the calling thread.
  int64_t gm0, gn0;
  thread_grid(nth_req, mslv, nslv, &gm0, &gn0);
  const int64_t nmc = (mslv * MR + MCH - 1) / MCH;  // M chunks (shared A only)
  const int64_t mch = (mslv + nmc - 1) / nmc;       // A slivers per chunk
  const size_t abuf = size_t(mch) * MR * kcs;
  // Every buffer is taken here, by the calling thread, so that a failed allocation
  // throws here and not inside the parallel region: per thread, its A slivers (at
  // most MCH rows at a time) and its B slivers (at most NCH columns at a time), and
  // the shared, doubled A of a column split.
  int64_t aslv = (mslv + gm0 - 1) / gm0, bslv = (nslv + gn0 - 1) / gn0;
  if (aslv > MCH / MR) aslv = MCH / MR;
  if (bslv > NCH / NR) bslv = NCH / NR;
  const size_t aper = size_t(aslv) * MR * kcs, bper = size_t(bslv) * NR * kcs;
  float* Ap0 = tl_a.get(size_t(nth_req) * aper + (gn0 > 1 ? 2 * abuf : 0));
  float* Bp0 = tl_b.get(size_t(nth_req) * bper);
  float* Ash = gn0 > 1 ? Ap0 + size_t(nth_req) * aper : nullptr;

#pragma omp parallel num_threads(int(nth_req)) if (par)
  {
    const int64_t nth = omp_get_num_threads();
    const int64_t tid = omp_get_thread_num();
    int64_t gm = gm0, gn = gn0;
    if (nth != nth_req) thread_grid(nth, mslv, nslv, &gm, &gn);  // got a smaller team
    const int64_t ti = tid / gn, tj = tid % gn;
    const int64_t q0 = tj * nslv / gn, q1 = (tj + 1) * nslv / gn;  // my B slivers
    const int64_t nq = q1 - q0 < bslv ? q1 - q0 : bslv;
    float* Bp = Bp0 + size_t(tid) * bper;
    if (gn == 1 || Ash == nullptr) {
      // Split by rows (or one thread): my A slivers, packed by me into my own buffer,
      // in chunks of at most MCH rows; no barrier at all.
      const int64_t s0 = ti * mslv / gm, s1 = (ti + 1) * mslv / gm;
      const int64_t nc = s1 > s0 ? (s1 - s0 + aslv - 1) / aslv : 1;
      const int64_t per = (s1 - s0 + nc - 1) / nc;  // <= aslv
      float* Ap = Ap0 + size_t(tid) * aper;
      for (int64_t c = s0; c < s1; c += per) {
        const int64_t ce = c + per < s1 ? c + per : s1;
        for (int64_t p0 = 0; p0 < K; p0 += kcs) {
          const int64_t kc = K - p0 < kcs ? K - p0 : kcs;
          for (int64_t s = c; s < ce; ++s) pack_a(g, A, s * MR, p0, kc, Ap + (s - c) * MR * kcs);
          tiles(g, B, C, Ap, c, c, ce, q0, q1, nq, Bp, p0, kc, kcs, p0 == 0 ? g.beta : 1.f);
        }
      }
    } else {
      // Split by columns: A is packed by all threads together into a shared buffer,
      // one M chunk x one K slice at a time, then one barrier. The buffer is doubled
      // so that a thread may pack the next slice while another still multiplies out
      // of this one; each sliver sits at a fixed kcs stride whatever the slice's kc.
      int64_t step = 0;
      for (int64_t c = 0; c < mslv; c += mch) {
        const int64_t ce = c + mch < mslv ? c + mch : mslv;
        const int64_t n = ce - c;
        const int64_t sa = c + ti * n / gm, se = c + (ti + 1) * n / gm;  // my rows of it
        for (int64_t p0 = 0; p0 < K; p0 += kcs, ++step) {
          const int64_t kc = K - p0 < kcs ? K - p0 : kcs;
          float* Ap = Ash + ((step & 1) ? abuf : 0);
          const int64_t a0 = c + tid * n / nth, a1 = c + (tid + 1) * n / nth;
          for (int64_t s = a0; s < a1; ++s) pack_a(g, A, s * MR, p0, kc, Ap + (s - c) * MR * kcs);
#pragma omp barrier
          tiles(g, B, C, Ap, c, sa, se, q0, q1, nq, Bp, p0, kc, kcs, p0 == 0 ? g.beta : 1.f);
        }
      }
    }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
