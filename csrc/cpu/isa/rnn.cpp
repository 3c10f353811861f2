// isa/rnn.cpp — packed small-M matrix product for the recurrent step (see
// rnn_isa.h). Compiled once per ISA; plain loops with fixed trip counts that
// the compiler turns into register-blocked FMAs (MB rows x 32 columns).
#include <omp.h>

#include "rnn_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

namespace {
constexpr int64_t NB = kRnnPanel;
#if defined(__AVX512F__)
constexpr int64_t MB = 8;  // 8 x 32 accumulators = 16 zmm
#elif defined(__AVX2__)
constexpr int64_t MB = 3;  // 3 x 32 = 12 ymm
#else
constexpr int64_t MB = 2;
#endif

// rows [i0, i0+MBr) x panel jb; full panel of NB columns computed, ncols stored.
template <int64_t MBr>
inline void block(int64_t K, const float* A, int64_t lda, const float* bp, bool acc_c, float* C, int64_t ldc,
                  int64_t ncols) {
  float acc[MBr][NB];
  for (int64_t r = 0; r < MBr; ++r)
    for (int64_t j = 0; j < NB; ++j) acc[r][j] = 0.f;
  for (int64_t k = 0; k < K; ++k) {
    const float* b = bp + k * NB;
    for (int64_t r = 0; r < MBr; ++r) {
      const float a = A[r * lda + k];
      for (int64_t j = 0; j < NB; ++j) acc[r][j] += a * b[j];
    }
  }
  for (int64_t r = 0; r < MBr; ++r) {
    float* c = C + r * ldc;
    if (acc_c)
      for (int64_t j = 0; j < ncols; ++j) c[j] += acc[r][j];
    else
      for (int64_t j = 0; j < ncols; ++j) c[j] = acc[r][j];
  }
}
}  // namespace

void rnn_pack_b(const float* B, int64_t ldb, bool trans, int64_t K, int64_t Nc, float* Bp) {
  const int64_t np = (Nc + NB - 1) / NB;
#pragma omp parallel for schedule(static) if (K * Nc >= (1 << 16) && !omp_in_parallel())
  for (int64_t jb = 0; jb < np; ++jb) {
    float* dst = Bp + jb * K * NB;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t jj = 0; jj < NB; ++jj) {
        const int64_t j = jb * NB + jj;
        dst[k * NB + jj] = j < Nc ? (trans ? B[j * ldb + k] : B[k * ldb + j]) : 0.f;
      }
  }
}

void rnn_gemm_packed(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* Bp,
                     bool accumulate, float* C, int64_t ldc) {
  if (M <= 0 || Nc <= 0) return;
  const int64_t np = (Nc + NB - 1) / NB, nm = (M + MB - 1) / MB;
  const bool par = !omp_in_parallel() && omp_get_max_threads() > 1 && M * Nc * K >= (1 << 17);
#pragma omp parallel for schedule(static) collapse(2) if (par)
  for (int64_t jb = 0; jb < np; ++jb)
    for (int64_t ib = 0; ib < nm; ++ib) {
      const int64_t i0 = ib * MB, j0 = jb * NB;
      const int64_t ncols = Nc - j0 < NB ? Nc - j0 : NB;
      const float* bp = Bp + jb * K * NB;
      const float* a = A + i0 * lda;
      float* c = C + i0 * ldc + j0;
      const int64_t rows = M - i0 < MB ? M - i0 : MB;
      if (rows == MB) {
        block<MB>(K, a, lda, bp, accumulate, c, ldc, ncols);
      } else {
        for (int64_t r = 0; r < rows; ++r) block<1>(K, a + r * lda, lda, bp, accumulate, c + r * ldc, ldc, ncols);
      }
    }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
