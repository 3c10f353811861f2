// gemm.h — CPU SGEMM used by every kernel that is built on matrix products
// (dense, conv as im2col/implicit GEMM, RNN projections).
#pragma once
#include "../common.h"
#include "isa/gemm_isa.h"

namespace pcn {
namespace cpu {

// C(M,N) = alpha * op(A) * op(B) + beta * C, row-major (see GemmParams).
inline void sgemm(const GemmParams& p, const float* A, const float* B, float* C) {
  PCN_ISA_CALL(sgemm, p, A, B, C);
}

// Convenience: contiguous operands, lda/ldb/ldc implied by the shapes.
inline void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  const float* B, float beta, float* C) {
  GemmParams p;
  p.transA = ta; p.transB = tb; p.M = M; p.N = N; p.K = K; p.alpha = alpha; p.beta = beta;
  p.lda = ta ? M : K; p.ldb = tb ? K : N; p.ldc = N;
  sgemm(p, A, B, C);
}

}  // namespace cpu
}  // namespace pcn
